"""Reading the read model (claim lists) and bringing it up to date from Temporal and the archive (reindex)."""

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, func, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from claimflow.claims import ClaimError
from claimflow.projection import apply_snapshot, record_notification
from models.claim import ClaimView, Notification, escalation_notification_key, escalation_subject, snapshot_of
from models.read_model import ClaimArchiveRow, ClaimRow
from workflows.names import claim_types_query


@dataclass(frozen=True)
class ClaimFilter:
    state: str | None = None
    policy: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None


def _filtered(query, where: ClaimFilter):
    if where.state is not None:
        query = query.where(ClaimRow.state == where.state)
    if where.policy is not None:
        query = query.where(ClaimRow.policy == where.policy)
    if where.overdue is not None:
        query = query.where(ClaimRow.overdue == where.overdue)
    if where.escalated is not None:
        escalated = ClaimRow.escalation_level.is_not(None)
        query = query.where(escalated if where.escalated else ClaimRow.escalation_level.is_(None))
    return query


def count_claims(engine: Engine, where: ClaimFilter = ClaimFilter()) -> int:
    """How many claims match `where`."""
    with Session(engine) as session:
        return session.exec(_filtered(select(func.count()).select_from(ClaimRow), where)).one()


def list_claims(engine: Engine, where: ClaimFilter = ClaimFilter(), limit: int = 500) -> list[ClaimRow]:
    """Claims matching `where`, the next deadline first (claims without one last)."""
    query = _filtered(select(ClaimRow), where)
    query = query.order_by(ClaimRow.next_deadline_at.is_(None), ClaimRow.next_deadline_at, ClaimRow.claim_number,
                           ClaimRow.opened_at)
    with Session(engine) as session:
        return list(session.exec(query.limit(limit)))


@dataclass
class ReindexReport:
    claims: int = 0  # rows written from Temporal
    from_archive: int = 0  # rows written from the archive (workflows Temporal no longer has, or that did not answer)
    unreadable: list[str] = field(default_factory=list)


class BadQuery(ClaimError):
    """A visibility query Temporal refuses."""


async def check_listing(client: Client, listing: str, where: str | None) -> None:
    try:
        await client.count_workflows(listing)
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise BadQuery(f"--where {where!r} is not a visibility query Temporal accepts: {err.message}") from None
        raise


def _archived_views(engine: Engine) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(workflow id, run id) -> (first run id, final view JSON) of every archived claim."""
    columns = (ClaimArchiveRow.workflow_id, ClaimArchiveRow.run_id, ClaimArchiveRow.first_run_id,
               ClaimArchiveRow.final_view_json)  # fmt: skip
    with Session(engine) as session:
        return {(w, r): (first or r, view) for w, r, first, view in session.execute(sa_select(*columns))}


def _write(engine: Engine, view: ClaimView, key: str) -> None:
    with Session(engine) as session, session.begin():
        apply_snapshot(session, snapshot_of(view).model_copy(update={"run_id": key}))
        for notification in notifications_of(view):
            record_notification(session, notification)


async def reindex(
    client: Client, engine: Engine, where: str | None = None, query_timeout: timedelta = timedelta(seconds=10)
) -> ReindexReport:
    """Bring the read model up to date from Temporal and the archive, without emptying it.

    Lists every claim workflow (optionally only those matching the visibility query
    `where`, checked before anything is written), queries its view and upserts its rows
    (keyed by the workflow's first run id). A claim that does not answer in time is taken
    from the archive when its run is archived there, else reported. Without `where`, every
    archived claim Temporal no longer has is upserted from its archived final view too.
    No row is ever deleted: what cannot be read keeps the rows it had. Queries need a worker."""
    report = ReindexReport()
    listing = claim_types_query() + (f" AND ({where})" if where else "")
    await check_listing(client, listing, where)
    archived = await asyncio.to_thread(_archived_views, engine)
    seen: set[tuple[str, str]] = set()
    async for execution in client.list_workflows(listing):
        seen.add((execution.id, execution.run_id))
        key = execution.raw_info.first_run_id or execution.run_id
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            view = await handle.query("view", result_type=ClaimView, rpc_timeout=query_timeout)
        except (RPCError, WorkflowQueryFailedError):  # no worker, or failed before it opened
            first, view_json = archived.get((execution.id, execution.run_id), (key, None))
            if view_json is None:
                report.unreadable.append(execution.id)
            else:
                await asyncio.to_thread(_write, engine, ClaimView.model_validate_json(view_json), first)
                report.from_archive += 1
            continue
        await asyncio.to_thread(_write, engine, view, key)
        report.claims += 1
    if where is None:
        for (workflow_id, run_id), (first, view_json) in sorted(archived.items()):
            if (workflow_id, run_id) in seen:
                continue
            if view_json is None:
                report.unreadable.append(f"{workflow_id} (archived without its view)")
                continue
            await asyncio.to_thread(_write, engine, ClaimView.model_validate_json(view_json), first)
            report.from_archive += 1
    return report


def notifications_of(view: ClaimView) -> list[Notification]:
    """The notifications the claim's escalations sent (bodies are not kept)."""
    due = {(d.kind, d.cycle): d.due_at for d in view.deadlines}
    return [
        Notification(
            key=escalation_notification_key(view.claim_number, e),
            claim_number=view.claim_number,
            role=e.notify,
            level=e.level,
            subject=escalation_subject(view.claim_number, e, due[(e.deadline, e.cycle)]),
            body="",
            at=e.at,
        )
        for e in view.escalations
    ]
