"""The pure decision functions of models/rules.py, run against the Changkong policy.

"Today" always comes from `claimflow.calendars.local_today(policy.timezone)` under freezegun,
the way a client obtains it; the decision functions themselves get it as an argument.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from claimflow.calendars import local_today
from models.claim import ClaimIntake, Decision, InspectionFindings
from models.enums import ClaimKind, Fault, Party, Remedy
from models.policy import FreightCondition, FreightRule, Policy
from models.rules import (
    decide_freight,
    decide_remedy,
    intake_problems,
    policy_check,
    post_repair_warranty,
    return_eligibility,
    warranty_status,
)
from tests.conftest import intake

# A Wednesday, away from any Chinese public holiday; the day every claim below is opened.
TODAY = date(2026, 3, 11)


@contextmanager
def local_day(policy: Policy, day: date, at: time = time(12, 0)) -> Iterator[date]:
    """Freeze the wall clock at `at` o'clock local time on `day` and yield today's local date
    as a client reads it."""
    with freeze_time(datetime.combine(day, at, tzinfo=ZoneInfo(policy.timezone))):
        today = local_today(policy.timezone)
        assert today == day  # the frozen moment is the local day we meant
        yield today


@pytest.fixture
def today(changkong: Policy) -> Iterator[date]:
    with local_day(changkong, TODAY) as day:
        yield day


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


# --- return window -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "outcome", "clause_ids"),
    [
        (0, "eligible", ["RET-1", "RET-2"]),  # asked the day the goods arrived
        (1, "eligible", ["RET-1", "RET-2"]),
        (7, "eligible", ["RET-1", "RET-2"]),  # last day of the window
        (8, "refused", ["RET-X1"]),  # first day after it
        (30, "refused", ["RET-X1"]),
    ],
)
def test_return_window_counts_natural_days_from_receipt(changkong, day, outcome, clause_ids):
    received = date(2026, 3, 2)
    with local_day(changkong, received + timedelta(days=day)) as today:
        decision = return_eligibility(changkong, received, today, findings=None)
    assert decision.what == "return"
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids
    assert decision.inputs["day"] == day
    assert decision.inputs["window_days"] == 7


@pytest.mark.parametrize(
    ("day", "outcome", "clause_ids"),
    [
        (7, "accepted", ["RET-1", "RET-2"]),  # accepted under the return rule (RET-X7 is the shipping deadline's)
        (8, "rejected", ["RET-X1"]),
    ],
)
def test_policy_check_of_a_return_applies_the_window(changkong, day, outcome, clause_ids):
    received = date(2026, 3, 2)
    with local_day(changkong, received + timedelta(days=day)) as today:
        claim = intake(changkong, today, kind="return", goods_received_date=received)
        decision = policy_check(changkong, claim, today)
    assert decision.what == "policy_check"
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids


def test_return_eligibility_needs_the_receipt_date(changkong, today):
    with pytest.raises(ValueError, match="goods were received"):
        return_eligibility(changkong, None, today, findings=None)


@pytest.mark.parametrize(
    ("kind", "conditions", "outcome", "clause_ids"),
    [
        # a repair is accepted under IV.3 ("send it to the manufacturer"), not RET-X7, a return condition
        ("repair", [], "accepted", ["IV.3"]),
        ("return", ["documents_falsified"], "rejected", ["RET-X3"]),
        ("return", ["no_proof_for_return"], "rejected", ["RET-X3"]),
        ("return", ["misuse"], "accepted", ["RET-1", "RET-2"]),  # no_free_service: decided at inspection
    ],
)
def test_policy_check_refuses_on_refusing_conditions_only(changkong, today, kind, conditions, outcome, clause_ids):
    claim = intake(changkong, today, bought_days_ago=3, kind=kind, conditions=conditions)
    decision = policy_check(changkong, claim, today)
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize("conditions", [["documents_falsified"], ["misuse", "labels_tampered"], ["no_proof_for_return"]])
def test_return_conditions_on_a_repair_are_refused_at_intake(changkong, today, conditions):
    """001 lists these under "Returns cannot be requested …": they apply to returns. On a
    repair they would change nothing, so the intake names each instead of ignoring it."""
    claim = intake(changkong, today, bought_days_ago=3, kind="repair", conditions=conditions)
    problems = intake_problems(changkong, claim, today)
    assert len(problems) == len(conditions)
    for condition, problem in zip(conditions, problems):
        assert problem.startswith(f"{condition} applies to return claims under policy changkong (RET-X")
        assert problem.endswith("not to a repair claim")


def test_a_return_without_proof_of_purchase_is_rejected(changkong, today):
    """001 RET-X3: "Returns cannot be requested on failure to provide legitimate proof of
    purchase" — the intake's proof_of_purchase=false is enough, no condition needed."""
    claim = intake(changkong, today, bought_days_ago=3, kind="return", proof_of_purchase=False,
                   factory_shipment_date=today - timedelta(days=30))
    decision = policy_check(changkong, claim, today)
    assert (decision.outcome, decision.clause_ids) == ("rejected", ["RET-X3"])
    with_proof = policy_check(changkong, claim.model_copy(update={"proof_of_purchase": True}), today)
    assert with_proof.outcome == "accepted"


