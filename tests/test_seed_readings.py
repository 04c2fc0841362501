"""Each shipped policy read as written (policy field `readings = 2`), one workflow test per
reading, on the time-skipping server. Every docstring names the seed clause it follows and
quotes the seed's words (/work/shared/seeds/). New lifecycle paths record their history for
the replay test (RECORD_HISTORIES=1). The last test holds a claim opened under readings 1
to the behaviour it always had."""

import base64
import json
from decimal import Decimal
from pathlib import Path

import pytest

from models.actions import (
    ApproveQuote,
    ChooseChannel,
    CompleteRepair,
    DeclineQuote,
    ReceiveParcel,
    RecordCustomerShipment,
    RecordDetermination,
    RecordDocumentation,
    RecordInspection,
    RecordOnsiteReport,
    RecordPayment,
    RecordQualityCheck,
    RecordRefund,
    SendQuote,
)
from models.claim import ClaimInput
from models.deadline_table import deadline_table
from models.enums import ClaimKind
from models.enums import ClaimState as S
from tests.test_claim_lifecycle import decision, states
from tests.test_seed_workflows import ship_and_deliver

HISTORIES = Path(__file__).parent / "histories"
TRAVEL = {"item": "travel", "amount": "450"}
MAINTENANCE = {"item": "maintenance", "amount": "300"}


def test_every_shipped_policy_is_read_as_written(changkong, best_lighting, konjump, shanghai, figures):
    assert {p.name: p.readings for p in (changkong, best_lighting, konjump, shanghai, figures)} == {
        "changkong": 2,
        "best_lighting": 2,
        "konjump": 2,
        "shanghai_equipment": 2,
        "model_figures": 2,
    }


# --- seed 001: changkong ----------------------------------------------------------------


async def test_changkong_return_without_proof_of_purchase_is_rejected_at_once(claims, changkong):
    """001 "Returns cannot be requested under the following conditions" 3 (RET-X3): "Failure
    to provide legitimate proof of purchase or documents at the time of return"."""
    h = await claims.open(changkong, bought_days_ago=3, kind="return", proof_of_purchase=False)
    final = await h.result()
    assert final.state is S.REJECTED and final.rma_number is None
    check = decision(final, "policy_check")
    assert check.outcome == "rejected" and check.clause_ids == ["RET-X3"]
    assert "proof of purchase" in check.reason


async def test_changkong_repair_is_accepted_under_iv3_and_its_shipping_deadline_is_claimflows(claims, changkong):
    """001 IV.3: "If the after-sales service personnel believe that the product really needs
    to be repaired, the customer will provide the original valid proof of purchase and send it
    to the manufacturer". RET-X7 ("Failure to send the corresponding piece within 7 natural
    days after contacting the after-sales staff to confirm the return service") speaks of
    returns, so a repair's shipping deadline cites claimflow's own rule."""
    h = await claims.open(changkong)
    view = await claims.view(h)
    assert view.state is S.AWAITING_PARCEL
    check = decision(view, "policy_check")
    assert check.outcome == "accepted" and check.clause_ids == ["IV.3"]
    [shipping] = view.open_deadlines
    assert shipping.kind == "shipping" and shipping.clause_ids == ["CF-DL-REPAIR-SHIPPING"]
    assert "RET-X7" not in view.clauses


