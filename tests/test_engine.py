"""The claim engine as a system of record: the clock never waits on a delivery, actions
respect time, deadlines follow the table, supervisors reopen and extend. Time-skipping
server."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.worker import Worker


from activities.notify import NotifyActivities, read_outbox
from activities.read_model import ReadModelActivities
from claimflow.db import engine_for, migrate
from models.actions import (
    ApproveQuote,
    ExtendDeadline,
    ReceiveParcel,
    RecordCustomerShipment,
    RecordInspection,
    RecordRefund,
    ReopenClaim,
)
from models import limits
from models.claim import ClaimSnapshot, Notification
from models.enums import ClaimState as S
from models.enums import DeadlineKind
from models.read_model import ClaimRow
from starter import _time_left, print_view
from tests.conftest import Claims
from tests.test_claim_deadlines import at_about, ladder_of
from tests.test_claim_lifecycle import QUOTE, decision, quoted_paid_repair
from worker import SANDBOX, WORKFLOWS
from workflows.names import NOTIFY, PROJECT_CLAIM


class Outage:
    """The read model's database and the notification channel, switchable off."""

    def __init__(self, outbox: Path, engine):
        self.down = True
        self.attempts: Counter[str] = Counter()
        self._notify = NotifyActivities(outbox, engine)
        self._read_model = ReadModelActivities(engine)

    @activity.defn(name=NOTIFY)
    def notify(self, notification: Notification) -> bool:
        self.attempts[NOTIFY] += 1
        if self.down:
            raise RuntimeError("mail relay unreachable")
        return self._notify.notify(notification)

    @activity.defn(name=PROJECT_CLAIM)
    def project_claim(self, snapshot: ClaimSnapshot) -> bool:
        self.attempts[PROJECT_CLAIM] += 1
        if self.down:
            raise RuntimeError("database unreachable")
        return self._read_model.project_claim(snapshot)


def _worker(env, task_queue: str, services: Outage, **options) -> Worker:
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[services.notify, services.project_claim],
        activity_executor=ThreadPoolExecutor(max_workers=4),
        workflow_runner=SANDBOX,
        **options,
    )


@contextlib.asynccontextmanager
async def claims_in_outage(env, tmp_path: Path) -> AsyncIterator[tuple[Claims, Outage, Engine]]:
    """Claims on their own worker whose read model (SQLite in tmp_path) and notification
    channel are down until `outage.down = False`."""
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    migrate(engine)
    outbox = tmp_path / "outbox.jsonl"
    outage = Outage(outbox, engine)
    task_queue = f"outage-{uuid.uuid4().hex[:8]}"
    async with _worker(env, task_queue, outage):
        yield Claims(env=env, task_queue=task_queue, outbox=outbox), outage, engine
    engine.dispose()


async def test_outage_of_twelve_days_stops_no_clock_and_deliveries_catch_up_once(
    env, tmp_path, changkong, record_history, monkeypatch
):
    # One run for the whole outage: past twice the history bound a run would continue as new
    # with deliveries in flight, and the time-skipping server then never skips time again
    # (its lock for a started activity outlives the run). tests/test_long_lives.py covers
    # continuing as new, on the dev server too with deliveries in flight.
    monkeypatch.setattr(limits, "HISTORY_EVENTS_MAX", 10_000)
    async with claims_in_outage(env, tmp_path) as (claims, outage, engine):
        outbox = claims.outbox
        h = await claims.open(changkong)
        shipping = (await claims.view(h)).open_deadlines[0]
        for _ in range(12 * 4):  # six hours at a time: each sleep call to the test server stays short
            await claims.sleep(hours=6)  # (a whole day of failing deliveries could outlast its RPC deadline)

        view = await claims.eventually(h, lambda v: len(ladder_of(v, "shipping")) == 4)
        assert view.state is S.EXPIRED
        assert at_about(decision(view, "shipping_deadline").at, shipping.due_at)
        offsets = (-48, 0, 24, 72)
        assert all(
            at_about(e.at, shipping.due_at + timedelta(hours=o)) for e, o in zip(view.escalations, offsets)
        ), [e.at for e in view.escalations]
        deliveries = [e.summary for e in view.timeline if e.kind == "delivery"]
        assert any(s.startswith("read model not updated (RuntimeError: database unreachable)") for s in deliveries)
        assert any("not delivered within 2h 0m (RuntimeError: mail relay unreachable)" in s for s in deliveries)
        with Session(engine) as session:
            assert session.exec(select(ClaimRow)).all() == []
        assert read_outbox(outbox) == []
        assert outage.attempts[NOTIFY] > 4 and outage.attempts[PROJECT_CLAIM] > 1

        outage.down = False  # the database and the relay are back
        await claims.sleep(hours=3)
        view = await claims.eventually(h, lambda v: any("read model caught up" in e.summary for e in v.timeline))
        await claims.settle(h)
        view = await claims.view(h)
        with Session(engine) as session:
            row = session.exec(select(ClaimRow)).one()
        assert row.state == "expired" and row.version == len(view.timeline)
        keys = [n.key for n in read_outbox(outbox)]
        assert len(keys) == len(set(keys)), "a notification was delivered twice"
        ladder_keys = {f"{h.id}/shipping#1/{i}" for i in range(4)}
        assert ladder_keys <= set(keys)
        assert {k for k in keys if k.endswith("/undelivered")}, "the supervisor heard of the failed deliveries"
        await record_history(h, "outage_caught_up")
        await claims.terminate_open_claims()