def test_policy_check_accepts_a_repair_out_of_warranty(changkong, today):
    """Out of warranty is still a (paid) repair, not a refusal."""
    claim = intake(changkong, today, bought_days_ago=400)
    assert warranty_status(changkong, claim, today).outcome == "not_covered"
    assert policy_check(changkong, claim, today).outcome == "accepted"


# --- warranty ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "outcome"),
    [(0, "covered"), (179, "covered"), (180, "covered"), (181, "not_covered"), (365, "not_covered")],
)
def test_warranty_with_proof_is_180_days_from_purchase_expiry_day_included(changkong, today, day, outcome):
    claim = intake(changkong, today, bought_days_ago=day)
    decision = warranty_status(changkong, claim, today)
    assert decision.what == "warranty"
    assert decision.outcome == outcome
    assert decision.clause_ids == ["I.1-PROOF"]
    assert decision.inputs["counted_from"] == "purchase"
    assert decision.inputs["day"] == day
    assert decision.inputs["last_covered_day"] == (claim.purchase_date + timedelta(days=180)).isoformat()


@pytest.mark.parametrize(
    ("day", "outcome"),
    [(30, "covered"), (239, "covered"), (240, "covered"), (241, "not_covered"), (500, "not_covered")],
)
def test_warranty_without_proof_is_240_days_from_factory_shipment(changkong, today, day, outcome):
    shipped = days_before(today, day)
    claim = intake(
        changkong,
        today,
        bought_days_ago=min(day, 20),  # factory shipment <= purchase <= receipt <= today
        proof_of_purchase=False,
        factory_shipment_date=shipped,
    )
    decision = warranty_status(changkong, claim, today)
    assert decision.outcome == outcome
    assert decision.clause_ids == ["I.1-NOPROOF"]
    assert decision.inputs["counted_from"] == "factory_shipment"
    assert decision.inputs["start"] == shipped.isoformat()
    assert decision.inputs["day"] == day


def test_warranty_with_proof_counts_from_purchase_even_when_the_factory_clock_would_cover(changkong, today):
    """The first clock that applies wins: with proof, day 181 from purchase is out of warranty
    although the factory shipment was only 200 days ago."""
    claim = intake(changkong, today, bought_days_ago=181, factory_shipment_date=days_before(today, 200))
    decision = warranty_status(changkong, claim, today)
    assert decision.outcome == "not_covered"
    assert decision.clause_ids == ["I.1-PROOF"]