async def test_changkong_paid_repair_in_warranty_gets_no_post_repair_warranty(claims, changkong):
    """001 I.NOTE: "For products that have been out of warranty and have been returned to the
    factory for repair. You can enjoy 60 days of extended warranty service after repair";
    III.1: "During the warranty period, the repair of damage caused by non-product quality
    problems itself will be paid by the customer for the return freight." Man-made damage 30
    days after purchase: paid, in warranty, so no 60 days; out of warranty (day 200) they are
    given, and the freight is claimflow's paid rule."""
    h = await claims.open(changkong, bought_days_ago=30)
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="man_made_damage", notes="cracked by a fall"))
    assert result.state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert decision(view, "warranty").outcome == "covered"
    assert decision(view, "remedy").outcome == "paid_repair"
    freight = decision(view, "freight")
    assert freight.outcome == "customer pays both ways" and freight.clause_ids == ["III.1", "CF-FREIGHT-INBOUND"]
    await paid_repair_to_payment(claims, h)
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED  # no window to wait in
    final = await h.result()
    assert final.post_repair_warranty_until is None
    assert not [d for d in final.decisions if d.what == "post_repair_warranty"]
    assert not [d for d in final.deadlines if d.kind == "post_repair_warranty"]

    out = await claims.open(changkong, bought_days_ago=200)
    await claims.do(out, ReceiveParcel(by="amy"))
    await claims.do(out, RecordInspection(by="tom", fault="quality_fault"))
    view = await claims.view(out)
    assert decision(view, "warranty").outcome == "not_covered"
    assert decision(view, "freight").clause_ids == ["CF-FREIGHT-PAID"]
    await paid_repair_to_payment(claims, out)
    assert (await ship_and_deliver(claims, out)).state is S.POST_REPAIR_WARRANTY
    view = await claims.view(out)
    assert decision(view, "post_repair_warranty").clause_ids == ["I.NOTE"]
    assert view.post_repair_warranty_until is not None


async def paid_repair_to_payment(claims, h, amount: str = "120.50") -> None:
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "labour", "amount": amount}]))
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="replaced the housing"))
    assert (await claims.do(h, RecordQualityCheck(by="qa", passed=True))).state is S.AWAITING_PAYMENT
    assert (await claims.do(h, RecordPayment(by="fin", amount=Decimal(amount), reference="PAY-1"))).state is (
        S.AWAITING_SHIP_BACK
    )


async def test_changkong_refund_of_a_faulty_return_ships_one_way_at_the_makers_cost(claims, changkong):
    """001 returns: "Within 7 calendar days of receiving the goods, the customer finds that the
    product has a performance failure that is not man-made damage." The seed is silent on a
    return's freight (CF-FREIGHT-RETURN): the maker pays the way in, nothing goes back."""
    h = await claims.open(changkong, bought_days_ago=4, kind="return")
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.REFUND_DUE
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "refund"
    freight = decision(view, "freight")
    assert freight.outcome == "to the factory: manufacturer pays freight; nothing goes back"
    assert freight.clause_ids == ["CF-FREIGHT-RETURN"]


async def test_changkong_exclusions_are_the_returns_list(claims, changkong):
    """001 "Returns cannot be requested under the following conditions" 4 (RET-X4): "The
    occurrence of collision, burnt out, ... not caused by the quality of the product itself":
    a reason to refuse a return; on a repair the same damage is recorded as man-made (I.2:
    "After our technicians test is indeed the quality of the goods itself")."""
    h = await claims.open(changkong, bought_days_ago=30)
    await claims.do(h, ReceiveParcel(by="amy"))
    refused = await claims.refusal(h, RecordInspection(by="tom", fault="excluded_condition", exclusions=["misuse"]))
    assert refused == "misuse applies to return claims under policy changkong (RET-X4), not to a repair claim"

    ret = await claims.open(changkong, bought_days_ago=4, kind="return")
    await claims.do(ret, ReceiveParcel(by="amy"))
    result = await claims.do(ret, RecordInspection(by="tom", fault="excluded_condition", exclusions=["misuse"]))
    assert result.state is S.AWAITING_SHIP_BACK
    assert "RET-X4" in decision(await claims.view(ret), "remedy").clause_ids


