"""No input can wedge a claim: a claim driven through its longest legal life with the
largest inputs the models accept stays far below Temporal's payload limits, no workflow
task fails, and every loop of its life stops at its bound (models/limits.py).
Time-skipping server."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from claimflow.policy_files import load_policy
from models import limits
from models.actions import (
    AcknowledgeEscalation,
    ApproveQuote,
    CancelClaim,
    ChooseChannel,
    CompleteRepair,
    ConfirmDelivery,
    DeclineQuote,
    ExtendDeadline,
    ReceiveParcel,
    RecordCustomerShipment,
    RecordDetermination,
    RecordDocumentation,
    RecordInspection,
    RecordOnsiteReport,
    RecordPayment,
    RecordQualityCheck,
    RecordRefund,
    ReopenClaim,
    ReportFault,
    ResolveRemotely,
    SendQuote,
    SettleUnpaid,
    ShipBack,
)
from models.enums import ClaimState as S
from tests.conftest import POLICY_DIR
from workflows.claim import ClaimWorkflow

NOTE = ("长" * (limits.NOTE_MAX - 1)) + "x"  # 3 bytes a character in UTF-8: the heaviest note
NAME = "名" * limits.NAME_MAX
TEXT = "文" * limits.TEXT_MAX
MB = 1024 * 1024


def by(**fields):
    """Every action's common fields at their largest."""
    return {"by": NAME, "note": NOTE} | fields


def max_quote() -> SendQuote:
    lines = [{"item": f"{n:02d}" + NAME[2:], "amount": limits.LINE_AMOUNT_MAX} for n in range(limits.LIST_MAX)]
    return SendQuote(**by(lines=lines))


