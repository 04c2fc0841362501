"""Each path of a Changkong claim's life, on the time-skipping test server.

Every test asserts the state, the decisions with their clause ids, and the timeline,
and records its history into tests/histories/ (RECORD_HISTORIES=1) for the replay test.
"""

from datetime import timedelta
from decimal import Decimal

from models.actions import (
    ApproveQuote,
    CompleteRepair,
    ConfirmDelivery,
    DeclineQuote,
    ReceiveParcel,
    RecordCustomerShipment,
    RecordInspection,
    RecordPayment,
    RecordQualityCheck,
    RecordRefund,
    ReportFault,
    SendQuote,
    ShipBack,
)
from models.calendar import local_date
from models.claim import ClaimView
from models.enums import ClaimState as S
from workflows.claim import ClaimWorkflow

QUOTE = SendQuote(by="amy", lines=[{"item": "spare parts", "amount": "80.00"}, {"item": "labour", "amount": "40.50"}])


def decision(view: ClaimView, what: str, nth: int = -1):
    return [d for d in view.decisions if d.what == what][nth]


def states(view: ClaimView) -> list[str]:
    """The states the claim went through, from its timeline."""
    return [e.summary.split(" → ")[1] for e in view.timeline if e.kind == "state" and " → " in e.summary]


async def repair_and_ship(claims, h, *, paid: bool) -> None:
    await claims.do(h, CompleteRepair(by="tom", work_done="replaced the power board"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    if paid:
        await claims.do(h, RecordPayment(by="amy", amount=Decimal("120.50"), reference="PAY-1"))
    await claims.do(h, ShipBack(by="amy", carrier="SF Express", tracking_number="SF100"))
    await claims.do(h, ConfirmDelivery(by="amy"))


async def quoted_paid_repair(claims, policy):
    """An out-of-warranty claim, inspected (quality fault) and quoted 120.50."""
    h = await claims.open(policy, bought_days_ago=200)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    await claims.do(h, QUOTE)
    return h


async def paid_repair_until_delivered(claims, policy):
    h = await quoted_paid_repair(claims, policy)
    await claims.do(h, ApproveQuote(by="amy"))
    await repair_and_ship(claims, h, paid=True)
    return h


async def test_in_warranty_free_repair_with_a_failed_qc(claims, changkong, record_history):
    h = await claims.open(changkong, bought_days_ago=30)
    view = await claims.view(h)
    assert view.state is S.AWAITING_PARCEL and view.rma_number == f"RMA-{h.id}"
    assert decision(view, "warranty").outcome == "covered"
    assert decision(view, "warranty").clause_ids == ["I.1-PROOF"]

    await claims.do(h, RecordCustomerShipment(by="amy", carrier="SF Express", tracking_number="SF1"))
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    assert result.state is S.REPAIRING
    view = await claims.view(h)
    assert view.remedy == "free_repair"
    assert decision(view, "remedy").clause_ids == ["I.1-PROOF", "I.2"]
    assert decision(view, "freight").outcome == "manufacturer pays both ways"
    assert decision(view, "freight").clause_ids == ["CF-FREIGHT-COVERED"]

    await claims.do(h, CompleteRepair(by="tom", work_done="resoldered connector"))
    assert (await claims.do(h, RecordQualityCheck(by="qa", passed=False))).state is S.REPAIRING
    await claims.do(h, CompleteRepair(by="tom", work_done="replaced connector"))
    assert (await claims.do(h, RecordQualityCheck(by="qa", passed=True))).state is S.AWAITING_SHIP_BACK
    await claims.do(h, ShipBack(by="amy", carrier="SF Express", tracking_number="SF2"))
    await claims.do(h, ConfirmDelivery(by="amy"))

    final = await h.result()
    assert final.state is S.COMPLETED
    assert final.post_repair_warranty_until is None  # free repairs get no extra window
    assert final.payments == []
    assert states(final) == [
        "awaiting_parcel", "parcel_in_transit", "inspecting", "repairing", "quality_check",
        "repairing", "quality_check", "awaiting_ship_back", "shipped_back", "completed",
    ]  # fmt: skip
    assert [e.by for e in final.timeline if e.kind == "action"] == ["amy", "amy", "tom", "tom", "qa", "tom", "qa", "amy", "amy"]
    await record_history(h, "free_repair")


async def test_paid_repair_then_post_repair_window_ends(claims, changkong, record_history):
    h = await claims.open(changkong, bought_days_ago=200)
    view = await claims.view(h)
    assert decision(view, "warranty").outcome == "not_covered"
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "paid_repair"
    assert decision(view, "remedy").clause_ids == ["I.1-PROOF", "IV.4"]
    assert decision(view, "freight").clause_ids == ["CF-FREIGHT-PAID"]

    assert (await claims.do(h, QUOTE)).state is S.AWAITING_APPROVAL
    view = await claims.view(h)
    assert view.quote.total == Decimal("120.50") and view.quote.currency == "CNY"
    assert (await claims.do(h, ApproveQuote(by="amy"))).state is S.REPAIRING
    await claims.do(h, CompleteRepair(by="tom", work_done="replaced the power board"))
    # a paid repair waits for payment before it ships back
    result = await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    assert result.state is S.AWAITING_PAYMENT and result.allowed_actions == ["record_payment", "extend_deadline", "cancel_claim"]
    await claims.do(h, RecordPayment(by="amy", amount=Decimal("120.50"), reference="PAY-1"))
    await claims.do(h, ShipBack(by="amy", carrier="SF Express", tracking_number="SF100"))
    shipped_on = await claims.today(changkong)
    assert (await claims.do(h, ConfirmDelivery(by="amy"))).state is S.POST_REPAIR_WARRANTY

    view = await claims.view(h)
    assert view.post_repair_warranty_until == shipped_on + timedelta(days=60)
    assert decision(view, "post_repair_warranty").clause_ids == ["I.NOTE"]
    assert [d.kind for d in view.open_deadlines] == ["post_repair_warranty"]

    await claims.sleep(days=59)
    assert (await claims.view(h)).state is S.POST_REPAIR_WARRANTY  # day 59: still inside
    final = await h.result()  # time skips to the end of day 60
    assert final.state is S.COMPLETED
    ended = decision(final, "post_repair_warranty_deadline")
    assert ended.outcome == "ended" and ended.clause_ids == ["I.NOTE"]
    assert local_date(ended.at, changkong.timezone) == shipped_on + timedelta(days=61)
    assert [p.amount for p in final.payments] == [Decimal("120.50")]
    await record_history(h, "paid_repair_window_ends")


async def test_new_fault_on_day_30_after_ship_back_is_repaired_free(claims, changkong, record_history):
    h = await paid_repair_until_delivered(claims, changkong)
    shipped_on = await claims.today(changkong)
    await claims.sleep(days=30)
    result = await claims.do(h, ReportFault(by="amy", description="no power again"))
    assert result.state is S.AWAITING_PARCEL
    view = await claims.view(h)
    assert view.rma_number == f"RMA-{h.id}-2"
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.REPAIRING
    view = await claims.view(h)
    remedy = decision(view, "remedy")
    assert remedy.outcome == "free_repair" and remedy.clause_ids == ["I.NOTE", "I.2"]
    assert decision(view, "warranty").outcome == "not_covered"  # the normal warranty is long over
    assert decision(view, "freight").clause_ids == ["CF-FREIGHT-COVERED"]

    await repair_and_ship(claims, h, paid=False)
    view = await claims.view(h)
    assert view.state is S.POST_REPAIR_WARRANTY  # back in the same window, not a new one
    assert view.post_repair_warranty_until == shipped_on + timedelta(days=60)
    assert view.repair_cycles == 2 and len(view.payments) == 1

    final = await h.result()
    assert final.state is S.COMPLETED
    assert local_date(decision(final, "post_repair_warranty_deadline").at, changkong.timezone) == shipped_on + timedelta(days=61)
    await record_history(h, "new_fault_in_post_repair_window")


async def test_quote_declined_ships_back_unrepaired_customer_pays_freight(claims, changkong, record_history):
    h = await quoted_paid_repair(claims, changkong)
    result = await claims.do(h, DeclineQuote(by="amy", note="customer finds it too expensive"))
    assert result.state is S.AWAITING_SHIP_BACK and result.allowed_actions == ["ship_back", "extend_deadline", "cancel_claim"]
    view = await claims.view(h)
    assert view.quote.answer == "declined"
    assert decision(view, "quote").outcome == "declined" and decision(view, "quote").clause_ids == ["IV.4"]
    freight = decision(view, "freight")
    assert freight.outcome == "customer pays both ways" and freight.clause_ids == ["CF-FREIGHT-PAID"]
    assert not [d for d in view.open_deadlines if d.kind == "quote"]

    await claims.do(h, ShipBack(by="amy", carrier="SF Express", tracking_number="SF9"))
    await claims.do(h, ConfirmDelivery(by="amy"))
    final = await h.result()
    assert final.state is S.COMPLETED and final.post_repair_warranty_until is None
    assert "customer declined the quote of 120.50 CNY — customer finds it too expensive" in [
        e.summary for e in final.timeline
    ]
    await record_history(h, "quote_declined")


async def test_man_made_damage_in_warranty_is_a_paid_repair_and_customer_pays_freight(claims, changkong):
    h = await claims.open(changkong, bought_days_ago=10)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="man_made_damage", notes="cracked by a fall"))
    view = await claims.view(h)
    assert view.state is S.AWAITING_QUOTE
    assert decision(view, "remedy").clause_ids == ["I.2", "IV.4"]
    # III.1: "During the warranty period … the customer [pays] the return freight"; the way in, CF-FREIGHT-INBOUND
    assert decision(view, "freight").clause_ids == ["III.1", "CF-FREIGHT-INBOUND"]


