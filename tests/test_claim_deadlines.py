"""Deadlines that escalate by themselves, and actions refused without a trace in history."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from temporalio.client import WorkflowUpdateFailedError

from claimflow.claims import ClaimError, ClaimExists, claim_input, open_claim
from models.actions import (
    AcknowledgeEscalation,
    ApproveQuote,
    CompleteRepair,
    ReceiveParcel,
    RecordInspection,
    RecordPayment,
    RecordQualityCheck,
    SendQuote,
)
from claimflow.calendars import work_calendar
from models.calendar import end_of_natural_days, local_date
from models.enums import ClaimState as S
from tests.conftest import intake
from tests.test_claim_lifecycle import QUOTE, decision, quoted_paid_repair

LADDER = ["reminder", "agent", "supervisor", "manager"]


def at_about(actual, expected) -> bool:
    """Timers fire at their moment, give or take the few milliseconds of a workflow task."""
    return timedelta(0) <= actual - expected < timedelta(seconds=1)


def ladder_of(view, kind: str, cycle: int = 1) -> list[str]:
    return [e.level.value for e in view.escalations if e.deadline == kind and e.cycle == cycle]


async def test_no_parcel_within_seven_days_expires_and_walks_the_whole_ladder(claims, changkong, record_history):
    h = await claims.open(changkong)
    opened_on = await claims.today(changkong)
    view = await claims.view(h)
    shipping = view.open_deadlines[0]
    assert shipping.kind == "shipping"
    assert shipping.due_at == end_of_natural_days(opened_on, 7, changkong.timezone)

    await claims.sleep_until(shipping.due_at - timedelta(hours=47))  # reminded 48 h before
    view = await claims.eventually(h, lambda v: ladder_of(v, "shipping") == ["reminder"])
    assert view.state is S.AWAITING_PARCEL and "acknowledge_escalation" not in view.allowed_actions

    final = await h.result()  # the claim lives on through the ladder and the 30-day reopen window
    assert final.state is S.EXPIRED
    expired = decision(final, "shipping_deadline")
    # a repair claim: claimflow's own rule, not the policy's returns clause (RET-X7)
    assert expired.outcome == "expired" and expired.clause_ids == ["CF-DL-REPAIR-SHIPPING"]
    assert at_about(expired.at, shipping.due_at)
    assert ladder_of(final, "shipping") == LADDER
    offsets = (-48, 0, 24, 72)
    assert all(at_about(e.at, shipping.due_at + timedelta(hours=o)) for e, o in zip(final.escalations, offsets))
    escalation_lines = [e.summary for e in final.timeline if e.kind == "escalation"]
    assert len(escalation_lines) == 4 and "[manager]" in escalation_lines[-1]

    rma, *sent = claims.notifications()  # the customer's RMA e-mail first, then the ladder
    assert (rma.message, rma.key) == ("rma_issued", f"{h.id}/rma_issued/RMA-{h.id}")
    assert [(n.role, n.level.value) for n in sent] == [
        ("customer", "reminder"), ("agent", "agent"), ("supervisor", "supervisor"), ("manager", "manager")
    ]  # fmt: skip
    assert [n.key for n in sent] == [f"{h.id}/shipping#1/{i}" for i in range(4)]
    await record_history(h, "shipping_expired")


async def test_quote_expiry_escalates_and_a_new_quote_can_follow(claims, changkong, record_history):
    h = await quoted_paid_repair(claims, changkong)
    quote_due = (await claims.view(h)).quote.valid_until

    await claims.sleep_until(quote_due + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: v.state is S.QUOTE_EXPIRED and len(ladder_of(v, "quote")) == 2)
    assert view.quote.answer == "expired"
    assert decision(view, "quote_deadline").clause_ids == ["CF-QUOTE", "IV.4"]
    assert at_about(decision(view, "quote_deadline").at, quote_due)
    assert ladder_of(view, "quote") == ["reminder", "agent"]
    assert set(view.allowed_actions) == {"send_quote", "decline_quote", "acknowledge_escalation", "cancel_claim"}

    await claims.sleep_until(quote_due + timedelta(hours=73))
    view = await claims.eventually(h, lambda v: len(ladder_of(v, "quote")) == 4)
    assert ladder_of(view, "quote") == LADDER
    ladder = [n.role for n in claims.notifications() if n.message == "escalation"]  # the RMA's, the quote's e-mails aside
    assert ladder == ["customer", "agent", "supervisor", "manager"]

    # the agent re-quotes: a second quote deadline, and the claim goes on
    result = await claims.do(h, SendQuote(by="amy", lines=[{"item": "spare parts", "amount": "60.00"}]))
    assert result.state is S.AWAITING_APPROVAL
    view = await claims.view(h)
    assert [(d.kind.value, d.cycle) for d in view.open_deadlines] == [("quote", 2)]
    assert (await claims.do(h, ApproveQuote(by="amy"))).state is S.REPAIRING
    await record_history(h, "quote_expired_requoted")


async def test_overdue_payment_escalates_until_acknowledged(claims, changkong, record_history):
    h = await quoted_paid_repair(claims, changkong)
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="new board"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    payment_due = (await claims.view(h)).open_deadlines[0].due_at

    await claims.sleep_until(payment_due + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: ladder_of(v, "payment") == ["reminder", "agent"])
    assert view.state is S.AWAITING_PAYMENT
    overdue = decision(view, "payment_deadline")
    assert overdue.outcome == "overdue" and overdue.clause_ids == ["CF-PAYMENT", "IV.5"]

    result = await claims.do(h, AcknowledgeEscalation(by="sue.supervisor", deadline="payment"))
    assert "acknowledge_escalation" not in result.allowed_actions
    await claims.sleep_until(payment_due + timedelta(days=10))  # past supervisor and manager rungs
    view = await claims.view(h)
    assert ladder_of(view, "payment") == ["reminder", "agent"]
    ladder_notices = [n.level.value for n in claims.notifications() if "/payment#" in n.key]
    assert ladder_notices == ["reminder", "agent"]  # (besides the payment-due notice, tests/test_versioning.py)
    assert any(e.by == "sue.supervisor" and "acknowledged" in e.summary for e in view.timeline)

    assert (await claims.do(h, RecordPayment(by="amy", amount=Decimal("120.50"), reference="late"))).state is S.AWAITING_SHIP_BACK
    await record_history(h, "payment_overdue_acknowledged")


async def test_repair_sla_counts_working_days_and_escalates(claims, changkong):
    h = await claims.open(changkong, bought_days_ago=20)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    view = await claims.view(h)
    repair = view.open_deadlines[0]
    start = local_date(repair.started_at, changkong.timezone)
    last_day = local_date(repair.due_at, changkong.timezone) - timedelta(days=1)
    calendar = work_calendar("CN", None, start)
    days = [start + timedelta(days=i) for i in range(1, (last_day - start).days + 1)]
    working = [d for d in days if (d.weekday() < 5 and d not in calendar.holidays) or d in calendar.weekend_workdays]
    assert len(working) == 3 and working[-1] == last_day  # 3 working days after the start
    await claims.sleep_until(repair.due_at + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: "agent" in ladder_of(v, "repair"))
    assert decision(view, "repair_deadline").outcome == "overdue"
    assert decision(view, "repair_deadline").clause_ids == ["IV.5"]
    assert view.state is S.REPAIRING  # the SLA escalates; it does not stop the repair


async def history_length(handle) -> int:
    return len((await handle.fetch_history()).events)


async def test_wrong_state_action_is_refused_and_writes_no_history(live_claims, changkong):
    claims = live_claims
    h = await claims.open(changkong)
    await claims.settle(h)
    before = await history_length(h)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await claims.do(h, ApproveQuote(by="amy"))
    assert "approve_quote is not allowed while the claim is awaiting_parcel" in refused.value.cause.message
    assert "receive_parcel" in refused.value.cause.message  # it says what is allowed instead
    assert await history_length(h) == before
    assert (await claims.view(h)).state is S.AWAITING_PARCEL


async def test_bad_input_is_refused_and_writes_no_history(live_claims, changkong):
    claims = live_claims
    h = await claims.open(changkong, bought_days_ago=200)
    await claims.do(h, ReceiveParcel(by="amy"))
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await claims.do(h, RecordInspection(by="tom", fault="excluded_condition", exclusions=["aliens"]))
    assert "unknown exclusion aliens" in refused.value.cause.message
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    await claims.do(h, QUOTE)
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="x"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    await claims.settle(h)
    before = await history_length(h)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await claims.do(h, RecordPayment(by="amy", amount=Decimal("100.00"), reference="short"))
    assert "does not match the approved quote of 120.50 CNY" in refused.value.cause.message
    assert await history_length(h) == before
    assert (await claims.view(h)).payments == []


async def test_duplicate_claim_number_is_refused(live_claims, changkong):
    claims = live_claims  # on the real dev server: a refused start upsets the test server's clock
    today = await claims.today(changkong)
    claim = claim_input(intake(changkong, today), changkong, today)
    claims.opened.append(await open_claim(claims.client, claim, claims.task_queue))
    with pytest.raises(ClaimExists, match=f"claim {claim.intake.claim_number} already exists"):
        await open_claim(claims.client, claim, claims.task_queue)


async def test_dates_in_the_future_are_refused_before_anything_starts(changkong):
    today = date(2026, 5, 1)
    claim = intake(changkong, today + timedelta(days=40))
    with pytest.raises(ClaimError, match="is in the future"):
        claim_input(claim, changkong, today)
