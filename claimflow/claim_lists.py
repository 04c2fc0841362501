"""Reading the read model (claim lists) and bringing it up to date from Temporal and the archive (reindex)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, or_, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable
from sqlmodel import Session, func, select

from claimflow.errors import ClaimError
from models.read_model import ClaimArchiveRow, ClaimRow

# temporalio, the claim model and the projection are imported in the functions of reindex:
# `claims list` and the web UI's lists only read rows.
if TYPE_CHECKING:
    from temporalio.client import Client

    from models.claim import ClaimView, Notification

PAGE_SIZE = 50


@dataclass(frozen=True)
class ClaimFilter:
    """Which claims a list shows; None: any."""

    state: str | None = None
    policy: str | None = None
    channel: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None
    assignee: str | None = None
    opened_from: datetime | None = None  # opened at or after
    opened_before: datetime | None = None  # opened before
    search: str | None = None  # a claim, serial or RMA number, as typed (or in capitals)


def _filtered(query, where: ClaimFilter):
    for column, value in ((ClaimRow.state, where.state), (ClaimRow.policy, where.policy),
                          (ClaimRow.channel, where.channel), (ClaimRow.overdue, where.overdue),
                          (ClaimRow.escalated, where.escalated), (ClaimRow.assignee, where.assignee)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if where.opened_from is not None:
        query = query.where(ClaimRow.opened_at >= where.opened_from)
    if where.opened_before is not None:
        query = query.where(ClaimRow.opened_at < where.opened_before)
    if where.search:
        typed = sorted({where.search, where.search.upper()})
        query = query.where(
            or_(ClaimRow.claim_number.in_(typed), ClaimRow.serial_number.in_(typed), ClaimRow.rma_number.in_(typed))
        )
    return query


@dataclass(frozen=True)
class PageKey:
    """The sort key of a list's row: a page starts after the previous page's last one
    (keyset pagination: no OFFSET, so a deep page costs what the first does)."""

    deadline_sort: datetime
    claim_key: str

    @classmethod
    def of(cls, row: ClaimRow) -> "PageKey":
        return cls(row.deadline_sort, row.claim_key)

    def token(self) -> str:
        """The key as text, for a "next page" link."""
        return f"{self.deadline_sort.astimezone(UTC).isoformat()}|{self.claim_key}"

    @classmethod
    def parse(cls, token: str) -> "PageKey":
        """The key of `token()`; ValueError when `token` is not one."""
        moment, bar, key = token.partition("|")
        at = datetime.fromisoformat(moment)
        if not bar or not key or at.tzinfo is None:
            raise ValueError(f"not a page key: {token!r}")
        return cls(at, key)


@dataclass
class ClaimPage:
    rows: list[ClaimRow]
    next: PageKey | None  # where the next page starts (None: this is the last)


def page_query(where: ClaimFilter, after: PageKey | None = None, size: int = PAGE_SIZE):
    """A page of the list (one row more than `size`, to know whether another follows)."""
    query = _filtered(select(ClaimRow), where)
    if after is not None:
        query = query.where(tuple_(ClaimRow.deadline_sort, ClaimRow.claim_key) > (after.deadline_sort, after.claim_key))
    return query.order_by(ClaimRow.deadline_sort, ClaimRow.claim_key).limit(size + 1)


def claims_page(engine: Engine, where: ClaimFilter = ClaimFilter(), after: PageKey | None = None,
                size: int = PAGE_SIZE) -> ClaimPage:  # fmt: skip
    """Claims matching `where` after `after`, the deadline soonest (or longest passed) first,
    claims without one last; ties in claim key order."""
    with Session(engine) as session:
        return _page(session, where, after, size)


def _page(session: Session, where: ClaimFilter, after: PageKey | None, size: int) -> ClaimPage:
    rows = list(session.exec(page_query(where, after, size)))
    return ClaimPage(rows[:size], PageKey.of(rows[size - 1]) if len(rows) > size else None)


def list_view(engine: Engine, where: ClaimFilter, after: PageKey | None = None) -> tuple[ClaimPage, dict[str, int]]:
    """What the web list shows: a page and the counts per state, read in one transaction."""
    with Session(engine) as session:
        return _page(session, where, after, PAGE_SIZE), dict(session.execute(counts_query(where)).all())


def counts_query(where: ClaimFilter):
    """Claims per state under `where`, whatever its state, read from an index alone: the
    state index without filters, else the index of a filter (each ends in `state`: see
    LIST_INDEXES). Under a filter, claims are grouped by an expression equal to their state
    (it is never null): grouped by the column itself, SQLite's planner walks the state
    index in state order and looks up every claim's row for the filter instead, 30 times
    slower at 100 000 claims."""
    where = replace(where, state=None)
    state = ClaimRow.state if where == ClaimFilter() else func.coalesce(ClaimRow.state, "")
    return _filtered(sa_select(state, func.count()).select_from(ClaimRow), where).group_by(state)


def state_counts(engine: Engine, where: ClaimFilter = ClaimFilter()) -> dict[str, int]:
    """How many claims match `where` in each state (its own state filter left out)."""
    with Session(engine) as session:
        return dict(session.execute(counts_query(where)).all())


def count_claims(engine: Engine, where: ClaimFilter = ClaimFilter()) -> int:
    """How many claims match `where`."""
    with Session(engine) as session:
        return session.exec(_filtered(select(func.count()).select_from(ClaimRow), where)).one()


def list_claims(engine: Engine, where: ClaimFilter = ClaimFilter(), limit: int = 500) -> list[ClaimRow]:
    """Claims matching `where`, as `claims list` shows them: the deadline soonest first
    (claims without one last), then by number and opening (read in deadline order from an
    index; only claims with the same deadline are sorted)."""
    query = _filtered(select(ClaimRow), where)
    query = query.order_by(ClaimRow.deadline_sort, ClaimRow.claim_number, ClaimRow.opened_at, ClaimRow.claim_key)
    with Session(engine) as session:
        return list(session.exec(query.limit(limit)))


class _Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, query):
        self.query = query


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler, **kw) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.query, **kw)


def query_plan(engine: Engine, query, settings: dict[str, str] | None = None) -> list[str]:
    """How the database would run `query` (SQLite: EXPLAIN QUERY PLAN's details;
    PostgreSQL: EXPLAIN's lines, with `settings` such as enable_sort=off set first)."""
    with engine.connect() as connection:
        for name, value in (settings or {}).items():
            connection.exec_driver_sql(f"SET LOCAL {name} = {value}")
        rows = connection.execute(_Explain(query)).all()
    return [row[-1] for row in rows]


def plan_sorts(plan: list[str]) -> bool:
    """Whether a plan of `query_plan` sorts rows after reading them (no index gave their order)."""
    return any("TEMP B-TREE FOR ORDER BY" in line or line.lstrip(" ->").startswith(("Sort ", "Incremental Sort "))
               for line in plan)  # fmt: skip


@dataclass
class ReindexReport:
    claims: int = 0  # rows written from Temporal
    from_archive: int = 0  # rows written from the archive (workflows Temporal no longer has, or that did not answer)
    unreadable: list[str] = field(default_factory=list)


class BadQuery(ClaimError):
    """A visibility query Temporal refuses."""


async def check_listing(client: Client, listing: str, where: str | None) -> None:
    from temporalio.service import RPCError, RPCStatusCode

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
    last_runs = sa_select(*columns).where(ClaimArchiveRow.close_status != "continued_as_new")
    with Session(engine) as session:
        return {(w, r): (first or r, view) for w, r, first, view in session.execute(last_runs)}


def _write(engine: Engine, view: ClaimView, key: str) -> None:
    from claimflow.projection import apply_snapshot, record_notification
    from models.claim import snapshot_of

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
    from temporalio.client import WorkflowQueryFailedError
    from temporalio.service import RPCError

    from models.claim import ClaimView
    from workflows.names import claim_types_query

    report = ReindexReport()
    # a run that continued as new is not the claim: its last run is (and has its whole state)
    listing = f'{claim_types_query()} AND ExecutionStatus != "ContinuedAsNew"' + (f" AND ({where})" if where else "")
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
    from models.claim import Notification, escalation_notification_key, escalation_subject

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


def claim_number_taken(engine: Engine, number: str) -> str | None:
    """Where `number` is held already ("in the archive", "in the read model"), or None."""
    with Session(engine) as session:
        if session.exec(select(ClaimArchiveRow.run_id).where(ClaimArchiveRow.claim_number == number)).first():
            return "in the archive of closed claims"
        if session.exec(select(ClaimRow.claim_key).where(ClaimRow.claim_number == number)).first():
            return "in the read model"
    return None