async def failed_tasks(handle: WorkflowHandle) -> list:
    history = await handle.fetch_history()
    return [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


async def largest_payloads(handle: WorkflowHandle) -> tuple[int, int]:
    """The largest event and the whole history, in bytes."""
    events = (await handle.fetch_history()).events
    return max(e.ByteSize() for e in events), sum(e.ByteSize() for e in events)


async def test_the_longest_legal_life_with_the_largest_inputs_stays_small(claims, changkong):
    h = await claims.open(
        changkong,
        bought_days_ago=300,  # out of warranty: paid repair, quotes, payment, post-repair window
        customer={"name": NAME, "contact": NAME},
        product={"model": NAME, "serial_number": NAME, "barcode": NAME},
        fault_description=TEXT,
        opened_by=NAME,
    )
    await claims.do(h, RecordCustomerShipment(**by(carrier=NAME, tracking_number=NAME)))
    await claims.do(h, ReceiveParcel(**by()))
    await claims.do(h, RecordInspection(**by(fault="quality_fault", notes=NOTE)))
    for _ in range(limits.QUOTES_MAX):  # every quote runs out, the next one follows
        await claims.do(h, max_quote())
        quote = (await claims.view(h)).quote
        assert quote.total == limits.LINE_AMOUNT_MAX * limits.LIST_MAX
        await claims.sleep_until(quote.valid_until + timedelta(hours=1))
        await claims.eventually(h, lambda v: v.state is S.QUOTE_EXPIRED)
    assert "at most 10 quotes" in await claims.refusal(h, max_quote())
    await claims.do(h, AcknowledgeEscalation(**by(deadline="quote")))
    await claims.do(h, DeclineQuote(**by()))  # the customer says no after all: it goes back unrepaired
    view = await claims.view(h)
    assert view.state is S.AWAITING_SHIP_BACK
    for _ in range(limits.EXTENSIONS_MAX):
        await claims.do(h, ExtendDeadline(**by(deadline="ship_back", days=90, reason=TEXT)))
    assert "at most 5 extensions" in await claims.refusal(h, ExtendDeadline(**by(deadline="ship_back", days=1, reason="x")))
    await claims.do(h, ShipBack(**by(carrier=NAME, tracking_number=NAME)))
    await claims.do(h, ConfirmDelivery(**by()))
    final = await h.result()
    assert final.state is S.COMPLETED

    assert await failed_tasks(h) == []
    largest, total = await largest_payloads(h)
    assert largest < 1 * MB, f"largest event {largest / MB:.2f} MB"
    assert total < 20 * MB, f"history {total / MB:.1f} MB"
    assert len(final.model_dump_json().encode()) < 1 * MB
    print(f"longest life: largest event {largest / 1024:.0f} KB, history {total / MB:.2f} MB, "
          f"{final.timeline_from + len(final.timeline)} timeline entries")
    page = await h.query(ClaimWorkflow.timeline, args=[0, 5])
    assert [e.kind for e in page][0] == "opened"


async def test_repairs_and_new_faults_stop_at_their_bounds(claims, changkong):
    h = await claims.open(changkong, bought_days_ago=300)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "parts", "amount": limits.LINE_AMOUNT_MAX}]))
    await claims.do(h, ApproveQuote(by="amy"))
    for _ in range(limits.REPAIR_ATTEMPTS_MAX):
        await claims.do(h, CompleteRepair(**by(work_done=TEXT)))
        await claims.do(h, RecordQualityCheck(**by(passed=False)))
    await claims.do(h, CompleteRepair(by="tom", work_done="again"))
    refused = await claims.refusal(h, RecordQualityCheck(by="qa", passed=False))
    assert refused.startswith("at most 10 failed quality checks")
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    await claims.do(h, RecordPayment(by="amy", amount=limits.LINE_AMOUNT_MAX, reference=NAME))
    await claims.do(h, ShipBack(by="amy", carrier="SF", tracking_number="1"))
    await claims.do(h, ConfirmDelivery(by="amy"))
    for _ in range(limits.FAULT_REPORTS_MAX):  # each new fault: a free repair inside the window
        await claims.do(h, ReportFault(**by(description=TEXT)))
        await claims.do(h, ReceiveParcel(by="amy"))
        await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
        await claims.do(h, CompleteRepair(by="tom", work_done="fixed"))
        await claims.do(h, RecordQualityCheck(by="qa", passed=True))
        await claims.do(h, ShipBack(by="amy", carrier="SF", tracking_number="1"))
        await claims.do(h, ConfirmDelivery(by="amy"))
    assert (await claims.refusal(h, ReportFault(by="amy", description="again"))).startswith("at most 5 new faults")
    assert await failed_tasks(h) == []
    largest, _ = await largest_payloads(h)
    assert largest < 1 * MB
    view = await claims.view(h)
    whole = view.timeline_from + len(view.timeline)
    assert len(view.timeline) == min(whole, limits.TIMELINE_IN_VIEW)
    pages = [await h.query(ClaimWorkflow.timeline, args=[offset, 50]) for offset in range(0, whole, 50)]
    assert [e for page in pages for e in page][-len(view.timeline) :] == view.timeline
    assert all(len(page) <= 50 for page in pages)


def test_a_paged_view_gives_snapshots_from_where_it_starts():
    from datetime import datetime, timezone

    from models.claim import ClaimView, TimelineEntry, snapshot_of

    at = datetime(2026, 11, 29, tzinfo=timezone.utc)
    entries = [TimelineEntry(at=at, kind="action", summary=f"step {n}", by="amy") for n in range(1000)]
    view = ClaimView(
        claim_number="P-1", policy="changkong", kind="repair", state="inspecting", remedy=None, rma_number=None,
        opened_at=at, updated_at=at, as_of=at, deadlines=[], escalations=[], decisions=[],
        timeline=entries[700:], timeline_from=700, allowed_actions=[], quote=None, payments=[],
        post_repair_warranty_until=None, repair_cycles=0, clauses={},
    )  # fmt: skip
    snapshot = snapshot_of(view)  # reindex from a paged view: what it holds, from where it starts
    assert (snapshot.events_from, snapshot.version, snapshot.events[0].summary) == (700, 1000, "step 700")
    full = view.model_copy(update={"timeline": entries, "timeline_from": 0})
    first = snapshot_of(full, 0)  # the workflow's own, during an outage: at most a page per snapshot
    assert (first.events_from, first.version, len(first.events)) == (0, limits.TIMELINE_IN_VIEW, 300)
    assert snapshot_of(full, first.version).events_from == 300