async def test_changkong_software_upgrade_is_a_quoted_service_claim(claims, changkong, record_history):
    """001 III.2: "Customers need the manufacturer to carry out software upgrades on behalf of
    the round-trip freight, are borne by the customer"; IV.4: "informed of the repair costs and
    payment information, and the repair process will be carried out after the user agrees to
    the repair offer"; IV.5: "arrange to send it back to the user after receiving the
    maintenance fee". No repair of a product out of warranty, so no 60 days (I.NOTE)."""
    h = await claims.open(changkong, kind="service", fault_description="upgrade the firmware to 2.1")
    view = await claims.view(h)
    assert view.state is S.AWAITING_PARCEL and view.rma_number == f"RMA-{h.id}"
    assert decision(view, "policy_check").clause_ids == ["III.2", "CF-UPGRADE"]
    await claims.do(h, RecordCustomerShipment(by="amy", carrier="SF Express", tracking_number="SF-1"))
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="no_fault_found", notes="firmware 2.0"))
    assert result.state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "paid_service"
    assert decision(view, "remedy").clause_ids == ["III.2", "CF-UPGRADE"]
    freight = decision(view, "freight")
    assert freight.outcome == "customer pays both ways" and freight.clause_ids == ["III.2"]
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "software upgrade", "amount": "50.00"}]))
    assert (await claims.do(h, ApproveQuote(by="amy"))).state is S.REPAIRING
    await claims.do(h, CompleteRepair(by="tom", work_done="firmware 2.1 flashed"))
    assert (await claims.do(h, RecordQualityCheck(by="qa", passed=True))).state is S.AWAITING_PAYMENT
    refused = await claims.refusal(h, RecordPayment(by="fin", amount=Decimal("5.00"), reference="PAY-9"))
    assert "does not match the approved quote of 50.00" in refused
    result = await claims.do(h, RecordPayment(by="fin", amount=Decimal("50.00"), reference="PAY-9"))
    assert result.state is S.AWAITING_SHIP_BACK
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    final = await h.result()
    assert final.post_repair_warranty_until is None
    assert not [d for d in final.decisions if d.what == "post_repair_warranty"]
    assert states(final) == [
        "awaiting_parcel", "parcel_in_transit", "inspecting", "awaiting_quote", "awaiting_approval", "repairing",
        "quality_check", "awaiting_payment", "awaiting_ship_back", "shipped_back", "completed",
    ]  # fmt: skip
    await record_history(h, "changkong_software_upgrade")


# --- seed 002: konjump ------------------------------------------------------------------


async def test_konjump_inspector_may_replace_a_covered_quality_fault(claims, konjump, record_history):
    """002 3.3.2 d: "Once it is determined that the product or part has quality problems and is
    within the scope of this warranty policy, KONJUMP will replace or repair it as soon as
    possible." """
    h = await claims.open(konjump, contract_warranty_months=24)
    await claims.do(h, ChooseChannel(by="eng.wu", channel="return_repair"))
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="quality_fault", replace=True))
    assert result.state is S.AWAITING_SHIP_BACK
    view = await claims.view(h)
    remedy = decision(view, "remedy")
    assert remedy.outcome == "replacement" and remedy.clause_ids == ["3.3.2 d"]
    assert decision(view, "freight").clause_ids == ["3.2.2 b", "3.2.2 c"]
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    await record_history(h, "konjump_return_replacement")


async def on_site_visit(claims, konjump):
    """A konjump claim moved on site, its documentation in: the engineer is there."""
    h = await claims.open(konjump, contract_warranty_months=24)
    await claims.do(h, ChooseChannel(by="eng.wu", channel="on_site_repair"))
    await claims.do(h, RecordDocumentation(by="amy", items=["photos of the panel"]))
    return h


