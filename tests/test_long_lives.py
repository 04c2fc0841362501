"""Long lives: a claim's workflow continues as new past HISTORY_EVENTS_MAX events, carrying
the whole claim (models.claim.CarriedClaim), and goes on exactly where it was: its
deadlines still fire, its read model has one row, its audit follows every run and replays
clean. Time-skipping server, with the bound lowered so that an ordinary paid repair spans
several runs; and the longest legal life measured under the real bound."""

import asyncio
import re
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import WorkflowTaskFailedCause
from sqlmodel import Session, select

from claimflow.audit import audit_claim
from activities.notify import read_outbox
from claimflow.db import engine_for
from claimflow.whatif import what_if
from models import limits
from models.actions import (
    ApproveQuote,
    CompleteRepair,
    ReceiveParcel,
    RecordInspection,
    RecordPayment,
    RecordQualityCheck,
    ReportFault,
    SendQuote,
)
from models.claim import CarriedClaim
from models.enums import ClaimState as S
from models.read_model import ClaimEventRow, ClaimRow
from tests.conftest import _settled
from tests.test_engine import claims_in_outage
from tests.test_claim_lifecycle import quoted_paid_repair, repair_and_ship
from tests.test_payload_budget import failed_tasks
from workflows.claim import NOT_CARRIED, ClaimWorkflow
from workflows.names import NOTIFY, PROJECT_CLAIM

CLAIM_PY = Path(__file__).parent.parent / "workflows" / "claim.py"


def test_every_attribute_of_the_workflow_is_carried_or_rebuilt():
    """A new attribute must be added to CarriedClaim (or to NOT_CARRIED, when the input
    rebuilds it), or a continued run would silently start it afresh."""
    assigned = set(re.findall(r"self\._([a-z_]+)(?:\s*:[^=\n]+)?\s*=[^=]", CLAIM_PY.read_text()))
    assigned |= {n for pair in re.findall(r"self\._([a-z_]+), self\._([a-z_]+) =", CLAIM_PY.read_text()) for n in pair}
    assert assigned == set(CarriedClaim.model_fields) | NOT_CARRIED
    assert not set(CarriedClaim.model_fields) & NOT_CARRIED


async def runs_of(client, number: str) -> list[str]:
    """The claim's run ids, the first first, following each run's start back to the one it continues."""
    runs, run_id = [], None
    while True:
        handle = client.get_workflow_handle(number, run_id=run_id)
        history = await handle.fetch_history()
        runs.append(run_id or (await handle.describe()).run_id)
        previous = history.events[0].workflow_execution_started_event_attributes.continued_execution_run_id
        if not previous:
            return list(reversed(runs))
        run_id = previous


async def own_failures(handle) -> list:
    """Workflow tasks that failed for the workflow's own code. A task ending the run while an
    update or a delivery arrives is failed by the server (UNHANDLED_COMMAND) and retried with
    the new event, by design: nothing is lost, the run ends a task later."""
    unhandled = WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND
    return [e for e in await failed_tasks(handle) if e.workflow_task_failed_event_attributes.cause != unhandled]


@pytest.fixture
def short_runs(monkeypatch):
    monkeypatch.setattr(limits, "HISTORY_EVENTS_MAX", 40)


async def test_a_claim_continues_as_new_and_goes_on_where_it_was(short_runs, claims, changkong, tmp_path, record_history):
    h = await quoted_paid_repair(claims, changkong)
    before = await claims.view(h)
    quote = before.quote
    # the quote runs out in a later run: its deadline was carried and fires there
    await claims.sleep_until(quote.valid_until + (quote.valid_until - quote.sent_at))
    view = await claims.eventually(h, lambda v: v.state is S.QUOTE_EXPIRED)
    assert len(await runs_of(claims.client, h.id)) >= 2
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "parts", "amount": "120.50"}]))
    await claims.do(h, ApproveQuote(by="amy"))
    await repair_and_ship(claims, h, paid=True)
    await claims.sleep(days=61)
    final = await h.result()  # follows the runs to the last one's result
    assert final.state is S.COMPLETED

    runs = await runs_of(claims.client, h.id)
    assert len(runs) >= 3
    for n, run_id in enumerate(runs[:3], start=1):  # the corpus replays a first and continued runs
        await record_history(claims.client.get_workflow_handle(h.id, run_id=run_id), f"continued_as_new_run{n}")
    for run_id in runs:  # each run stays near the bound, and no workflow task failed for its code
        handle = claims.client.get_workflow_handle(h.id, run_id=run_id)
        events = (await handle.fetch_history()).events
        assert len(events) <= 2 * 40 + 25  # past the bound, it ends once nothing is in flight; past twice, at once
        assert await own_failures(handle) == []
    # one claim: the timeline runs on across the runs, each continuation in it once
    whole = final.timeline_from + len(final.timeline)
    entries = await h.query(ClaimWorkflow.timeline, args=[0, whole])
    assert [e.summary for e in entries[: len(before.timeline)]] == [e.summary for e in before.timeline]
    continued = [e.summary for e in entries if e.summary.startswith("history continued in run")]
    assert [s.split()[4] for s in continued] == [str(n) for n in range(2, len(runs) + 1)]
    assert [d.what for d in final.decisions][:3] == [d.what for d in before.decisions][:3]
    assert [d.kind.value for d in final.deadlines if d.due_passed][:1] == ["quote"]
    assert final.payments[0].amount == RecordPayment(by="x", amount="120.50", reference="r").amount

    # the read model: one claim row, every timeline entry once
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    with Session(engine) as session:
        [row] = session.exec(select(ClaimRow).where(ClaimRow.claim_number == h.id)).all()
        events = session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_key == row.claim_key)).all()
    assert row.state == "completed"
    assert sorted(e.seq for e in events) == list(range(whole))

    # the audit follows every run, replays each clean and recomputes the decisions
    audit = await audit_claim(claims.client, engine, h.id)
    assert [r["run_id"] for r in audit.integrity.runs] == runs
    assert audit.verdict.clean, audit.verdict.text
    assert audit.ok and [c.status for c in audit.recomputation].count("match") >= 3
    assert len(audit.timeline) == whole
    engine.dispose()

    # what-if reads the runs as one claim: its actions of every run, its decisions unchanged
    histories = [await claims.client.get_workflow_handle(h.id, run_id=r).fetch_history() for r in runs]
    report = what_if(histories, changkong)
    assert (report.claims, report.changes, report.skipped) == (1, [], [])
    report = what_if(histories[1:], changkong)
    assert report.claims == 0 and [s.reason for s in report.skipped] == ["its first run is not among the histories read"]


