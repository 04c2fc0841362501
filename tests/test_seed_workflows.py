"""One claim per seed policy through the workflow, on the time-skipping server: every service
channel the policies name, the Three Guarantees tiers, not-repairable products, a defect scope.
Each records its history for the replay test (RECORD_HISTORIES=1)."""

from decimal import Decimal

import pytest

from models.actions import (
    ApproveQuote,
    ChooseChannel,
    CompleteRepair,
    ConfirmDelivery,
    ReceiveParcel,
    RecordDetermination,
    RecordDocumentation,
    RecordInspection,
    RecordOnsiteReport,
    RecordPayment,
    RecordQualityCheck,
    RecordRefund,
    ResolveRemotely,
    SendQuote,
    ShipBack,
)
from models.enums import ClaimState as S
from tests.test_claim_lifecycle import decision


async def ship_and_deliver(claims, h):
    await claims.do(h, ShipBack(by="amy", carrier="SF Express", tracking_number="SF-7"))
    return await claims.do(h, ConfirmDelivery(by="amy"))


# --- seed 000: Three Guarantees, non-repairable products -----------------------------


@pytest.mark.parametrize(
    ("day", "remedy", "next_state"),
    [(5, "refund", S.REFUND_DUE), (12, "replacement", S.AWAITING_SHIP_BACK), (20, "free_repair", S.REPAIRING)],
)
async def test_best_lighting_three_guarantees_by_day(claims, best_lighting, day, remedy, next_state, record_history):
    h = await claims.open(best_lighting, bought_days_ago=day, kind="return", contract_warranty_months=12)
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    assert result.state is next_state
    view = await claims.view(h)
    tier_clauses = {t.remedy.value: t.clause_ids for t in best_lighting.warranty.tiers}
    assert decision(view, "remedy").outcome == remedy
    if remedy in tier_clauses:
        assert decision(view, "remedy").clause_ids == tier_clauses[remedy]
    if remedy == "refund":
        await claims.do(h, RecordRefund(by="fin", amount=Decimal("59.90"), reference="RF-9"))
        assert (await h.result()).state is S.COMPLETED
        await record_history(h, "best_lighting_refund")
    if remedy == "replacement":
        assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
        await record_history(h, "best_lighting_replacement")


async def test_best_lighting_not_repairable(claims, best_lighting, record_history):
    condition = best_lighting.non_repairable[0]
    # covered: replaced; out of the contract's warranty: not repairable, sent back
    covered = await claims.open(best_lighting, bought_days_ago=40, contract_warranty_months=12)
    await claims.do(covered, ReceiveParcel(by="amy"))
    await claims.do(covered, RecordInspection(by="tom", fault="quality_fault", non_repairable=[condition.id]))
    view = await claims.view(covered)
    assert decision(view, "remedy").outcome == "replacement"
    assert set(best_lighting.warranty.replacement_clause_ids) <= set(decision(view, "remedy").clause_ids)

    h = await claims.open(best_lighting, bought_days_ago=400, contract_warranty_months=12)
    await claims.do(h, ReceiveParcel(by="amy"))
    result = await claims.do(h, RecordInspection(by="tom", fault="quality_fault", non_repairable=[condition.id]))
    assert result.state is S.AWAITING_SHIP_BACK
    view = await claims.view(h)
    assert decision(view, "remedy").outcome == "not_repairable"
    assert decision(view, "remedy").clause_ids == condition.clause_ids
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    await record_history(h, "best_lighting_not_repairable")


# --- seed 002: remote guidance, return repair with customs, on-site engineer ---------


async def test_konjump_remote_guidance_resolves_without_a_parcel(claims, konjump, record_history):
    h = await claims.open(konjump, contract_warranty_months=24)
    view = await claims.view(h)
    assert view.state is S.REMOTE_GUIDANCE and view.rma_number is None
    assert [d.kind.value for d in view.open_deadlines] == ["remote_guidance"]  # CF-DL-REMOTE-GUIDANCE
    assert decision(view, "channel").outcome == "remote_guidance"
    assert decision(view, "channel").clause_ids == konjump.channel("remote_guidance").clause_ids
    check = decision(view, "policy_check")
    assert check.reason.endswith("remote guidance first") and check.clause_ids == decision(view, "channel").clause_ids
    await claims.do(h, ResolveRemotely(by="eng.wu", summary="DMX address was wrong"))
    final = await h.result()
    assert final.state is S.COMPLETED and decision(final, "channel").outcome == "resolved_remotely"
    await record_history(h, "konjump_remote_guidance")