async def test_an_unpaid_repair_is_settled_by_a_supervisor(claims, changkong):
    h = await claims.open(changkong, bought_days_ago=300)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "parts", "amount": "80"}]))
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="fixed"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    settle = SettleUnpaid(by="sue", outcome="return_unpaid", reason="customer unreachable")
    assert "settle_unpaid is not allowed" in await claims.refusal(h, settle)  # not before the deadline
    due = next(d for d in (await claims.view(h)).open_deadlines if d.kind == "payment").due_at
    await claims.sleep_until(due + timedelta(hours=1))
    view = await claims.eventually(h, lambda v: "settle_unpaid" in v.allowed_actions)
    assert (await claims.do(h, settle)).state is S.AWAITING_SHIP_BACK
    await claims.do(h, ShipBack(by="amy", carrier="SF", tracking_number="1"))
    final = await claims.do(h, ConfirmDelivery(by="amy"))
    assert final.state is S.COMPLETED  # no post-repair warranty for an unpaid repair
    view = await claims.view(h)
    assert view.post_repair_warranty_until is None
    assert [d.clause_ids for d in view.decisions if d.what == "unpaid"] == [["CF-UNPAID"]]


@pytest.mark.parametrize(
    "state_after, steps",
    [
        ("inspecting", [ReceiveParcel(by="amy")]),
        ("awaiting_quote", [ReceiveParcel(by="amy"), RecordInspection(by="tom", fault="quality_fault")]),
        (
            "awaiting_payment",
            [
                ReceiveParcel(by="amy"),
                RecordInspection(by="tom", fault="quality_fault"),
                SendQuote(by="amy", lines=[{"item": "parts", "amount": "80"}]),
                ApproveQuote(by="amy"),
                CompleteRepair(by="tom", work_done="fixed"),
                RecordQualityCheck(by="qa", passed=True),
            ],
        ),
    ],
)
async def test_a_supervisor_can_cancel_in_any_open_state(claims, changkong, state_after, steps):
    h = await claims.open(changkong, bought_days_ago=300)
    for step in steps:
        await claims.do(h, step)
    assert (await claims.view(h)).state.value == state_after
    result = await claims.do(h, CancelClaim(by="sue.supervisor", reason="customer withdrew"))
    assert result.state is S.CANCELLED
    final = await h.result()
    assert final.open_deadlines == [] and final.allowed_actions == []


async def test_every_channel_action_with_boundary_values_fails_no_task(claims):
    konjump = load_policy(POLICY_DIR, "konjump")
    h = await claims.open(konjump, contract_warranty_months=limits.CONTRACT_MONTHS_MAX, bought_days_ago=30)
    await claims.do(h, ChooseChannel(**by(channel="on_site_repair")))
    await claims.do(h, RecordDocumentation(**by(items=[TEXT] * limits.LIST_MAX)))
    exclusion = konjump.exclusions[0].id
    await claims.do(
        h,
        RecordOnsiteReport(
            **by(
                fault="man_made_damage",
                exclusions=[exclusion] * limits.LIST_MAX,
                notes=NOTE,
                owed=[{"item": "travel", "amount": limits.LINE_AMOUNT_MAX}],
            )
        ),
    )
    await claims.do(h, RecordDetermination(**by(within_policy=False)))
    lines = [{"item": item, "amount": limits.LINE_AMOUNT_MAX} for item in konjump.fee_items if item != "travel"]
    await claims.do(h, SendQuote(**by(lines=lines)))
    await claims.do(h, ApproveQuote(**by()))
    await claims.do(h, CompleteRepair(**by(work_done=TEXT)))
    await claims.do(h, RecordQualityCheck(**by(passed=True)))
    total = limits.LINE_AMOUNT_MAX * (len(lines) + 1)  # the quote and the visit's travel
    assert (await claims.do(h, RecordPayment(**by(amount=total, reference=NAME)))).state is S.COMPLETED
    await h.result()
    assert await failed_tasks(h) == []


