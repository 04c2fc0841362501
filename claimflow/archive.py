"""The archive of closed claims: each closed claim workflow's full history (JSON, as
`WorkflowHistory.to_json()` gives it, with its sha256) and its final view, kept in the
`claim_archive` table of the read-model database so it outlives Temporal's retention.

One archiving pass (`archive_closed_claims`) lists the closed claims through visibility
(`claim_types_query() AND ExecutionStatus != "Running"`, only those closed since the
previous complete pass, less a margin for visibility's lag), skips those archived already,
and stores the others keyed by (workflow id, run id), so passes that overlap or run twice
store each run once. The final view is the result of a completed workflow; for a failed,
cancelled, terminated or timed-out one it is the `view` query (a replay by a worker), or
null when that fails. The pass is run by the ArchiverWorkflow, started by a Temporal
Schedule every CLAIMFLOW_ARCHIVE_EVERY_MINUTES (`ensure_archive_schedule`), and by
`claims archive`.
"""

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, select
from sqlmodel import Session
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    WorkflowExecution,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError

from claimflow.claims import closed_outside
from claimflow.projection import insert_ignoring_existing, mark_closed_outside
from claimflow.settings import TASK_QUEUE
from models.claim import ClaimView
from models.read_model import ArchiveProgressRow, ClaimArchiveRow
from workflows.archiver import ARCHIVE_SCHEDULE_ID, ArchiverWorkflow
from workflows.names import claim_types_query

ARCHIVE = ClaimArchiveRow.__table__
VISIBILITY_LAG = timedelta(minutes=15)  # a pass also looks this far back before the previous one


@dataclass
class ArchiveReport:
    archived: int = 0
    already: int = 0  # closed claims found archived already
    failed: list[str] = field(default_factory=list)  # workflow ids whose history could not be read
    no_view: list[str] = field(default_factory=list)  # archived without a final view (no worker answered)


def closed_claims_query(since: datetime | None = None, where: str | None = None) -> str:
    query = f'{claim_types_query()} AND ExecutionStatus != "Running"'
    if since is not None:
        query += f' AND CloseTime > "{since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}"'
    return query + (f" AND ({where})" if where else "")


def _listed_until(engine: Engine) -> datetime | None:
    with Session(engine) as session:
        row = session.get(ArchiveProgressRow, 1)
        return row.listed_until if row else None


def _set_listed_until(engine: Engine, moment: datetime) -> None:
    with Session(engine) as session, session.begin():
        row = session.get(ArchiveProgressRow, 1)
        if row is None:
            session.add(ArchiveProgressRow(id=1, listed_until=moment))
        elif row.listed_until < moment:
            row.listed_until = moment


def _archived(engine: Engine, workflow_id: str, run_id: str) -> bool:
    with Session(engine) as session:
        return session.get(ClaimArchiveRow, (workflow_id, run_id)) is not None


def _store(engine: Engine, values: dict) -> bool:
    with Session(engine) as session, session.begin():
        insert = insert_ignoring_existing(session, ARCHIVE).values(**values)
        return session.execute(insert.returning(ARCHIVE.c.run_id)).first() is not None


async def final_view_json(client: Client, execution: WorkflowExecution, history, query_timeout: timedelta) -> str | None:
    """The final view: a completed workflow's result as it returned it, else the `view` query."""
    last = history.events[-1]
    if last.HasField("workflow_execution_completed_event_attributes"):
        payloads = last.workflow_execution_completed_event_attributes.result.payloads
        if payloads:
            try:
                [view] = await client.data_converter.decode(payloads[:1], [ClaimView])
            except Exception:  # a view of an older shape: keep it as the workflow returned it
                return payloads[0].data.decode("utf-8", errors="replace")
            return view.model_dump_json()
    handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
    try:
        view = await handle.query("view", result_type=ClaimView, rpc_timeout=query_timeout)
    except (RPCError, WorkflowQueryFailedError, asyncio.TimeoutError):
        return None
    return view.model_dump_json()