async def test_konjump_return_repair_customer_pays_customs(claims, konjump, record_history):
    h = await claims.open(konjump, contract_warranty_months=24)
    # no RMA yet: remote guidance comes first
    assert "receive_parcel is not allowed while the claim is remote_guidance" in await claims.refusal(
        h, ReceiveParcel(by="amy")
    )
    result = await claims.do(h, ChooseChannel(by="eng.wu", channel="return_repair"))
    assert result.state is S.AWAITING_PARCEL
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    view = await claims.view(h)
    assert view.rma_number == f"RMA-{h.id}" and view.channel == "return_repair"
    freight = decision(view, "freight")
    assert "customs" in freight.reason and "insurance" in freight.reason
    # 3.2.2 b: KONJUMP "only bear the shipping cost" back; 3.2.2 c: it bears no customs, nor
    # any responsibility for damage and loss in transport (the insurance stays the customer's)
    assert "back to the customer: manufacturer pays freight; customer pays insurance, customs" in freight.reason
    assert freight.clause_ids == ["3.2.2 b", "3.2.2 c"]
    await claims.do(h, CompleteRepair(by="tom", work_done="new driver board"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    await record_history(h, "konjump_return_repair_as_written")


async def test_konjump_on_site_documentation_first_then_fees_when_not_covered(claims, konjump, record_history):
    on_site = konjump.channel("on_site_repair")
    h = await claims.open(konjump, contract_warranty_months=24)
    assert (await claims.do(h, ChooseChannel(by="eng.wu", channel="on_site_repair"))).state is S.AWAITING_DOCUMENTATION
    refused = await claims.refusal(h, RecordOnsiteReport(by="eng.li", fault="quality_fault"))
    assert "not allowed while the claim is awaiting_documentation" in refused  # documentation first
    await claims.do(h, RecordDocumentation(by="amy", items=["photos of the panel", "video of the flicker"]))
    documentation = decision(await claims.view(h), "documentation")
    assert documentation.outcome == "received" and documentation.clause_ids == ["3.2.3 b", "3.3.3"]
    # not covered: the visit's travel is owed whatever the answer to the repair quote (3.2.3 c)
    damage = RecordOnsiteReport(by="eng.li", fault="man_made_damage", notes="cable cut")
    refused = await claims.refusal(h, damage)
    assert refused.startswith("a visit found not covered owes travel whatever the answer to a quote (3.2.3 c)")
    travel = {"item": "travel", "amount": "450"}
    result = await claims.do(h, damage.model_copy(update={"owed": [travel]}))
    assert result.state is S.AWAITING_DETERMINATION  # "the headquarters of KONJUMP finally determines"
    result = await claims.do(h, RecordDetermination(by="hq.chen", within_policy=False))
    assert result.state is S.AWAITING_QUOTE
    view = await claims.view(h)
    assert decision(view, "determination").outcome == "not_covered"
    assert decision(view, "determination").clause_ids == on_site.determination_clause_ids == ["3.2.3 c"]
    fees = decision(view, "fees")
    assert fees.outcome == "travel, maintenance"
    assert fees.clause_ids == on_site.fees_clause_ids
    assert [(line.item, line.amount) for line in view.fees_owed] == [("travel", Decimal("450"))]
    only_repair = SendQuote(by="amy", lines=[{"item": "maintenance", "amount": "300"}])
    with_travel = SendQuote(by="amy", lines=[{"item": "maintenance", "amount": "300"}, travel])
    refused = await claims.refusal(h, with_travel)
    assert refused.startswith("already owed from the visit, whatever the answer to this quote: travel")
    assert await claims.refusal(h, SendQuote(by="amy", lines=[travel])) == "the quote must charge: maintenance"
    await claims.do(h, only_repair)
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="eng.li", work_done="replaced cable on site"))
    await claims.do(h, RecordQualityCheck(by="eng.li", passed=True))
    refused = await claims.refusal(h, RecordPayment(by="fin", amount=Decimal("300.00"), reference="INV-3"))
    assert "does not match the approved quote and the visit's fees of 750" in refused
    result = await claims.do(h, RecordPayment(by="fin", amount=Decimal("750.00"), reference="INV-3"))
    assert result.state is S.COMPLETED  # on site: nothing to ship back
    await record_history(h, "konjump_on_site_paid_as_written")