async def test_the_longest_legal_life_stays_within_the_bound(claims, changkong):
    """Every loop of a claim's life at its bound (quotes, failed quality checks, new faults): each run
    stays within HISTORY_EVENTS_MAX (and a little over: the run ends at its next step), and
    what it carries into the next is far below Temporal's 2 MB payload limit."""
    h = await claims.open(changkong, bought_days_ago=300)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    for _ in range(limits.QUOTES_MAX - 1):
        await claims.do(h, SendQuote(by="amy", lines=[{"item": "parts", "amount": "120.50"}]))
        quote = (await claims.view(h)).quote
        await claims.sleep_until(quote.valid_until + (quote.valid_until - quote.sent_at))
        await claims.eventually(h, lambda v: v.state is S.QUOTE_EXPIRED)
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "parts", "amount": "120.50"}]))
    await claims.do(h, ApproveQuote(by="amy"))
    for _ in range(limits.REPAIR_ATTEMPTS_MAX):
        await claims.do(h, CompleteRepair(by="tom", work_done="again"))
        await claims.do(h, RecordQualityCheck(by="qa", passed=False))
    await repair_and_ship(claims, h, paid=True)
    for _ in range(limits.FAULT_REPORTS_MAX):  # each new fault in the post-repair window: a free repair
        await claims.do(h, ReportFault(by="amy", description="it failed again"))
        await claims.do(h, ReceiveParcel(by="amy"))
        await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
        await repair_and_ship(claims, h, paid=False)
    runs = await runs_of(claims.client, h.id)
    sizes = []
    for run_id in runs:
        events = (await claims.client.get_workflow_handle(h.id, run_id=run_id).fetch_history()).events
        assert len(events) <= 2 * limits.HISTORY_EVENTS_MAX + 25
        sizes.append(len(events))
        carried = events[0].workflow_execution_started_event_attributes.input.payloads[0]
        assert len(carried.data) < 1024 * 1024
    print(f"longest life: {sum(sizes)} events in {len(runs)} run(s): {sizes}")


async def test_a_run_past_twice_its_bound_continues_with_deliveries_in_flight(dev_env, tmp_path, changkong, monkeypatch):
    """The read model's database and the mail relay are down while the claim's history grows:
    past twice the bound the run continues as new with its deliveries still failing, and the
    next run delivers them, once each, when the services are back. Real dev server (the
    time-skipping server stops skipping time when a run ends with an activity in flight)."""
    monkeypatch.setattr(limits, "HISTORY_EVENTS_MAX", 20)
    async with claims_in_outage(dev_env, tmp_path) as (claims, outage, engine):
        h = await quoted_paid_repair(claims, changkong)
        await claims.do(h, ApproveQuote(by="amy"))
        await repair_and_ship(claims, h, paid=True)
        runs = await runs_of(claims.client, h.id)
        assert len(runs) >= 2
        first = (await claims.client.get_workflow_handle(h.id, run_id=runs[0]).fetch_history()).events
        assert 2 * 20 <= len(first) <= 2 * 20 + 25
        scheduled = {e.event_id for e in first if e.HasField("activity_task_scheduled_event_attributes")}
        ended = {
            getattr(e, f).scheduled_event_id
            for e in first
            for f in ("activity_task_completed_event_attributes", "activity_task_failed_event_attributes",
                      "activity_task_timed_out_event_attributes", "activity_task_canceled_event_attributes")
            if e.HasField(f)
        }
        assert scheduled - ended, "the first run ended with a delivery in flight"
        assert outage.attempts[NOTIFY] and outage.attempts[PROJECT_CLAIM]
        with Session(engine) as session:
            assert session.exec(select(ClaimRow)).all() == []

        outage.down = False
        for _ in range(600):  # the next retry of a failed delivery comes within about 30 s
            view = await claims.view(h)
            whole = view.timeline_from + len(view.timeline)
            with Session(engine) as session:
                row = session.exec(select(ClaimRow)).one_or_none()
            if row is not None and row.version == whole and _settled((await h.fetch_history()).events):
                break
            await asyncio.sleep(0.1)
        assert row is not None and row.version == whole and row.state == view.state.value
        keys = [n.key for n in read_outbox(claims.outbox)]
        assert keys and len(keys) == len(set(keys)), "a notification was delivered twice"
        await h.terminate("test over")