def test_warranty_with_proof_but_no_purchase_date_falls_back_to_factory_shipment(changkong, today):
    claim = intake(changkong, today, purchase_date=None, factory_shipment_date=days_before(today, 240))
    decision = warranty_status(changkong, claim, today)
    assert decision.outcome == "covered"
    assert decision.clause_ids == ["I.1-NOPROOF"]


def test_warranty_that_cannot_be_counted_raises(changkong, today):
    claim = intake(changkong, today, proof_of_purchase=False, factory_shipment_date=None)
    with pytest.raises(ValueError, match="warranty cannot be counted"):
        warranty_status(changkong, claim, today)


# --- the local date near a time-zone edge --------------------------------------------


@pytest.mark.parametrize(
    ("moment", "local", "day", "outcome", "clause_ids"),
    [
        # 23:59:59 on 8 March in Shanghai: still day 7 after receipt on 1 March
        ("2026-03-08T15:59:59Z", date(2026, 3, 8), 7, "eligible", ["RET-1", "RET-2"]),
        # 01:00 on 9 March in Shanghai although it is still 8 March in UTC: day 8
        ("2026-03-08T17:00:00Z", date(2026, 3, 9), 8, "refused", ["RET-X1"]),
    ],
)
def test_the_policy_time_zone_decides_the_day_of_a_return(changkong, moment, local, day, outcome, clause_ids):
    received = date(2026, 3, 1)
    with freeze_time(moment):
        assert datetime.now().date() == date(2026, 3, 8)  # the UTC date does not move
        today = local_today(changkong.timezone)
        decision = return_eligibility(changkong, received, today, findings=None)
    assert today == local
    assert decision.inputs["day"] == day
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize(
    ("moment", "outcome"),
    [("2026-03-08T15:59:59Z", "covered"), ("2026-03-08T16:00:00Z", "not_covered")],
)
def test_the_policy_time_zone_decides_the_last_warranty_day(changkong, moment, outcome):
    last_day = date(2026, 3, 8)
    bought = last_day - timedelta(days=180)
    with freeze_time(moment):
        today = local_today(changkong.timezone)
        claim = intake(changkong, today, bought_days_ago=(today - bought).days)
        decision = warranty_status(changkong, claim, today)
    assert claim.purchase_date == bought
    assert decision.outcome == outcome
    assert decision.inputs["last_covered_day"] == last_day.isoformat()
    assert decision.clause_ids == ["I.1-PROOF"]


def test_decisions_do_not_read_the_clock(changkong):
    """Same facts, different wall clocks: the same decision."""
    claim = intake(changkong, TODAY, bought_days_ago=100)
    findings = InspectionFindings(fault=Fault.QUALITY_FAULT)
    results = []
    for moment in ("2026-03-11T04:00:00Z", "2031-12-31T23:00:00Z"):
        with freeze_time(moment):
            warranty = warranty_status(changkong, claim, TODAY)
            results.append((warranty, decide_remedy(changkong, claim, findings, TODAY, warranty, None)))
    assert results[0] == results[1]
    assert results[0][1].outcome == "free_repair"


# --- remedy --------------------------------------------------------------------------

RET_OK = ["RET-1", "RET-2"]