async def test_konjump_visit_report_carries_exactly_the_owed_travel(claims, konjump):
    """002 3.2.3 c: "the customer shall ... pay the travel expenses of the after-sales engineer
    in full according to the travel standards formulated by KONJUMP" when the problem "does not
    fall within the scope of this warranty policy"; 3.2.3 a: for a quality problem "KONJUMP will
    send after-sales engineers to the site for product maintenance free of charge"."""
    h = await on_site_visit(claims, konjump)
    damage = RecordOnsiteReport(by="eng.li", fault="man_made_damage")
    for owed, given in [([], "none"), ([MAINTENANCE], "maintenance"), ([TRAVEL, TRAVEL], "travel, travel")]:
        refused = await claims.refusal(h, damage.model_copy(update={"owed": owed}))
        assert refused == (
            "a visit found not covered owes travel whatever the answer to a quote (3.2.3 c): give each once "
            f"with its amount (owed), e.g. travel=300; given: {given}"
        )
    nothing = RecordOnsiteReport(by="eng.li", fault="no_fault_found")
    assert (await claims.refusal(h, nothing)).startswith("a visit found not covered owes travel")
    covered = RecordOnsiteReport(by="eng.li", fault="quality_fault", owed=[TRAVEL])
    assert await claims.refusal(h, covered) == "this visit is covered (free_repair): nothing is owed for it"
    result = await claims.do(h, covered.model_copy(update={"owed": []}))
    assert result.state is S.COMPLETED  # repaired free during the visit
    final = await h.result()
    assert final.fees_owed == [] and decision(final, "fees").outcome == "none"


async def test_konjump_visit_not_covered_waits_for_headquarters(claims, konjump):
    """002 3.2.3 c: "If after the on-site analysis of the after-sales engineer, and the
    headquarters of KONJUMP finally determines that the quality problem does not fall within
    the scope of this warranty policy" — headquarters' determination is a step of its own, with
    claimflow's deadline (CF-DL-DETERMINATION)."""
    h = await on_site_visit(claims, konjump)
    result = await claims.do(h, RecordOnsiteReport(by="eng.li", fault="man_made_damage", owed=[TRAVEL]))
    assert result.state is S.AWAITING_DETERMINATION
    assert result.allowed_actions[0] == "record_determination"
    view = await claims.view(h)
    [determination] = view.open_deadlines
    assert determination.kind == "determination" and determination.clause_ids == ["CF-DL-DETERMINATION"]
    assert "CF-DL-DETERMINATION" in view.clauses
    assert not [d for d in view.decisions if d.what == "fees"]  # not before headquarters has spoken
    assert "awaiting_quote" not in states(view)
    await claims.do(h, RecordDetermination(by="hq.chen", within_policy=False))
    view = await claims.view(h)
    assert "determination" not in [d.kind for d in view.open_deadlines]
    assert [d.cleared for d in view.deadlines if d.kind == "determination"] == [True]


async def test_konjump_quote_declined_after_a_visit_still_owes_the_travel(claims, konjump, record_history):
    """002 3.2.3 c: "the customer shall pay the maintenance fee in full according to the list of
    follow-up repair quotes provided by the after-sales engineer on the site, and pay the travel
    expenses of the after-sales engineer in full" — the travel is owed whatever the answer to
    the repair quote."""
    h = await on_site_visit(claims, konjump)
    await claims.do(h, RecordOnsiteReport(by="eng.li", fault="man_made_damage", owed=[TRAVEL]))
    assert (await claims.do(h, RecordDetermination(by="hq.chen", within_policy=False))).state is S.AWAITING_QUOTE
    view = await claims.view(h)
    determined = decision(view, "determination")
    assert determined.outcome == "not_covered" and determined.clause_ids == ["3.2.3 c"]
    fees = decision(view, "fees")
    assert fees.outcome == "travel, maintenance" and fees.clause_ids == ["3.2.3 c"]
    assert "owed whatever the answer to a quote: travel" in fees.reason
    refused = await claims.refusal(h, SendQuote(by="amy", lines=[MAINTENANCE, TRAVEL]))
    assert refused.startswith("already owed from the visit")
    await claims.do(h, SendQuote(by="amy", lines=[MAINTENANCE]))
    result = await claims.do(h, DeclineQuote(by="amy", note="too expensive"))
    assert result.state is S.AWAITING_PAYMENT and "record_payment" in result.allowed_actions
    for wrong in ("750", "300", "0.01"):
        refused = await claims.refusal(h, RecordPayment(by="fin", amount=Decimal(wrong), reference="INV-4"))
        assert refused == f"payment of {Decimal(wrong):.2f} does not match the visit's fees of 450.00 CNY"
    result = await claims.do(h, RecordPayment(by="fin", amount=Decimal("450"), reference="INV-4"))
    assert result.state is S.COMPLETED
    final = await h.result()
    assert [(p.amount, p.reference) for p in final.payments] == [(Decimal("450"), "INV-4")]
    assert [(line.item, line.amount) for line in final.fees_owed] == [("travel", Decimal("450"))]
    assert final.repair_cycles == 0
    await record_history(h, "konjump_on_site_quote_declined")