async def test_approval_after_the_quote_expired_is_refused_with_the_moment_it_closed(claims, changkong):
    """(The same-activation case — timer and approval handled together after a worker
    outage — is `state_at` in tests/test_deadline_table.py: the time-skipping server does
    not move time past a workflow task that no worker takes.)"""
    h = await quoted_paid_repair(claims, changkong)
    quote_due = (await claims.view(h)).quote.valid_until
    await claims.sleep_until(quote_due + timedelta(hours=2))
    refused = await claims.refusal(h, ApproveQuote(by="amy"))
    assert refused == (
        f"approve_quote refused: the quote deadline passed at {quote_due:%Y-%m-%d %H:%M} UTC; "
        "send a new quote, or record that the customer declined"
    )
    view = await claims.view(h)
    assert view.state is S.QUOTE_EXPIRED and view.quote.answer == "expired"
    assert "approve_quote" not in view.allowed_actions


async def test_a_parcel_reported_after_the_shipping_deadline_is_refused_with_the_moment(claims, changkong):
    h = await claims.open(changkong)
    due = (await claims.view(h)).open_deadlines[0].due_at
    await claims.sleep_until(due + timedelta(hours=80))
    refused = await claims.refusal(h, RecordCustomerShipment(by="amy", carrier="SF", tracking_number="SF1"))
    assert refused.startswith(f"record_customer_shipment refused: the shipping deadline passed at {due:%Y-%m-%d %H:%M}")
    assert "reopen" in refused


async def test_expired_repair_claim_reopened_and_the_late_parcel_received(claims, changkong, record_history):
    h = await claims.open(changkong)
    due = (await claims.view(h)).open_deadlines[0].due_at
    await claims.sleep_until(due + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: v.state is S.EXPIRED)
    assert view.allowed_actions[0] == "reopen_claim"
    assert [d.kind.value for d in view.open_deadlines] == ["shipping", "reopen_window"]

    await claims.do(h, ReopenClaim(by="sue.supervisor", reason="customer shipped late, parcel is here"))
    view = await claims.view(h)
    assert view.state is S.AWAITING_PARCEL
    shipping = [d for d in view.deadlines if d.kind == "shipping"]
    assert [(d.cycle, d.cleared) for d in shipping] == [(1, True), (2, False)]
    assert decision(view, "reopen").clause_ids == ["CF-DL-REOPEN"]
    assert "CF-DL-REOPEN" in view.clauses
    result = await claims.do(h, ReceiveParcel(by="amy"))
    assert result.state is S.INSPECTING
    await record_history(h, "reopened_after_shipping_expired")


async def test_expired_claim_closes_after_the_reopen_window(claims, changkong):
    h = await claims.open(changkong)
    final = await h.result()
    assert final.state is S.EXPIRED
    ended = decision(final, "reopen_window_deadline")
    assert ended.outcome == "ended" and ended.clause_ids == ["CF-DL-REOPEN"]


async def test_shanghai_sla_paused_while_the_customer_decides(claims, shanghai, record_history, capsys):
    h = await claims.open(shanghai, bought_days_ago=500)  # out of warranty: a quote
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    repair = (await claims.view(h)).open_deadlines
    sla = next(d for d in repair if d.kind == "repair")
    left_before = sla.due_at - (await claims.env.get_current_time())
    lines = [{"item": item, "amount": "10"} for item in shanghai.fee_items[:1]]
    await claims.do(h, QUOTE.model_copy(update={"lines": lines}))
    view = await claims.view(h)
    sla = next(d for d in view.deadlines if d.kind == "repair")
    assert sla.paused and not sla.cleared

    await claims.sleep(days=5)  # the customer thinks for 5 days: no SLA escalation meanwhile
    view = await claims.view(h)
    assert not ladder_of(view, "repair") and view.state is S.AWAITING_APPROVAL
    print_view(view, view.as_of)
    shown = next(line for line in capsys.readouterr().out.splitlines() if "repair #1" in line)
    assert f"{_time_left(sla.due_at, sla.paused_at)} (paused)" in shown
    await claims.do(h, ApproveQuote(by="amy"))
    view = await claims.view(h)
    sla = next(d for d in view.deadlines if d.kind == "repair" and not d.cleared)
    left_after = sla.due_at - view.as_of
    assert abs(left_after - left_before) < timedelta(minutes=1), (left_before, left_after)
    assert any("repair deadline paused" in e.summary for e in view.timeline)
    assert any("repair deadline resumed" in e.summary for e in view.timeline)
    await record_history(h, "shanghai_sla_paused_for_approval")