@pytest.mark.parametrize(
    ("claim", "findings", "outcome", "clause_ids"),
    [
        pytest.param(
            {"bought_days_ago": 30}, {"fault": "quality_fault"}, "free_repair", ["I.1-PROOF", "I.2"],
            id="quality-fault-in-warranty",
        ),
        pytest.param(
            {"bought_days_ago": 180}, {"fault": "quality_fault"}, "free_repair", ["I.1-PROOF", "I.2"],
            id="quality-fault-on-last-warranty-day",
        ),
        pytest.param(
            {"bought_days_ago": 181}, {"fault": "quality_fault"}, "paid_repair", ["I.1-PROOF", "IV.4"],
            id="quality-fault-out-of-warranty",
        ),
        pytest.param(
            {"bought_days_ago": 10, "proof_of_purchase": False, "factory_shipment_date": date(2025, 7, 1)},
            {"fault": "quality_fault"}, "paid_repair", ["I.1-NOPROOF", "IV.4"],
            id="quality-fault-out-of-factory-warranty",
        ),
        pytest.param(
            {"bought_days_ago": 30}, {"fault": "man_made_damage"}, "paid_repair", ["I.2", "IV.4"],
            id="man-made-damage-in-warranty",
        ),
        pytest.param(
            {"bought_days_ago": 300}, {"fault": "man_made_damage"}, "paid_repair", ["I.1-PROOF", "IV.4"],
            id="man-made-damage-out-of-warranty",
        ),
        pytest.param(
            {"bought_days_ago": 30}, {"fault": "no_fault_found"}, "rejected", ["I.2"],
            id="no-fault-found",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5},
            {"fault": "excluded_condition", "exclusions": ["misuse", "labels_tampered"]},
            "rejected", ["RET-X2", "RET-X4", "RET-X5"],
            id="return-two-exclusions",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5}, {"fault": "no_fault_found", "unused_and_complete": True},
            "refund", RET_OK,
            id="return-unused-and-complete",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5}, {"fault": "no_fault_found", "unused_and_complete": False},
            "rejected", ["RET-X2"],
            id="return-used-no-fault",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5}, {"fault": "quality_fault", "unused_and_complete": False},
            "refund", RET_OK,
            id="return-quality-fault-in-window",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5}, {"fault": "man_made_damage", "unused_and_complete": True},
            "rejected", ["RET-X2"],
            id="return-man-made-damage",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5},
            {"fault": "excluded_condition", "exclusions": ["incomplete_return"]}, "rejected", ["RET-X2"],
            id="return-incomplete-at-inspection",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5},
            {"fault": "quality_fault", "exclusions": ["misuse"]}, "rejected", ["RET-X2", "RET-X4"],
            id="return-misuse-at-inspection",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 5, "conditions": ["documents_falsified"]},
            {"fault": "no_fault_found", "unused_and_complete": True}, "rejected", ["RET-X3"],
            id="return-documents-falsified",
        ),
        pytest.param(
            {"kind": "return", "bought_days_ago": 10, "goods_received_date": date(2026, 3, 3)},
            {"fault": "quality_fault"}, "rejected", ["RET-X1"],
            id="return-asked-on-day-8",
        ),
    ],
)
def test_decide_remedy(changkong, today, claim, findings, outcome, clause_ids):
    intake_ = intake(changkong, today, **claim)
    warranty = warranty_status(changkong, intake_, today)
    decision = decide_remedy(changkong, intake_, InspectionFindings(**findings), today, warranty, None)
    assert decision.what == "remedy"
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids
    assert decision.inputs["fault"] == findings["fault"]
    assert set(decision.clause_ids) <= {c.id for c in changkong.clauses}


@pytest.mark.parametrize(
    ("fault", "window_end", "outcome", "clause_ids"),
    [
        ("quality_fault", 0, "free_repair", ["I.NOTE", "I.2"]),  # asked on the last day of the window
        ("quality_fault", 30, "free_repair", ["I.NOTE", "I.2"]),
        ("quality_fault", -1, "paid_repair", ["I.1-PROOF", "IV.4"]),  # one day after the window
        ("man_made_damage", 30, "paid_repair", ["I.2", "IV.4"]),  # the window covers own faults only
        ("no_fault_found", 30, "rejected", ["I.2"]),
    ],
)
def test_decide_remedy_in_the_post_repair_window(changkong, today, fault, window_end, outcome, clause_ids):
    claim = intake(changkong, today, bought_days_ago=250)
    warranty = warranty_status(changkong, claim, today)
    assert warranty.outcome == "not_covered"
    until = today + timedelta(days=window_end)
    decision = decide_remedy(changkong, claim, InspectionFindings(fault=fault), today, warranty, until)
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids
    assert decision.inputs["post_repair_warranty_until"] == until.isoformat()