async def test_konjump_visit_with_nothing_to_repair_owes_the_travel(claims, konjump, record_history):
    """002 3.2.3 c: when headquarters "finally determines that the quality problem does not fall
    within the scope of this warranty policy", the customer shall "pay the travel expenses of
    the after-sales engineer in full" — with no repair to quote, the travel alone is paid."""
    h = await on_site_visit(claims, konjump)
    result = await claims.do(h, RecordOnsiteReport(by="eng.li", fault="no_fault_found", owed=[TRAVEL]))
    assert result.state is S.AWAITING_DETERMINATION
    assert decision(await claims.view(h), "remedy").outcome == "rejected"
    result = await claims.do(h, RecordDetermination(by="hq.chen", within_policy=False))
    assert result.state is S.AWAITING_PAYMENT
    view = await claims.view(h)
    assert view.quote is None and decision(view, "determination").outcome == "not_covered"
    refused = await claims.refusal(h, RecordPayment(by="fin", amount=Decimal("0.01"), reference="INV-5"))
    assert refused == "payment of 0.01 does not match the visit's fees of 450.00 CNY"
    assert (await claims.do(h, RecordPayment(by="fin", amount=Decimal("450"), reference="INV-5"))).state is (
        S.COMPLETED
    )
    final = await h.result()
    assert states(final)[-4:] == ["onsite_visit", "awaiting_determination", "awaiting_payment", "completed"]
    await record_history(h, "konjump_on_site_nothing_to_repair")


async def test_konjump_headquarters_finds_it_within_policy_repaired_free(claims, konjump, record_history):
    """002 3.2.3 c makes headquarters' determination final ("the headquarters of KONJUMP finally
    determines"); within the policy, 3.2.3 a applies: "KONJUMP will send after-sales engineers
    to the site for product maintenance free of charge" — nothing is owed, nothing ships."""
    h = await on_site_visit(claims, konjump)
    await claims.do(h, RecordOnsiteReport(by="eng.li", fault="man_made_damage", owed=[TRAVEL]))
    result = await claims.do(h, RecordDetermination(by="hq.chen", within_policy=True))
    assert result.state is S.REPAIRING
    view = await claims.view(h)
    remedy = decision(view, "remedy")
    assert remedy.outcome == "free_repair" and "headquarters (hq.chen)" in remedy.reason
    assert remedy.clause_ids == ["3.2.3 c", "3.2.3 a", "3.2.3 d"]
    determined = decision(view, "determination")  # recorded as a "not covered" one is
    assert (determined.outcome, determined.clause_ids) == ("covered", ["3.2.3 c"])
    await claims.do(h, CompleteRepair(by="eng.li", work_done="re-seated the module"))
    assert (await claims.do(h, RecordQualityCheck(by="eng.li", passed=True))).state is S.COMPLETED
    final = await h.result()
    assert final.fees_owed == [] and final.payments == [] and final.quote is None
    assert not [d for d in final.decisions if d.what in ("fees", "freight")]
    assert "awaiting_ship_back" not in states(final)
    await record_history(h, "konjump_on_site_determined_within_policy")


# --- seed 003: shanghai_equipment -------------------------------------------------------