async def test_return_within_seven_days_is_refunded(claims, changkong, record_history):
    h = await claims.open(changkong, bought_days_ago=5, kind="return")
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="no_fault_found", unused_and_complete=True))
    assert result.state is S.REFUND_DUE
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "refund"
    assert decision(view, "remedy").clause_ids == ["RET-1", "RET-2"]
    await claims.do(h, RecordRefund(by="fin", amount=Decimal("399.00"), reference="RF-1"))
    final = await h.result()
    assert final.state is S.COMPLETED
    assert [(p.kind, p.amount) for p in final.payments] == [("refund", Decimal("399.00"))]
    await record_history(h, "return_refunded")


async def test_return_asked_on_day_eight_is_rejected_at_once(claims, changkong):
    h = await claims.open(changkong, bought_days_ago=10, kind="return")  # received 8 days ago
    final = await h.result()
    assert final.state is S.REJECTED and final.allowed_actions == []
    check = decision(final, "policy_check")
    assert check.outcome == "rejected" and check.clause_ids == ["RET-X1"]
    assert check.inputs["day"] == 8


async def test_falsified_documents_reject_the_claim(claims, changkong):
    h = await claims.open(changkong, kind="return", bought_days_ago=3, conditions=["documents_falsified"])
    final = await h.result()
    assert final.state is S.REJECTED
    assert decision(final, "policy_check").clause_ids == ["RET-X3"]
    assert final.rma_number is None and final.deadlines == []