def test_amounts_any_quote_can_reach_are_payable():
    assert limits.LINE_AMOUNT_MAX * limits.LIST_MAX <= limits.AMOUNT_MAX
    RecordPayment(by="amy", amount=limits.LINE_AMOUNT_MAX * limits.LIST_MAX, reference="P")
    with pytest.raises(ValueError):
        RecordPayment(by="amy", amount=limits.AMOUNT_MAX + Decimal("0.01"), reference="P")


async def test_a_cancel_requested_in_temporal_is_reflected_in_the_claim_and_read_model(live_claims, changkong):
    from sqlmodel import Session, select
    from temporalio.client import WorkflowFailureError

    from claimflow.db import engine_for
    from models.read_model import ClaimRow

    h = await live_claims.open(changkong)
    await live_claims.do(h, ReceiveParcel(by="amy"))
    await h.cancel()  # what "Request Cancellation" in Temporal's Web UI does
    with pytest.raises(WorkflowFailureError):
        await h.result()
    view = await live_claims.view(h)
    assert view.state is S.CANCELLED and view.open_deadlines == []
    assert any(e.summary.startswith("cancelled outside claimflow") for e in view.timeline)
    engine = engine_for(f"sqlite:///{live_claims.outbox.parent / 'claims.db'}")
    with Session(engine) as session:
        row = session.exec(select(ClaimRow).where(ClaimRow.claim_number == h.id)).one()
    assert row.state == "cancelled"


async def test_the_remaining_actions_with_boundary_values_fail_no_task(claims, changkong):
    """With the tests above, every action has run with its largest values."""
    refund = await claims.open(changkong, bought_days_ago=5, kind="return")
    await claims.do(refund, ReceiveParcel(**by()))
    await claims.do(refund, RecordInspection(**by(fault="no_fault_found", unused_and_complete=True)))
    await claims.do(refund, RecordRefund(**by(amount=limits.AMOUNT_MAX, reference=NAME)))

    remote = await claims.open(load_policy(POLICY_DIR, "konjump"), contract_warranty_months=12)
    await claims.do(remote, ResolveRemotely(**by(summary=TEXT)))

    expired = await claims.open(changkong)
    due = (await claims.view(expired)).open_deadlines[0].due_at
    await claims.sleep_until(due + timedelta(hours=1))
    await claims.eventually(expired, lambda v: v.state is S.EXPIRED)
    for _ in range(limits.REOPENS_MAX):
        await claims.do(expired, ReopenClaim(**by(reason=TEXT)))
        due = next(d for d in (await claims.view(expired)).open_deadlines if d.kind == "shipping").due_at
        await claims.sleep_until(due + timedelta(hours=1))
        await claims.eventually(expired, lambda v: v.state is S.EXPIRED)
    assert (await claims.refusal(expired, ReopenClaim(by="sue", reason="x"))).startswith("at most 3 reopenings")
    await claims.do(expired, CancelClaim(**by(reason=TEXT)))

    for handle in (refund, remote, expired):
        assert (await handle.result()).state in (S.COMPLETED, S.CANCELLED)
        assert await failed_tasks(handle) == []


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"contract_warranty_months": 100_000}, "less than or equal to 240"),
        ({"purchase_date": "0001-01-01"}, "greater than or equal to 1990-01-01"),
        ({"fault_description": "x" * 100_000}, "at most 500 characters"),
        ({"opened_by": "eve\x1b[2J"}, "control characters are not allowed: U+001B"),
        ({"conditions": ["misuse"] * 21}, "at most 20 items"),
    ],
)
def test_an_intake_that_could_wedge_a_claim_is_refused_before_it_starts(changkong, changes, message):
    from pydantic import ValidationError

    from tests.conftest import intake

    with pytest.raises(ValidationError) as refused:
        intake(changkong, date(2026, 11, 29), **changes)
    assert message in str(refused.value)


def test_a_quote_that_could_never_be_paid_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="less than or equal to 10000000"):
        SendQuote(by="amy", lines=[{"item": "a", "amount": "9999999999"}, {"item": "b", "amount": "9999999999"}])
    with pytest.raises(ValidationError, match="at most 2000 characters"):
        ReceiveParcel(by="amy", note="n" * 125_000)