async def test_shanghai_without_proof_of_purchase_the_repair_is_paid(claims, shanghai):
    """003 Note: "The company does not provide free warranty service when the following
    conditions occur. ... 2. Product warranty card cannot be provided ... 8. Cannot provide
    purchase invoice or valid purchase certificate." """
    h = await claims.open(shanghai, bought_days_ago=100, proof_of_purchase=False)
    view = await claims.view(h)
    warranty = decision(view, "warranty")
    assert warranty.outcome == "not_covered" and warranty.clause_ids == ["Note 2", "Note 8", "CF-NO-PROOF"]
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "paid_repair"
    assert decision(view, "freight").clause_ids == ["CF-FREIGHT-OTHER"]


async def test_shanghai_repair_deadline_is_guarantee_2_read_by_claimflow(claims, shanghai):
    """003 Service Guarantee 2: "All products returned to the factory are guaranteed to be
    repaired within three days after returning to the factory. The quality inspector will then
    inspect the product and pass the test." """
    h = await claims.open(shanghai, bought_days_ago=100)
    await claims.do(h, ReceiveParcel(by="amy"))
    [repair] = [d for d in (await claims.view(h)).open_deadlines if d.kind == "repair"]
    assert repair.clause_ids == ["Guarantee 2", "CF-REPAIR-DAYS"]
    assert (repair.due_at - repair.started_at).days == 3  # natural days, from arrival


@pytest.mark.parametrize(
    ("proof", "remedy", "next_state"), [(True, "refund", S.REFUND_DUE), (False, "paid_repair", S.AWAITING_QUOTE)]
)
async def test_shanghai_three_guarantees_return_needs_proof_of_purchase(claims, shanghai, proof, remedy, next_state):
    """003 Service Commitment 2: "In accordance with the “Three Guarantees” regulations of the
    State, the company handles the procedures for decommissioning, changing and repairing due to
    poor performance"; Note 2 and 8 take away free service without a warranty card or "purchase
    invoice or valid purchase certificate": without one, no refund, a paid repair."""
    h = await claims.open(shanghai, bought_days_ago=3, kind="return", proof_of_purchase=proof)
    if not proof:
        warranty = decision(await claims.view(h), "warranty")
        assert warranty.outcome == "not_covered" and warranty.clause_ids == ["Note 2", "Note 8", "CF-NO-PROOF"]
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is next_state
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == remedy
    if proof:
        assert decision(view, "remedy").clause_ids == ["Commitment 2", "CF-THREE-GUARANTEES"]
        freight = decision(view, "freight")
        assert freight.outcome.endswith("nothing goes back") and freight.clause_ids == ["CF-FREIGHT-COVERED"]
    else:
        assert decision(view, "freight").clause_ids == ["CF-FREIGHT-OTHER"]


async def test_shanghai_maintenance_for_life_is_a_service_claim(claims, shanghai):
    """003 Service Commitment 3: "All equipment is guaranteed for one year and is maintained for
    life." Maintenance of a five-year-old product, quoted (Beyond 1: "Repairs beyond the scope
    of the free warranty are subject to repair costs"), the user paying the freight."""
    h = await claims.open(shanghai, bought_days_ago=5 * 365, kind="service", fault_description="yearly maintenance")
    view = await claims.view(h)
    assert decision(view, "policy_check").clause_ids == ["Commitment 3", "CF-SERVICE"]
    assert decision(view, "warranty").outcome == "not_counted"
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="no_fault_found"))).state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "paid_service"
    assert decision(view, "freight").clause_ids == ["CF-FREIGHT-OTHER"]
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "maintenance", "amount": "200"}]))
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="cleaned, oiled, seals changed"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    await claims.do(h, RecordPayment(by="fin", amount=Decimal("200"), reference="PAY-3"))
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    assert (await h.result()).post_repair_warranty_until is None


