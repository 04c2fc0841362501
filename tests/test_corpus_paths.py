"""The lifecycle paths tests/test_history_corpus.py found without a recorded history under
today's engine: a claim rejected at opening, and claims cancelled (before the parcel ships,
and with a quote waiting for its answer). Each drives the claim on the time-skipping server,
checks where it ends, and records its history (`make histories`; never overwriting one).
"""

from models.actions import CancelClaim
from models.enums import ClaimState as S
from tests.test_claim_lifecycle import decision, quoted_paid_repair


async def test_a_return_asked_on_day_eight_is_rejected(claims, changkong, record_history):
    h = await claims.open(changkong, bought_days_ago=10, kind="return")  # received 8 days ago
    final = await h.result()
    assert final.state is S.REJECTED and final.remedy is None and final.allowed_actions == []
    check = decision(final, "policy_check")
    assert (check.outcome, check.clause_ids, check.inputs["day"]) == ("rejected", ["RET-X1"], 8)
    assert final.deadlines == [] and final.rma_number is None
    await record_history(h, "changkong_return_rejected_late")


async def test_a_claim_cancelled_before_the_parcel_ships(claims, changkong, record_history):
    h = await claims.open(changkong)
    assert (await claims.view(h)).state is S.AWAITING_PARCEL
    result = await claims.do(h, CancelClaim(by="amy", reason="customer withdrew the claim"))
    assert result.state is S.CANCELLED and result.allowed_actions == []
    final = await h.result()
    assert final.state is S.CANCELLED and not final.open_deadlines
    assert "claim cancelled: customer withdrew the claim" in [e.summary for e in final.timeline]
    await record_history(h, "changkong_cancelled_awaiting_parcel")


async def test_a_claim_cancelled_with_its_quote_unanswered(claims, changkong, record_history):
    h = await quoted_paid_repair(claims, changkong)
    assert (await claims.view(h)).state is S.AWAITING_APPROVAL
    await claims.do(h, CancelClaim(by="sue.supervisor", reason="customer asked for the product back unrepaired"))
    final = await h.result()
    assert final.state is S.CANCELLED and final.remedy == "paid_repair"
    assert not final.open_deadlines and final.quote.answer is None
    await record_history(h, "changkong_cancelled_awaiting_approval")