async def test_shanghai_refund_clears_the_sla(claims, shanghai):
    h = await claims.open(shanghai, bought_days_ago=3, kind="return")
    await claims.do(h, ReceiveParcel(by="amy"))
    assert any(d.kind == "repair" for d in (await claims.view(h)).open_deadlines)  # runs from arrival
    result = await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    assert result.state is S.REFUND_DUE  # Three Guarantees, day 3: refund
    view = await claims.view(h)
    assert [d.kind.value for d in view.open_deadlines] == ["refund"]
    await claims.sleep(days=10)
    view = await claims.view(h)
    assert not ladder_of(view, "repair")
    await claims.do(h, RecordRefund(by="amy", amount=Decimal("10"), reference="R1"))


async def test_supervisor_extends_an_overdue_deadline(claims, changkong, record_history):
    h = await claims.open(changkong)
    await claims.do(h, ReceiveParcel(by="amy"))
    inspection = (await claims.view(h)).open_deadlines[0]
    assert inspection.kind == DeadlineKind.INSPECTION and inspection.clause_ids == ["CF-DL-INSPECTION"]
    await claims.sleep_until(inspection.due_at + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: ladder_of(v, "inspection") == ["agent"])
    assert view.overdue and "extend_deadline" in view.allowed_actions

    too_short = ExtendDeadline(by="sue", deadline="inspection", days=1, reason="x")
    await claims.sleep(days=1)
    assert "still in the past" in await claims.refusal(h, too_short)
    await claims.do(h, ExtendDeadline(by="sue", deadline="inspection", days=3, reason="lab closed for stocktaking"))
    view = await claims.view(h)
    extended = view.open_deadlines[0]
    assert extended.due_at == inspection.due_at + timedelta(days=3) and not extended.due_passed
    assert extended.extensions == 1 and not view.overdue
    assert any("lab closed for stocktaking" in e.summary for e in view.timeline)
    await claims.sleep_until(extended.due_at + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: ladder_of(v, "inspection") == ["agent", "supervisor", "agent"])
    keys = [n.key for n in claims.notifications()]
    assert f"{h.id}/inspection#1/0" in keys and f"{h.id}/inspection#1/0+1" in keys
    await record_history(h, "inspection_extended")


async def test_a_passed_expiry_cannot_be_extended_but_reopened(claims, changkong):
    h = await claims.open(changkong)
    due = (await claims.view(h)).open_deadlines[0].due_at
    await claims.sleep_until(due + timedelta(hours=1))
    await claims.eventually(h, lambda v: v.state is S.EXPIRED)
    refused = await claims.refusal(h, ExtendDeadline(by="sue", deadline="shipping", days=3, reason="late"))
    assert refused == "the shipping deadline cannot be extended now; extendable: reopen_window"


async def test_operators_see_the_claim_in_temporal_without_personal_data(live_claims, changkong):
    h = await live_claims.open(changkong)
    await live_claims.do(h, ReceiveParcel(by="amy"))
    described = await h.describe()
    summary, details = await described.static_summary(), await described.static_details()
    metadata = await h.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    current = metadata.current_details
    assert summary == f"repair claim {h.id} · changkong · CK-200 controller"
    assert f"**Claim** {h.id}" in details
    assert current.startswith("**inspecting** · next deadline: inspection due ")
    sdk_own = ("BuildIds", "TemporalChangeVersion")  # the SDK records patches taken (workflow.patched) there
    attributes = {key.name: value for key, value in described.typed_search_attributes if key.name not in sdk_own}
    assert attributes == {"ClaimPolicy": "changkong", "ClaimState": "inspecting", "ClaimOverdue": False}
    shown = " ".join([summary, details, current, *map(str, attributes.values())])
    for personal in ("Li Wei", "li.wei@example.com", "does not power on", "SN-0042"):
        assert personal not in shown