async def test_shanghai_note_6_is_damage_by_other_outlets(claims, shanghai):
    """003 Note 6: "Damage caused by installation, transfer and maintenance of our company's
    special outlets." — read by claimflow as outlets that are NOT the company's (CF-NOTE-6)."""
    h = await claims.open(shanghai, bought_days_ago=100)
    await claims.do(h, ReceiveParcel(by="amy"))
    refused = await claims.refusal(
        h, RecordInspection(by="tom", fault="excluded_condition", exclusions=["damage_by_special_outlet"])
    )
    assert refused.startswith("unknown exclusion damage_by_special_outlet; policy shanghai_equipment knows:")
    assert "damage_by_other_outlet" in refused
    findings = RecordInspection(by="tom", fault="excluded_condition", exclusions=["damage_by_other_outlet"])
    assert (await claims.do(h, findings)).state is S.AWAITING_QUOTE
    remedy = decision(await claims.view(h), "remedy")
    assert remedy.outcome == "paid_repair" and {"Note 6", "CF-NOTE-6"} <= set(remedy.clause_ids)


# --- seed 004: model_figures ------------------------------------------------------------


async def test_model_figures_replaces_a_listed_defect(claims, figures, record_history):
    """004 system 11: "The company recalls, repairs and replaces products with quality problems
    free of charge." Clause 3: "the company will send professionals to check" — on site, so the
    policy sets no shipping deadline."""
    assert figures.deadlines.shipping is None
    assert not [row for row in deadline_table(figures, ClaimKind.REPAIR) if row.kind == "shipping"]
    h = await claims.open(figures, bought_days_ago=60)
    defect = figures.warranty.scope[0]
    report = RecordOnsiteReport(by="pro.zhao", fault="quality_fault", defect=defect.id, replace=True)
    result = await claims.do(h, report)
    assert result.state is S.AWAITING_SHIP_BACK
    view = await claims.view(h)
    remedy = decision(view, "remedy")
    assert remedy.outcome == "replacement" and remedy.clause_ids == ["System 11"]
    assert decision(view, "fees").outcome == "none"
    freight = decision(view, "freight")  # the replacement goes out at the company's cost
    assert (freight.outcome, freight.clause_ids) == ("manufacturer pays both ways", ["CF-FREIGHT-COVERED"])
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    final = await h.result()
    assert not [d for d in final.deadlines if d.kind == "shipping"] and final.payments == []
    await record_history(h, "model_figures_replacement")


# --- seed 000: best_lighting ------------------------------------------------------------


async def test_best_lighting_day_3_refund_takes_product_information_for_proof(claims, best_lighting, record_history):
    """000 5, "Within 7 days": "within 7 days from the time of purchase of the product by the end
    consumer, if the product itself is a major functional failure, can not be used normally and
    other quality problems, the valid purchase certificate or detailed product information and
    product to the place of purchase request refund service" — no certificate and no warranty
    length needed."""
    h = await claims.open(best_lighting, bought_days_ago=3, kind="return", proof_of_purchase=False)
    view = await claims.view(h)
    assert decision(view, "policy_check").outcome == "accepted"
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.REFUND_DUE
    view = await claims.view(h)
    remedy = decision(view, "remedy")
    assert remedy.outcome == "refund" and remedy.clause_ids == ["5.1", "CF-PROOF"]
    assert decision(view, "freight").outcome.endswith("nothing goes back")
    await claims.do(h, RecordRefund(by="fin", amount=Decimal("59.90"), reference="RF-3"))
    assert (await h.result()).state is S.COMPLETED
    await record_history(h, "best_lighting_refund_without_proof")


async def test_best_lighting_day_3_refund_with_proof_needs_no_warranty_length(claims, best_lighting):
    """000 5, "Within 7 days": "the valid purchase certificate or detailed product information and
    product to the place of purchase request refund service" — the Three Guarantees count from
    purchase alone; the warranty's length (CF-PERIOD, given with contract_warranty_months) plays
    no part (CF-PROOF: "never needs the warranty length")."""
    h = await claims.open(best_lighting, bought_days_ago=3, kind="return")  # proof, no warranty length
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.REFUND_DUE
    assert decision(await claims.view(h), "remedy").clause_ids == ["5.1", "CF-PROOF"]