@pytest.mark.parametrize(("condition", "clause_id"), [("misuse", "RET-X4"), ("labels_tampered", "RET-X5")])
def test_return_with_an_excluding_condition_at_intake_is_not_refunded(changkong, today, condition, clause_id):
    """RET-X4/RET-X5: no return for misuse or tampered labels. Recorded at inspection the
    return is refused (see test_decide_remedy); recorded at intake it should be too."""
    claim = intake(changkong, today, bought_days_ago=5, kind="return", conditions=[condition])
    warranty = warranty_status(changkong, claim, today)
    findings = InspectionFindings(fault=Fault.QUALITY_FAULT)
    decision = decide_remedy(changkong, claim, findings, today, warranty, None)
    assert decision.outcome == "rejected"
    assert clause_id in decision.clause_ids


# --- freight -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("remedy", "fault", "covered", "payer", "clause_ids"),
    [
        # III.1 "During the warranty period, the repair of damage caused by non-product quality
        # problems … the customer [pays] the return freight"; the way in is CF-FREIGHT-INBOUND's
        (Remedy.PAID_REPAIR, Fault.MAN_MADE_DAMAGE, True, Party.CUSTOMER, ["III.1", "CF-FREIGHT-INBOUND"]),
        (Remedy.PAID_REPAIR, Fault.EXCLUDED_CONDITION, True, Party.CUSTOMER, ["III.1", "CF-FREIGHT-INBOUND"]),
        # outside the warranty period, or nothing repaired: not III.1
        (Remedy.PAID_REPAIR, Fault.MAN_MADE_DAMAGE, False, Party.CUSTOMER, ["CF-FREIGHT-PAID"]),
        (Remedy.REJECTED, Fault.NO_FAULT_FOUND, True, Party.CUSTOMER, ["CF-FREIGHT-PAID"]),
        (Remedy.FREE_REPAIR, Fault.QUALITY_FAULT, True, Party.MANUFACTURER, ["CF-FREIGHT-COVERED"]),
        (Remedy.PAID_REPAIR, Fault.QUALITY_FAULT, False, Party.CUSTOMER, ["CF-FREIGHT-PAID"]),
        (Remedy.REJECTED, Fault.QUALITY_FAULT, False, Party.CUSTOMER, ["CF-FREIGHT-PAID"]),
    ],
)
def test_decide_freight_first_matching_rule(changkong, remedy, fault, covered, payer, clause_ids):
    decision = decide_freight(changkong, remedy, fault, covered)
    assert decision.what == "freight"
    assert decision.clause_ids == clause_ids
    assert decision.outcome == f"{payer.value} pays both ways"
    assert decision.inputs == {"remedy": remedy.value, "fault": fault.value, "covered": covered}


@pytest.mark.parametrize(
    ("fault", "payer"), [(Fault.QUALITY_FAULT, "manufacturer"), (Fault.NO_FAULT_FOUND, "customer")]
)
def test_a_refund_ships_one_way(changkong, fault, payer):
    """CF-FREIGHT-RETURN: a returned product travels to the factory only; the manufacturer
    pays for a performance failure of its own (RET-2), the customer for an unused product (RET-1)."""
    decision = decide_freight(changkong, Remedy.REFUND, fault, False, ClaimKind.RETURN)
    assert decision.outcome == f"to the factory: {payer} pays freight; nothing goes back"
    assert decision.clause_ids == ["CF-FREIGHT-RETURN"]


def test_a_software_upgrade_is_the_customers_freight_both_ways(changkong):
    """001 III.2: "software upgrades on behalf of [the customer]: the round-trip freight [is]
    borne by the customer"."""
    decision = decide_freight(changkong, Remedy.PAID_SERVICE, Fault.NO_FAULT_FOUND, False, ClaimKind.SERVICE)
    assert (decision.outcome, decision.clause_ids) == ("customer pays both ways", ["III.2"])


