"""Reading the read model (claim lists) and rebuilding it from Temporal alone (reindex)."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError

from claimflow.projection import apply_snapshot, record_notification
from models.claim import ClaimView, Notification, escalation_notification_key, escalation_subject, snapshot_of
from models.read_model import ClaimEventRow, ClaimRow, EscalationRow, NotificationRow
from workflows.claim import ClaimWorkflow
from workflows.names import claim_types_query


@dataclass(frozen=True)
class ClaimFilter:
    state: str | None = None
    policy: str | None = None
    overdue: bool | None = None
    escalated: bool | None = None


def list_claims(engine: Engine, where: ClaimFilter = ClaimFilter(), limit: int = 500) -> list[ClaimRow]:
    """Claims matching `where`, the next deadline first (claims without one last)."""
    query = select(ClaimRow)
    if where.state is not None:
        query = query.where(ClaimRow.state == where.state)
    if where.policy is not None:
        query = query.where(ClaimRow.policy == where.policy)
    if where.overdue is not None:
        query = query.where(ClaimRow.overdue == where.overdue)
    if where.escalated is not None:
        escalated = ClaimRow.escalation_level.is_not(None)
        query = query.where(escalated if where.escalated else ClaimRow.escalation_level.is_(None))
    query = query.order_by(ClaimRow.next_deadline_at.is_(None), ClaimRow.next_deadline_at, ClaimRow.claim_number,
                           ClaimRow.opened_at)
    with Session(engine) as session:
        return list(session.exec(query.limit(limit)))


def wipe(engine: Engine) -> None:
    """Empty every read-model table (the projection is disposable)."""
    with Session(engine) as session, session.begin():
        for table in (NotificationRow, EscalationRow, ClaimEventRow, ClaimRow):
            session.exec(delete(table))


@dataclass
class ReindexReport:
    claims: int = 0
    unreadable: list[str] | None = None


async def reindex(
    client: Client, engine: Engine, where: str | None = None, query_timeout: timedelta = timedelta(seconds=10)
) -> ReindexReport:
    """Rebuild the read model from Temporal: list every claim workflow (optionally only
    those matching the visibility query `where`), query its view, write its rows. Queries
    need a worker running; a claim that does not answer in time is reported, not waited for."""
    report = ReindexReport(unreadable=[])
    listing = claim_types_query() + (f" AND ({where})" if where else "")
    async for execution in client.list_workflows(listing):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            view = await handle.query(ClaimWorkflow.view, rpc_timeout=query_timeout)
        except (RPCError, WorkflowQueryFailedError):  # no worker, or failed before it opened
            report.unreadable.append(execution.id)
            continue
        with Session(engine) as session, session.begin():
            apply_snapshot(session, snapshot_of(view))
            for notification in notifications_of(view):
                record_notification(session, notification)
        report.claims += 1
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