async def archive_one(client: Client, execution: WorkflowExecution, query_timeout: timedelta) -> dict:
    """The archive row of one closed execution (raises RPCError when its history cannot be
    read), and under `closed_outside` how it was ended outside claimflow, if it was."""
    history = await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()
    history_json = history.to_json()
    started = history.events[0].workflow_execution_started_event_attributes
    return {
        "workflow_id": execution.id,
        "run_id": execution.run_id,
        "first_run_id": started.first_execution_run_id or execution.run_id,
        "claim_number": execution.id,  # workflow id = claim number
        "workflow_type": execution.workflow_type,
        "close_status": execution.status.name.lower() if execution.status else "unknown",
        "close_time": execution.close_time or history.events[-1].event_time.ToDatetime(timezone.utc),
        "history_sha256": hashlib.sha256(history_json.encode("utf-8")).hexdigest(),
        "history_json": history_json,
        "final_view_json": await final_view_json(client, execution, history, query_timeout),
        "archived_at": datetime.now(timezone.utc),
        "closed_outside": closed_outside(history),
    }


def _mark_closed_outside(engine: Engine, row: dict, summary: str) -> None:
    with Session(engine) as session, session.begin():
        mark_closed_outside(session, [row["first_run_id"], row["claim_number"]], summary)


async def archive_closed_claims(
    client: Client,
    engine: Engine,
    *,
    everything: bool = False,
    where: str | None = None,
    query_timeout: timedelta = timedelta(seconds=10),
    heartbeat=None,
) -> ArchiveReport:
    """One archiving pass (see the module doc). `everything`: look at every closed claim, not
    only those closed since the previous pass; `where`: only claims matching this visibility
    query (such a pass does not move the progress mark)."""
    report = ArchiveReport()
    pass_started = datetime.now(timezone.utc)
    since = None
    if not everything and where is None:
        previous = await asyncio.to_thread(_listed_until, engine)
        since = previous - VISIBILITY_LAG if previous else None
    async for execution in client.list_workflows(closed_claims_query(since, where)):
        if heartbeat:
            heartbeat(execution.id)
        if await asyncio.to_thread(_archived, engine, execution.id, execution.run_id):
            report.already += 1
            continue
        try:
            row = await archive_one(client, execution, query_timeout)
        except RPCError:
            report.failed.append(execution.id)
            continue
        outside = row.pop("closed_outside")
        if await asyncio.to_thread(_store, engine, row):
            report.archived += 1
            if outside:
                await asyncio.to_thread(_mark_closed_outside, engine, row, outside)
            if row["final_view_json"] is None:
                report.no_view.append(execution.id)
        else:
            report.already += 1  # another pass was quicker
    if not report.failed and where is None:
        await asyncio.to_thread(_set_listed_until, engine, pass_started)
    return report


async def ensure_archive_schedule(client: Client, every: timedelta, task_queue: str = TASK_QUEUE) -> str:
    """Create the Schedule that starts ArchiverWorkflow every `every`, or bring an existing
    one to this interval. Returns "created" or "updated"."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ArchiverWorkflow.run, id=ARCHIVE_SCHEDULE_ID, task_queue=task_queue,
            execution_timeout=timedelta(hours=2),
        ),  # fmt: skip
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(ARCHIVE_SCHEDULE_ID, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(ARCHIVE_SCHEDULE_ID).update(lambda _: ScheduleUpdate(schedule=schedule))
        return "updated"


# --- reading the archive ---------------------------------------------------------------


def archived_claims(engine: Engine, number: str | None = None) -> list[ClaimArchiveRow]:
    """Archived runs (of one claim number), the latest closed first."""
    query = select(ClaimArchiveRow).order_by(ClaimArchiveRow.close_time.desc())
    if number is not None:
        query = query.where(ClaimArchiveRow.claim_number == number)
    with Session(engine) as session:
        return list(session.scalars(query))


def archived_view(row: ClaimArchiveRow) -> ClaimView | None:
    return ClaimView.model_validate_json(row.final_view_json) if row.final_view_json else None


def verify(row: ClaimArchiveRow) -> bool:
    """Does the stored history still match its sha256?"""
    return hashlib.sha256(row.history_json.encode("utf-8")).hexdigest() == row.history_sha256