async def test_view_cites_the_text_of_every_clause(claims, changkong):
    h = await claims.open(changkong)
    view = await h.query(ClaimWorkflow.view)
    cited = {c for d in view.decisions for c in d.clause_ids} | {c for d in view.deadlines for c in d.clause_ids}
    assert set(view.clauses) == cited
    assert view.clauses["IV.3"] == changkong.clause_text("IV.3")  # a repair is accepted under IV.3


async def test_editing_the_policy_file_does_not_change_an_open_claim(claims, changkong, tmp_path):
    from claimflow.policy_files import load_policy
    from claimflow.settings import REPO_ROOT

    policy_file = tmp_path / "changkong.toml"
    original = (REPO_ROOT / "policies" / "changkong.toml").read_text()
    policy_file.write_text(original)
    h = await claims.open(load_policy(tmp_path, "changkong"), bought_days_ago=200)
    due_before = (await claims.view(h)).open_deadlines[0].due_at

    # the manufacturer extends its warranty to 1000 days: claims opened later get it
    policy_file.write_text(original.replace("days = 180", "days = 1000"))
    assert load_policy(tmp_path, "changkong").warranty.clocks[0].days == 1000

    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "paid_repair"  # still the 180 days it opened with
    assert view.deadlines[0].due_at == due_before
    later = await claims.open(load_policy(tmp_path, "changkong"), bought_days_ago=200)
    assert decision(await claims.view(later), "warranty").outcome == "covered"