# --- seed 003: repair within 3 days of arrival, Three Guarantees cited ----------------


async def test_shanghai_repair_sla_runs_from_parcel_arrival(claims, shanghai, record_history):
    h = await claims.open(shanghai, bought_days_ago=100)
    await claims.do(h, ReceiveParcel(by="amy"))
    view = await claims.view(h)
    sla = [d for d in view.open_deadlines if d.kind == "repair"]
    assert len(sla) == 1 and sla[0].clause_ids == shanghai.deadlines.repair.clause_ids
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    view = await claims.view(h)
    assert [d.cycle for d in view.deadlines if d.kind == "repair"] == [1]  # the same SLA, not a new one
    assert decision(view, "remedy").outcome == "free_repair"
    await claims.do(h, CompleteRepair(by="tom", work_done="new compressor relay"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    assert (await ship_and_deliver(claims, h)).state is S.COMPLETED
    await record_history(h, "shanghai_free_repair")


async def test_shanghai_out_of_warranty_quote_uses_the_policy_fee_items(claims, shanghai):
    h = await claims.open(shanghai, bought_days_ago=500)
    await claims.do(h, ReceiveParcel(by="amy"))
    refused = await claims.refusal(h, RecordInspection(by="tom", fault="quality_fault", replace=True))
    assert refused == "policy shanghai_equipment does not replace products"
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    refused = await claims.refusal(h, SendQuote(by="amy", lines=[{"item": "gold plating", "amount": "10"}]))
    assert refused.startswith("fee items not in policy shanghai_equipment: gold plating")
    item = shanghai.fee_items[0]
    assert (await claims.do(h, SendQuote(by="amy", lines=[{"item": item, "amount": "10"}]))).state is S.AWAITING_APPROVAL


# --- seed 004: on-site check over a listed defect scope ------------------------------


async def test_model_figures_on_site_check_repairs_a_listed_defect_free(claims, figures, record_history):
    h = await claims.open(figures, bought_days_ago=60)
    view = await claims.view(h)
    assert view.state is S.ONSITE_VISIT and view.rma_number is None
    defect = figures.warranty.scope[0]
    refused = await claims.refusal(h, RecordOnsiteReport(by="pro.zhao", fault="quality_fault", defect="aliens"))
    assert refused.startswith(f"unknown defect aliens; policy model_figures knows: {defect.id}")
    result = await claims.do(h, RecordOnsiteReport(by="pro.zhao", fault="quality_fault", defect=defect.id))
    assert result.state is S.COMPLETED
    final = await h.result()
    assert decision(final, "remedy").outcome == "free_repair"
    assert set(defect.clause_ids) <= set(decision(final, "remedy").clause_ids)
    assert decision(final, "fees").outcome == "none"
    await record_history(h, "model_figures_on_site_free")


async def test_model_figures_quality_fault_names_a_listed_defect_other_problems_are_paid_service(claims, figures):
    h = await claims.open(figures, bought_days_ago=60)
    # clause 2 lists the scope of quality assurance: a quality fault is one of those four
    refused = await claims.refusal(h, RecordOnsiteReport(by="pro.zhao", fault="quality_fault", notes="dusty"))
    assert refused.startswith("a quality fault under policy model_figures names its defect")
    for defect in figures.warranty.scope:
        assert f"{defect.id} ({defect.label})" in refused
    assert refused.endswith("A problem outside that scope is recorded as fault not_in_scope (paid service)")
    # clause 4: "a non-quality problem that requires services" is paid service
    result = await claims.do(h, RecordOnsiteReport(by="pro.zhao", fault="not_in_scope", notes="base glue loose"))
    assert result.state is S.AWAITING_QUOTE
    view = await claims.view(h)
    remedy = decision(view, "remedy")
    assert remedy.outcome == "paid_repair" and "outside the warranty's defect scope" in remedy.reason
    assert remedy.clause_ids == ["2A", "2B", "2C", "2D", "4"]
    assert decision(view, "fees").outcome == "service"
    refused = await claims.refusal(h, RecordOnsiteReport(by="pro.zhao", fault="quality_fault", defect="aliens"))
    assert "not allowed while the claim is awaiting_quote" in refused