def test_decide_freight_names_both_payers_when_they_differ(changkong):
    split = FreightRule(
        when=FreightCondition(),
        to_factory=Party.CUSTOMER,
        back_to_customer=Party.MANUFACTURER,
        clause_ids=["III.1"],
    )
    policy = changkong.model_copy(update={"freight": [split]})
    decision = decide_freight(policy, Remedy.FREE_REPAIR, Fault.QUALITY_FAULT, True)
    assert decision.outcome == "customer pays to the factory, manufacturer pays back"
    assert decision.clause_ids == ["III.1"]


# --- post-repair warranty ------------------------------------------------------------


@pytest.mark.parametrize(
    ("shipped_back", "last_day"),
    [
        (date(2026, 3, 11), date(2026, 5, 10)),
        (date(2026, 1, 15), date(2026, 3, 16)),  # across February of a common year
        (date(2028, 1, 15), date(2028, 3, 15)),  # across 29 February
        (date(2026, 11, 20), date(2027, 1, 19)),  # across the year end
    ],
)
def test_post_repair_warranty_is_60_days_from_ship_back(changkong, shipped_back, last_day):
    decision = post_repair_warranty(changkong, shipped_back)
    assert isinstance(decision, Decision)
    assert decision.what == "post_repair_warranty"
    assert decision.outcome == last_day.isoformat()
    assert decision.clause_ids == ["I.NOTE"]
    assert decision.inputs == {"shipped_back_on": shipped_back.isoformat(), "days": 60}


def test_no_post_repair_warranty_without_the_rule(changkong):
    policy = changkong.model_copy(update={"post_repair_warranty": None})
    assert post_repair_warranty(policy, TODAY) is None


# --- intake problems -----------------------------------------------------------------


def test_a_complete_intake_has_no_problems(changkong, today):
    assert intake_problems(changkong, intake(changkong, today)) == []
    assert intake_problems(changkong, intake(changkong, today, kind="return", conditions=["misuse"])) == []


def test_an_unknown_condition_is_reported(changkong, today):
    claim = intake(changkong, today, kind="return", conditions=["misuse", "dropped_in_lake"])
    problems = intake_problems(changkong, claim)
    assert len(problems) == 1
    assert "'dropped_in_lake'" in problems[0]
    assert "misuse" in problems[0] and "force_majeure" in problems[0]  # lists what the policy knows


@pytest.mark.parametrize(
    ("changes", "counted"),
    [
        ({"proof_of_purchase": False, "factory_shipment_date": None}, False),
        ({"proof_of_purchase": True, "purchase_date": None, "factory_shipment_date": None}, False),
        ({"proof_of_purchase": False}, True),  # factory shipment date known
        ({"proof_of_purchase": True, "factory_shipment_date": None}, True),  # purchase date known
    ],
)
def test_an_intake_whose_warranty_cannot_be_counted_is_reported(changkong, today, changes, counted):
    problems = intake_problems(changkong, intake(changkong, today, **changes))
    if counted:
        assert problems == []
    else:
        assert len(problems) == 1
        assert "warranty cannot be counted" in problems[0]
        assert "factory_shipment_date" in problems[0]


def test_a_return_under_a_policy_without_returns_is_reported(changkong, today):
    policy = changkong.model_copy(update={"returns": None})
    claim = intake(policy, today, bought_days_ago=3, kind="return")
    problems = intake_problems(policy, claim)
    assert problems == ["policy changkong takes no returns; open a repair claim"]


def test_intake_helper_keeps_dates_in_order(changkong, today):
    """Sanity check of the data the tests above rely on."""
    claim = intake(changkong, today, bought_days_ago=181)
    assert isinstance(claim, ClaimIntake)
    assert claim.factory_shipment_date <= claim.purchase_date <= claim.goods_received_date <= today