async def test_best_lighting_day_10_replacement_without_proof(claims, best_lighting):
    """000 5, "8-15 days": "where the product itself is the main functional failure, can not be
    used normally and other quality problems can be valid purchase certificate or detailed
    product information and product to the purchase of the request for replacement service"."""
    h = await claims.open(best_lighting, bought_days_ago=10, kind="return", proof_of_purchase=False)
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.AWAITING_SHIP_BACK
    remedy = decision(await claims.view(h), "remedy")
    assert remedy.outcome == "replacement" and remedy.clause_ids == ["5.2", "CF-PROOF"]


async def test_best_lighting_repair_without_proof_is_not_covered(claims, best_lighting):
    """000 2: "The following products do not belong to the warranty scope: ... Products without
    a valid purchase certificate"."""
    h = await claims.open(best_lighting, bought_days_ago=40, proof_of_purchase=False)
    warranty = decision(await claims.view(h), "warranty")
    assert warranty.outcome == "not_covered" and warranty.clause_ids == ["2.3", "CF-PROOF"]
    await claims.do(h, ReceiveParcel(by="amy"))
    assert (await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))).state is S.AWAITING_QUOTE


# --- readings 1: a claim keeps the reading it opened with ------------------------------


def released_policy(history: str):
    """The policy snapshot a recorded claim opened with (readings 1: before the field existed)."""
    started = json.loads((HISTORIES / f"{history}.json").read_text())["events"][0]
    payload = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]
    return ClaimInput.model_validate(json.loads(base64.b64decode(payload["data"]))).policy


async def test_a_readings_1_claim_still_quotes_the_travel(claims, konjump):
    """Under readings 1 (konjump as first released) the engineer's report decides at once: a
    visit not covered goes to the quote, which must carry the travel (002 3.2.3 c: "pay the
    maintenance fee in full ... and pay the travel expenses of the after-sales engineer"), no
    headquarters step and nothing owed apart from the quote."""
    released = released_policy("claim-konjump_on_site_paid")
    assert released.name == "konjump" and released.readings == 1
    h = await claims.open(released, contract_warranty_months=24)
    await claims.do(h, ChooseChannel(by="eng.wu", channel="on_site_repair"))
    await claims.do(h, RecordDocumentation(by="amy", items=["photos of the panel"]))
    assert not [d for d in (await claims.view(h)).decisions if d.what == "documentation"]
    owing = RecordOnsiteReport(by="eng.li", fault="man_made_damage", owed=[TRAVEL])
    assert await claims.refusal(h, owing) == "policy konjump owes no fees for a visit"
    result = await claims.do(h, RecordOnsiteReport(by="eng.li", fault="man_made_damage"))
    assert result.state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert view.fees_owed == [] and decision(view, "fees").outcome == "travel, maintenance"
    assert await claims.refusal(h, SendQuote(by="amy", lines=[MAINTENANCE])) == "the quote must charge: travel"
    await claims.do(h, SendQuote(by="amy", lines=[MAINTENANCE, TRAVEL]))
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="eng.li", work_done="replaced cable on site"))
    await claims.do(h, RecordQualityCheck(by="eng.li", passed=True))
    result = await claims.do(h, RecordPayment(by="fin", amount=Decimal("750"), reference="INV-1"))
    assert result.state is S.COMPLETED

    # the shipped konjump with its reading set back to 1 decides the same way
    shipped = konjump.model_copy(update={"readings": 1})
    again = await claims.open(shipped, contract_warranty_months=24)
    await claims.do(again, ChooseChannel(by="eng.wu", channel="on_site_repair"))
    await claims.do(again, RecordDocumentation(by="amy", items=["photos of the panel"]))
    result = await claims.do(again, RecordOnsiteReport(by="eng.li", fault="man_made_damage"))
    assert result.state is S.AWAITING_QUOTE
    assert await claims.refusal(again, SendQuote(by="amy", lines=[MAINTENANCE])) == "the quote must charge: travel"
