"""The seed policies as data (seeds 000, 002, 003, 004) and the pure rules of models/rules.py
run against them: boundaries of every warranty clock and Three Guarantees tier, every
exclusion, every freight rule, the service channels and their fees.

Expected outcomes and clause ids are written out here from the seeds, not read back from
the policy files, so a change to a file that changes a decision fails a test. "Today"
comes from `claimflow.calendars.local_today(policy.timezone)` under freezegun, the way a
client obtains it; the decision functions get it as an argument.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from claimflow.policy_files import load_policy, load_policy_file, policy_names
from claimflow.settings import REPO_ROOT
from claimflow.calendars import local_today
from models.calendar import WorkCalendar
from models.claim import InspectionFindings
from models.deadlines import due_at
from models.enums import ClaimKind, DeadlineKind, EscalationLevel, Fault, Remedy
from models.policy import Policy
from models.rules import (
    decide_channel,
    decide_fees,
    decide_freight,
    decide_remedy,
    intake_problems,
    policy_check,
    warranty_status,
)
from tests.conftest import POLICY_DIR, intake

SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"
SEED_OF = {
    "best_lighting": "000_4a8c5f16cd22aa80.txt",
    "changkong": "001_c3c7366cec5789fa.txt",
    "konjump": "002_6e364de50cdd8270.txt",
    "shanghai_equipment": "003_fc84aafc2582112d.txt",
    "model_figures": "004_05454fb550a4e3be.txt",
}
NEW = ["best_lighting", "konjump", "shanghai_equipment", "model_figures"]  # written from seeds 000–004
ALL = sorted(SEED_OF)
ON_FILE = policy_names(POLICY_DIR)

TODAY = date(2026, 3, 11)  # a Wednesday away from Chinese public holidays

# Contract months for the policies whose warranty period comes with the claim (000, 002).
CONTRACT = {"best_lighting": {"contract_warranty_months": 12}, "konjump": {"contract_warranty_months": 24}}

PAID = {  # warranty.paid_repair_clause_ids, as the seeds give them
    "best_lighting": ["4.2"],
    "konjump": ["3.2.3 c", "CF-PAID-REPAIR"],
    "shanghai_equipment": ["Commitment 3", "Beyond 1", "Beyond 2", "Beyond 3"],
    "model_figures": ["4"],
}


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return {name: load_policy(POLICY_DIR, name) for name in ALL}


@contextmanager
def local_day(policy: Policy, day: date, at: time = time(12, 0)) -> Iterator[date]:
    """Freeze the wall clock at `at` local time on `day`; yield today as a client reads it."""
    with freeze_time(datetime.combine(day, at, tzinfo=ZoneInfo(policy.timezone))):
        today = local_today(policy.timezone)
        assert today == day
        yield today


def claim(policy: Policy, today: date, bought_days_ago: int = 30, **changes):
    """A claim under `policy` with the contract period the policy needs, unless overridden."""
    return intake(policy, today, bought_days_ago, **(CONTRACT.get(policy.name, {}) | changes))


def remedy_of(policy: Policy, today: date, findings: dict, bought_days_ago: int = 30, **changes):
    claim_ = claim(policy, today, bought_days_ago, **changes)
    assert intake_problems(policy, claim_) == []
    warranty = warranty_status(policy, claim_, today)
    return decide_remedy(policy, claim_, InspectionFindings(**findings), today, warranty, None)


# --- every policy file ---------------------------------------------------------------


def test_all_five_policies_are_on_file():
    assert ON_FILE == ALL


@pytest.mark.parametrize("name", ON_FILE)
def test_policy_file_loads(name):
    policy = load_policy_file(POLICY_DIR / f"{name}.toml")
    assert policy.name == name
    assert (policy.timezone, policy.holiday_country, policy.currency) == ("Asia/Shanghai", "CN", "CNY")
    assert re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", policy.source_seed)
    assert policy.source_seed == SEED_OF[name]


@pytest.mark.parametrize("name", ON_FILE)
def test_policy_names_an_existing_seed_file(name):
    if not SEEDS_DIR.is_dir():
        pytest.skip(f"no seed folder at {SEEDS_DIR}")
    assert (SEEDS_DIR / load_policy(POLICY_DIR, name).source_seed).is_file()


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("best_lighting", ["Best Lighting", "Jiasi", "Jusse"]),
        ("konjump", ["Chongqing KONJUMP Opto Co., LTD."]),
        ("shanghai_equipment", ["Shanghai", "names no company"]),
        ("model_figures", ["model figures", "names no company"]),
    ],
)
def test_manufacturer(policies, name, says):
    assert all(word in policies[name].manufacturer for word in says)


def citations(policy: Policy) -> dict[str, list[str]]:
    """Where each rule cites clauses, walked field by field."""
    w = policy.warranty
    cited: dict[str, list[str]] = {
        "warranty.quality_clause_ids": w.quality_clause_ids,
        "warranty.paid_repair_clause_ids": w.paid_repair_clause_ids,
    }
    if w.replacement_clause_ids:
        cited["warranty.replacement_clause_ids"] = w.replacement_clause_ids
    if w.no_proof_clause_ids:
        cited["warranty.no_proof_clause_ids"] = w.no_proof_clause_ids
    if policy.service:
        cited["service"] = policy.service.clause_ids
    if policy.returns:
        for field in ("clause_ids", "late_clause_ids", "condition_clause_ids", "proof_clause_ids"):
            if getattr(policy.returns, field):
                cited[f"returns.{field}"] = getattr(policy.returns, field)
    if policy.post_repair_warranty:
        cited["post_repair_warranty"] = policy.post_repair_warranty.clause_ids
    if policy.service_hours:
        cited["service_hours"] = policy.service_hours.clause_ids
    if policy.fee_clause_ids:
        cited["fee_clause_ids"] = policy.fee_clause_ids
    groups: list[tuple[str, list[Any]]] = [
        ("clocks", w.clocks),
        ("tiers", w.tiers),
        ("scope", w.scope),
        ("exclusions", policy.exclusions),
        ("non_repairable", policy.non_repairable),
        ("freight", policy.freight),
    ]
    for group, items in groups:
        for n, item in enumerate(items):
            cited[f"{group}.{n}"] = item.clause_ids
    for kind in ("shipping", "quote", "repair", "payment"):
        if getattr(policy.deadlines, kind) is not None:
            cited[f"deadlines.{kind}"] = getattr(policy.deadlines, kind).clause_ids
    for channel in policy.channels:
        cited[f"channels.{channel.kind}"] = channel.clause_ids
        if channel.documentation_required:
            cited[f"channels.{channel.kind}.documentation"] = channel.documentation_clause_ids
        if channel.fees_if_not_covered:
            cited[f"channels.{channel.kind}.fees"] = channel.fees_clause_ids
        if channel.determination_clause_ids:
            cited[f"channels.{channel.kind}.determination"] = channel.determination_clause_ids
    if (c := policy.complaints) is not None:
        for field in ("clause_ids", "reply_clause_ids", "emergency_clause_ids", "feedback_clause_ids",
                      "leader_clause_ids"):  # fmt: skip
            cited[f"complaints.{field}"] = getattr(c, field)
        for group, items in (("departments", c.departments), ("categories", c.categories), ("levels", c.levels)):
            for n, item in enumerate(items):
                cited[f"complaints.{group}.{n}"] = item.clause_ids
    return cited


def every_cited_id(data: Any) -> set[str]:
    """Every value under a key ending in `clause_ids`, anywhere in the dumped policy."""
    if isinstance(data, dict):
        return set().union(
            *(set(v) if k.endswith("clause_ids") else every_cited_id(v) for k, v in data.items())
        )
    if isinstance(data, list):
        return set().union(*(every_cited_id(item) for item in data))
    return set()


@pytest.mark.parametrize("name", ALL)
def test_policy_cites_only_defined_clauses(policies, name):
    policy = policies[name]
    defined = [c.id for c in policy.clauses]
    assert len(defined) == len(set(defined))
    cited = citations(policy)
    assert {where: ids for where, ids in cited.items() if not ids} == {}  # every rule cites a clause
    assert {where: ids for where, ids in cited.items() if not set(ids) <= set(defined)} == {}
    # the field-by-field walk missed no citation
    assert every_cited_id(policy.model_dump()) == {i for ids in cited.values() for i in ids}


def fragments(text: str) -> list[str]:
    """A clause's text cut after each . ; : that ends a phrase, trailing punctuation dropped."""
    pieces = re.split(r"(?<=[.;:])\s+", " ".join(text.split()))
    return [p.rstrip(".;:") for p in pieces if p.rstrip(".;:")]


@pytest.mark.parametrize("name", NEW)
def test_clauses_quote_the_seed_and_cf_clauses_say_they_are_claimflows(policies, name):
    policy = policies[name]
    if not SEEDS_DIR.is_dir():
        pytest.skip(f"no seed folder at {SEEDS_DIR}")
    seed = " ".join((SEEDS_DIR / policy.source_seed).read_text(encoding="utf-8").split())
    for clause in policy.clauses:
        if clause.id.startswith("CF-"):
            assert "claimflow" in clause.text, clause.id
        else:
            missing = [f for f in fragments(clause.text) if f not in seed]
            assert missing == [], f"{clause.id} does not quote the seed: {missing}"


# --- numbers in the rules and the words of the clauses they cite ---------------------

WORDS = {3: "three", 6: "six", 12: "one year"}  # as the seeds write them


@pytest.mark.parametrize(
    ("name", "number", "clause_id", "phrase"),
    [
        ("best_lighting", lambda p: p.warranty.tiers[0].up_to_day, "5.1", "within {} days from the time of purchase"),
        ("best_lighting", lambda p: p.warranty.tiers[1].up_to_day, "5.2", "within 8-{} days"),
        ("shanghai_equipment", lambda p: p.warranty.tiers[0].up_to_day, "CF-THREE-GUARANTEES", "within {} days"),
        ("shanghai_equipment", lambda p: p.warranty.tiers[1].up_to_day, "CF-THREE-GUARANTEES", "within 8-{} days"),
        ("shanghai_equipment", lambda p: WORDS[p.warranty.clocks[0].months], "Commitment 3", "guaranteed for {}"),
        ("shanghai_equipment", lambda p: WORDS[p.deadlines.repair.days], "Guarantee 2", "within {} days after"),
        ("model_figures", lambda p: WORDS[p.warranty.clocks[0].months], "1", "period is {} months"),
    ],
)
def test_numbers_in_the_rules_match_the_clauses_they_cite(policies, name, number, clause_id, phrase):
    assert phrase.format(number(policies[name])) in policies[name].clause_text(clause_id)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("kind", ["shipping", "quote", "repair", "payment"])
def test_deadline_has_a_ladder_and_cf_deadlines_state_their_days(policies, name, kind):
    if getattr(policies[name].deadlines, kind) is None:  # 004: nothing is ever shipped in
        assert (kind, policies[name].ships_to_factory) == ("shipping", False)
        return
    rule = policies[name].deadline_rule(DeadlineKind(kind))
    assert [s.level for s in rule.ladder] == [
        EscalationLevel.REMINDER,
        EscalationLevel.AGENT,
        EscalationLevel.SUPERVISOR,
        EscalationLevel.MANAGER,
    ]
    offsets = [s.offset_hours for s in rule.ladder]
    assert offsets[0] < 0 and offsets[1] == 0 and offsets == sorted(offsets)
    for clause_id in rule.clause_ids:
        if clause_id.startswith("CF-"):  # claimflow's own rule says what it sets
            assert f"{rule.days} {rule.calendar} days" in policies[name].clause_text(clause_id)


@pytest.mark.parametrize(
    ("name", "hours"),
    [
        ("best_lighting", ("09:00", "24:00", ["TS"], "9:00-24:00")),
        ("shanghai_equipment", ("08:30", "18:00", ["Guarantee 1"], "from 8:30 to 18:00")),
        ("konjump", None),
        ("model_figures", None),
    ],
)
def test_service_hours(policies, name, hours):
    policy = policies[name]
    if hours is None:
        assert policy.service_hours is None
        return
    opens, closes, clause_ids, words = hours
    assert (policy.service_hours.opens, policy.service_hours.closes) == (opens, closes)
    assert policy.service_hours.clause_ids == clause_ids
    assert words in policy.clause_text(clause_ids[0])


# --- Three Guarantees (000 paragraph 5, 003 Commitment 2) ----------------------------

BL_FREE = ["CF-PERIOD", "2.2", "2.3", "6.1", "1", "5.3"]  # clock, then quality clauses
SH_TIER = ["Commitment 2", "CF-THREE-GUARANTEES"]
SH_FREE = ["Commitment 3", "Note 1", "Commitment 2"]


@pytest.mark.parametrize(
    ("name", "day", "fault", "outcome", "clause_ids"),
    [
        ("best_lighting", 0, "quality_fault", "refund", ["5.1", "CF-PROOF"]),
        ("best_lighting", 7, "quality_fault", "refund", ["5.1", "CF-PROOF"]),
        ("best_lighting", 8, "quality_fault", "replacement", ["5.2", "CF-PROOF"]),
        ("best_lighting", 15, "quality_fault", "replacement", ["5.2", "CF-PROOF"]),
        ("best_lighting", 16, "quality_fault", "free_repair", BL_FREE),
        ("best_lighting", 3, "man_made_damage", "paid_repair", ["1", "5.3", "4.2"]),  # not its own fault
        ("best_lighting", 3, "no_fault_found", "rejected", ["1", "5.3"]),
        ("shanghai_equipment", 7, "quality_fault", "refund", SH_TIER),
        ("shanghai_equipment", 8, "quality_fault", "replacement", SH_TIER),
        ("shanghai_equipment", 15, "quality_fault", "replacement", SH_TIER),
        ("shanghai_equipment", 16, "quality_fault", "free_repair", SH_FREE),
    ],
)
def test_three_guarantees_by_day_since_purchase(policies, name, day, fault, outcome, clause_ids):
    policy = policies[name]
    with local_day(policy, TODAY) as today:
        claim_ = claim(policy, today, bought_days_ago=day, kind="return")
        assert intake_problems(policy, claim_) == []
        assert policy_check(policy, claim_, today).outcome == "accepted"
        warranty = warranty_status(policy, claim_, today)
        decision = decide_remedy(policy, claim_, InspectionFindings(fault=fault), today, warranty, None)
    assert warranty.outcome == "covered"
    assert decision.what == "remedy"
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids
    if outcome in ("refund", "replacement"):
        assert decision.inputs["day_since_purchase"] == day


@pytest.mark.parametrize("name", ["best_lighting", "shanghai_equipment"])
def test_a_repair_claim_gets_no_refund_in_the_first_days(policies, name):
    """The tiers are for a product given back (kind return); a repair claim is repaired."""
    with local_day(policies[name], TODAY) as today:
        decision = remedy_of(policies[name], today, {"fault": "quality_fault"}, bought_days_ago=3)
    assert decision.outcome == "free_repair"


# --- 000: products that cannot be repaired --------------------------------------------


@pytest.mark.parametrize(
    ("condition", "clause_id"),
    [
        ("shell_seriously_damaged", "3.1"),
        ("fracture_or_cracking", "3.2"),
        ("power_supply_burnt", "3.3"),
        ("fragile_glass", "3.4"),
    ],
)
@pytest.mark.parametrize(
    ("bought_days_ago", "outcome", "replacement"),
    [(40, "replacement", ["1"]), (366 + 30, "not_repairable", [])],  # contract of 12 months
)
def test_best_lighting_non_repairable(policies, condition, clause_id, bought_days_ago, outcome, replacement):
    policy = policies["best_lighting"]
    with local_day(policy, TODAY) as today:
        findings = {"fault": "quality_fault", "non_repairable": [condition]}
        decision = remedy_of(policy, today, findings, bought_days_ago=bought_days_ago)
    assert decision.outcome == outcome
    assert decision.clause_ids == [*replacement, clause_id]


# --- warranty clocks: the last covered day and the day after --------------------------


@pytest.mark.parametrize(
    ("name", "changes", "bought", "asked", "outcome", "last_day", "length", "clause_ids"),
    [
        ("konjump", {"contract_warranty_months": 24}, date(2024, 3, 11), date(2026, 3, 11), "covered",
         date(2026, 3, 11), "24 months (sales contract)", ["1", "2"]),
        ("konjump", {"contract_warranty_months": 24}, date(2024, 3, 11), date(2026, 3, 12), "not_covered",
         date(2026, 3, 11), "24 months (sales contract)", ["1", "2"]),
        ("konjump", {"contract_warranty_months": 36}, date(2024, 3, 11), date(2026, 3, 12), "covered",
         date(2027, 3, 11), "36 months (sales contract)", ["1", "2"]),
        ("best_lighting", {"contract_warranty_months": 12}, date(2025, 1, 31), date(2026, 1, 31), "covered",
         date(2026, 1, 31), "12 months (sales contract)", ["CF-PERIOD", "2.2", "2.3", "6.1"]),
        ("best_lighting", {"contract_warranty_months": 12}, date(2025, 1, 31), date(2026, 2, 1), "not_covered",
         date(2026, 1, 31), "12 months (sales contract)", ["CF-PERIOD", "2.2", "2.3", "6.1"]),
        # one year: the same calendar date a year later (day 365), then no more
        ("shanghai_equipment", {}, date(2025, 3, 11), date(2026, 3, 11), "covered",
         date(2026, 3, 11), "12 months", ["Commitment 3", "Note 1"]),
        ("shanghai_equipment", {}, date(2025, 3, 11), date(2026, 3, 12), "not_covered",
         date(2026, 3, 11), "12 months", ["Commitment 3", "Note 1"]),
        ("shanghai_equipment", {}, date(2024, 2, 29), date(2025, 2, 28), "covered",
         date(2025, 2, 28), "12 months", ["Commitment 3", "Note 1"]),
        ("shanghai_equipment", {}, date(2024, 2, 29), date(2025, 3, 1), "not_covered",
         date(2025, 2, 28), "12 months", ["Commitment 3", "Note 1"]),
        ("model_figures", {}, date(2025, 9, 11), date(2026, 3, 11), "covered",
         date(2026, 3, 11), "6 months", ["1"]),
        ("model_figures", {}, date(2025, 9, 11), date(2026, 3, 12), "not_covered",
         date(2026, 3, 11), "6 months", ["1"]),
        ("model_figures", {}, date(2025, 8, 31), date(2026, 2, 28), "covered",
         date(2026, 2, 28), "6 months", ["1"]),
        ("model_figures", {}, date(2025, 8, 31), date(2026, 3, 1), "not_covered",
         date(2026, 2, 28), "6 months", ["1"]),
    ],
)
def test_warranty_last_covered_day(policies, name, changes, bought, asked, outcome, last_day, length, clause_ids):
    policy = policies[name]
    with local_day(policy, asked) as today:
        claim_ = intake(policy, today, bought_days_ago=(today - bought).days, **changes)
        decision = warranty_status(policy, claim_, today)
    assert claim_.purchase_date == bought
    assert decision.outcome == outcome
    assert decision.inputs["last_covered_day"] == last_day.isoformat()
    assert decision.inputs["day"] == (asked - bought).days
    assert f"warranty of {length}," in decision.reason
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize(
    ("asked", "outcome", "clause_ids"),
    [
        (date(2026, 3, 11), "free_repair", ["1", "2", "3", "3.1.1", "3.1.2", "3.1.3", "3.3.2 c", "3.3.2 d"]),
        (date(2026, 3, 12), "paid_repair", ["1", "2", "3.2.3 c", "CF-PAID-REPAIR"]),
    ],
)
def test_konjump_remedy_at_the_end_of_the_contract_period(policies, asked, outcome, clause_ids):
    policy = policies["konjump"]
    with local_day(policy, asked) as today:
        decision = remedy_of(
            policy, today, {"fault": "quality_fault"}, bought_days_ago=(today - date(2024, 3, 11)).days
        )
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("konjump", {}),  # the sales contract's months not recorded
        ("konjump", {"purchase_date": None, "contract_warranty_months": 24}),
        ("best_lighting", {}),  # the product's period not recorded
    ],
)
def test_a_warranty_from_the_contract_needs_its_months(policies, name, changes):
    policy = policies[name]
    with local_day(policy, TODAY) as today:
        claim_ = intake(policy, today, **changes)
        problems = intake_problems(policy, claim_)
        assert problems == ["the warranty cannot be counted: give purchase_date and contract_warranty_months"]
        with pytest.raises(ValueError, match="warranty cannot be counted"):
            warranty_status(policy, claim_, today)


# --- 004: the defect scope of clause 2 ------------------------------------------------

FIGURES_FREE = ["3", "System 11"]
ALL_SCOPE = ["2A", "2B", "2C", "2D"]


@pytest.mark.parametrize(
    ("bought_days_ago", "findings", "outcome", "clause_ids"),
    [
        (60, {"fault": "quality_fault", "defect": "paint_cracks_or_peels"}, "free_repair", ["1", "2A", *FIGURES_FREE]),
        (60, {"fault": "quality_fault", "defect": "colour_difference"}, "free_repair", ["1", "2B", *FIGURES_FREE]),
        (60, {"fault": "quality_fault", "defect": "unstable_or_tilting"}, "free_repair", ["1", "2C", *FIGURES_FREE]),
        (60, {"fault": "quality_fault", "defect": "broken_hands_or_feet"}, "free_repair", ["1", "2D", *FIGURES_FREE]),
        (60, {"fault": "quality_fault"}, "paid_repair", [*ALL_SCOPE, "4"]),  # no defect named
        (60, {"fault": "quality_fault", "defect": "scratched_base"}, "paid_repair", [*ALL_SCOPE, "4"]),
        (200, {"fault": "quality_fault", "defect": "broken_hands_or_feet"}, "paid_repair", ["1", "4"]),
        (60, {"fault": "man_made_damage", "defect": "broken_hands_or_feet"}, "paid_repair", [*FIGURES_FREE, "4"]),
        (60, {"fault": "no_fault_found"}, "rejected", FIGURES_FREE),
    ],
)
def test_model_figures_defect_scope(policies, bought_days_ago, findings, outcome, clause_ids):
    policy = policies["model_figures"]
    with local_day(policy, TODAY) as today:
        decision = remedy_of(policy, today, findings, bought_days_ago=bought_days_ago)
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids


# --- exclusions: every one of every seed ----------------------------------------------

EXCLUSIONS = [
    ("best_lighting", "free_sample", "no_free_service", ["2.1"]),
    ("best_lighting", "improper_installation_or_storage", "no_free_service", ["2.4", "6.2"]),
    ("best_lighting", "normal_wear", "no_free_service", ["2.5"]),
    ("best_lighting", "shell_damage_non_quality", "no_free_service", ["2.6"]),
    ("best_lighting", "improper_use", "no_free_service", ["2.7"]),
    ("best_lighting", "natural_disaster", "no_free_service", ["2.8"]),
    ("best_lighting", "other_non_quality", "no_free_service", ["2.9"]),
    ("best_lighting", "certificate_mismatch", "no_free_service", ["6.3"]),
    ("best_lighting", "counterfeit", "refuse", ["6.4"]),
    ("konjump", "not_purchased_directly", "no_free_service", ["1"]),
    ("shanghai_equipment", "no_warranty_card", "no_free_service", ["Note 2"]),
    ("shanghai_equipment", "card_or_invoice_altered", "no_free_service", ["Note 3"]),
    ("shanghai_equipment", "counterfeit", "refuse", ["Note 4"]),
    ("shanghai_equipment", "barcode_mismatch", "no_free_service", ["Note 5"]),
    ("shanghai_equipment", "damage_by_other_outlet", "no_free_service", ["Note 6", "CF-NOTE-6"]),
    ("shanghai_equipment", "improper_power_or_disaster_or_use", "no_free_service", ["Note 7"]),
    ("shanghai_equipment", "no_purchase_invoice", "no_free_service", ["Note 8"]),
]


@pytest.mark.parametrize("name", NEW)
def test_every_exclusion_is_in_the_table(policies, name):
    assert [e.id for e in policies[name].exclusions] == [x[1] for x in EXCLUSIONS if x[0] == name]


@pytest.mark.parametrize(("name", "exclusion", "effect", "clause_ids"), EXCLUSIONS)
@pytest.mark.parametrize("recorded", ["at_inspection", "at_intake"])
def test_exclusion_on_a_covered_quality_fault(policies, name, exclusion, effect, clause_ids, recorded):
    policy = policies[name]
    assert policy.exclusion(exclusion).effect == effect
    findings = {"fault": "quality_fault"}
    changes = {}
    if recorded == "at_inspection":
        findings["exclusions"] = [exclusion]
    else:
        changes["conditions"] = [exclusion]
    with local_day(policy, TODAY) as today:
        claim_ = claim(policy, today, **changes)
        check = policy_check(policy, claim_, today)
        warranty = warranty_status(policy, claim_, today)
        decision = decide_remedy(policy, claim_, InspectionFindings(**findings), today, warranty, None)
    assert warranty.outcome == "covered"
    if effect == "refuse":
        assert (decision.outcome, decision.clause_ids) == ("rejected", clause_ids)
        if recorded == "at_intake":
            assert (check.outcome, check.clause_ids) == ("rejected", clause_ids)
    else:
        assert (decision.outcome, decision.clause_ids) == ("paid_repair", [*clause_ids, *PAID[name]])
        assert check.outcome == "accepted"
    assert decision.inputs["exclusions"] == exclusion


# --- freight: each rule of each seed --------------------------------------------------

R, F = Remedy, Fault


@pytest.mark.parametrize(
    ("name", "remedy", "fault", "covered", "payer", "clause_ids"),
    [
        (name, remedy, fault, covered, payer, clause_ids)
        for name in ("best_lighting", "shanghai_equipment", "model_figures")
        for remedy, fault, covered, payer, clause_ids in [
            (R.FREE_REPAIR, F.QUALITY_FAULT, True, "manufacturer", ["CF-FREIGHT-COVERED"]),
            (R.REPLACEMENT, F.QUALITY_FAULT, True, "manufacturer", ["CF-FREIGHT-COVERED"]),
            (R.PAID_REPAIR, F.QUALITY_FAULT, True, "customer", ["CF-FREIGHT-OTHER"]),  # an exclusion applied
            (R.PAID_REPAIR, F.QUALITY_FAULT, False, "customer", ["CF-FREIGHT-OTHER"]),
            (R.NOT_REPAIRABLE, F.QUALITY_FAULT, False, "customer", ["CF-FREIGHT-OTHER"]),
            (R.PAID_REPAIR, F.MAN_MADE_DAMAGE, True, "customer", ["CF-FREIGHT-OTHER"]),
            (R.PAID_REPAIR, F.EXCLUDED_CONDITION, True, "customer", ["CF-FREIGHT-OTHER"]),
            (R.REJECTED, F.NO_FAULT_FOUND, True, "customer", ["CF-FREIGHT-OTHER"]),
        ]
    ]
    ,
)
def test_freight_both_ways(policies, name, remedy, fault, covered, payer, clause_ids):
    decision = decide_freight(policies[name], remedy, fault, covered)
    assert decision.what == "freight"
    assert decision.outcome == f"{payer} pays both ways"
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize("name", ["best_lighting", "shanghai_equipment"])
def test_a_three_guarantees_refund_ships_one_way(policies, name):
    """A refund takes the product back and sends nothing: no freight "back" is charged."""
    decision = decide_freight(policies[name], R.REFUND, F.QUALITY_FAULT, True, ClaimKind.RETURN)
    assert decision.outcome == "to the factory: manufacturer pays freight; nothing goes back"
    assert decision.clause_ids == ["CF-FREIGHT-COVERED"]


@pytest.mark.parametrize(
    ("remedy", "fault", "covered", "back", "clause_ids"),
    [
        # 3.2.2 b/c: KONJUMP "only bear[s] the shipping cost" back; customs of the way back and the
        # transport risk ("does not bear any responsibility for … transportation") stay with the customer
        (R.FREE_REPAIR, F.QUALITY_FAULT, True, "manufacturer pays freight; customer pays insurance, customs",
         ["3.2.2 b", "3.2.2 c"]),
        (R.REPLACEMENT, F.QUALITY_FAULT, True, "manufacturer pays freight; customer pays insurance, customs",
         ["3.2.2 b", "3.2.2 c"]),
        (R.PAID_REPAIR, F.QUALITY_FAULT, False, "customer pays freight, insurance, customs", ["CF-FREIGHT-NOT-COVERED"]),
        (R.PAID_REPAIR, F.QUALITY_FAULT, True, "customer pays freight, insurance, customs", ["CF-FREIGHT-NOT-COVERED"]),
        (R.PAID_REPAIR, F.MAN_MADE_DAMAGE, True, "customer pays freight, insurance, customs", ["CF-FREIGHT-NOT-COVERED"]),
        (R.REJECTED, F.NO_FAULT_FOUND, True, "customer pays freight, insurance, customs", ["CF-FREIGHT-NOT-COVERED"]),
    ],
)
def test_konjump_freight_insurance_and_customs_per_leg(policies, remedy, fault, covered, back, clause_ids):
    decision = decide_freight(policies["konjump"], remedy, fault, covered)
    there, _, back_leg = decision.reason.partition("; back to the customer: ")
    assert there == "to the factory: customer pays freight, insurance, customs"  # always, 3.2.2 b
    assert back_leg == back
    assert "manufacturer" not in there
    assert decision.outcome == f"{there}; back: {back}"
    assert decision.clause_ids == clause_ids


# --- service channels and their fees --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "first", "clause_ids", "offered"),
    [
        ("best_lighting", "return_repair", ["4.1"], ["return_repair"]),
        ("konjump", "remote_guidance", ["3.2.1", "3.3.1"], ["remote_guidance", "return_repair", "on_site_repair"]),
        ("shanghai_equipment", "return_repair", ["Guarantee 2", "Guarantee 3"], ["return_repair"]),
        ("model_figures", "on_site_check", ["3", "System 1"], ["on_site_check"]),
        ("changkong", "return_repair", ["IV.3"], ["return_repair"]),  # IV.3: "send it to the manufacturer"
    ],
)
def test_service_starts_with_the_first_channel(policies, name, first, clause_ids, offered):
    policy = policies[name]
    assert [c.kind for c in policy.channels] == offered
    decision = decide_channel(policy)
    assert decision.what == "channel"
    assert decision.outcome == first
    assert decision.reason == "service starts with " + first.replace("_", " ")
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize(
    ("name", "requested", "offers"),
    [
        ("best_lighting", "on_site_repair", "return_repair"),
        ("konjump", "on_site_check", "remote_guidance, return_repair, on_site_repair"),
        ("shanghai_equipment", "remote_guidance", "return_repair"),
        ("model_figures", "return_repair", "on_site_check"),
    ],
)
def test_an_unoffered_channel_is_refused_naming_the_offered_ones(policies, name, requested, offers):
    with pytest.raises(ValueError) as caught:
        decide_channel(policies[name], requested)
    assert str(caught.value) == f"policy {name} offers no {requested} service; it offers: {offers}"


@pytest.mark.parametrize(
    ("requested", "clause_ids"),
    [
        ("remote_guidance", ["3.2.1", "3.3.1"]),
        ("return_repair", ["3.2.2 a", "3.3.2 a", "3.3.2 b"]),
        ("on_site_repair", ["3.2.3 a", "3.2.3 d"]),
    ],
)
def test_konjump_moves_to_a_channel_it_offers(policies, requested, clause_ids):
    decision = decide_channel(policies["konjump"], requested)
    assert decision.outcome == requested
    assert decision.reason == "service moves to " + requested.replace("_", " ")
    assert decision.clause_ids == clause_ids


def test_konjump_on_site_repair_needs_documentation_first(policies):
    on_site = policies["konjump"].channel("on_site_repair")
    assert on_site.documentation_required is True
    assert on_site.documentation_clause_ids == ["3.2.3 b", "3.3.3"]
    assert not any(c.documentation_required for p in NEW for c in policies[p].channels if c.kind != "on_site_repair")


@pytest.mark.parametrize(
    ("name", "channel", "covered", "outcome", "clause_ids"),
    [
        ("konjump", "on_site_repair", False, "travel, maintenance", ["3.2.3 c"]),
        ("konjump", "on_site_repair", True, "none", ["3.2.3 a", "3.2.3 d"]),
        ("konjump", "return_repair", False, "none", ["3.2.2 a", "3.3.2 a", "3.3.2 b"]),
        ("konjump", "remote_guidance", False, "none", ["3.2.1", "3.3.1"]),
        ("model_figures", "on_site_check", False, "service", ["4"]),
        ("model_figures", "on_site_check", True, "none", ["3", "System 1"]),
        ("best_lighting", "return_repair", False, "none", ["4.1"]),
        ("shanghai_equipment", "return_repair", False, "none", ["Guarantee 2", "Guarantee 3"]),
    ],
)
def test_fees_of_a_channel(policies, name, channel, covered, outcome, clause_ids):
    decision = decide_fees(policies[name], channel, covered)
    assert decision.what == "fees"
    assert decision.outcome == outcome
    assert decision.clause_ids == clause_ids


@pytest.mark.parametrize(
    ("name", "fee_items", "fee_clause_ids"),
    [
        ("best_lighting", [], []),  # the seed names no cost items: quote lines are free text
        ("konjump", ["maintenance", "travel"], ["3.2.3 c"]),
        ("shanghai_equipment", ["door-to-door", "maintenance", "remote", "auxiliary material", "spare parts"],
         ["Beyond 2", "Beyond 3"]),
        ("model_figures", ["service"], ["4"]),
    ],
)
def test_fee_items(policies, name, fee_items, fee_clause_ids):
    policy = policies[name]
    assert (policy.fee_items, policy.fee_clause_ids) == (fee_items, fee_clause_ids)
    for item in fee_items:  # each item is one the cited clauses name
        assert any(item.split()[0] in policy.clause_text(c) for c in fee_clause_ids)


# --- the repair deadline --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "days", "calendar", "starts_at", "clause_ids"),
    [
        ("best_lighting", 7, "working", "repair_start", ["CF-REPAIR"]),
        ("konjump", 10, "working", "repair_start", ["CF-REPAIR", "3.3.2 d"]),
        # CF-REPAIR-DAYS reads Guarantee 2's "three days": natural days, the quality test inside them
        ("shanghai_equipment", 3, "natural", "parcel_received", ["Guarantee 2", "CF-REPAIR-DAYS"]),
        ("model_figures", 7, "working", "repair_start", ["CF-REPAIR"]),
    ],
)
def test_repair_deadline_rule(policies, name, days, calendar, starts_at, clause_ids):
    rule = policies[name].deadlines.repair
    assert (rule.days, rule.calendar, rule.starts_at, rule.clause_ids) == (days, calendar, starts_at, clause_ids)


@pytest.mark.parametrize(
    ("received", "due"),
    [
        # Friday afternoon: Saturday, Sunday and Monday count; due at the end of Monday
        (datetime(2026, 3, 13, 15, 0), datetime(2026, 3, 17, 0, 0)),
        # late on Wednesday: Thursday, Friday, Saturday
        (datetime(2026, 3, 11, 23, 30), datetime(2026, 3, 15, 0, 0)),
        # across the Labour Day holidays, which natural days do not skip
        (datetime(2026, 4, 30, 9, 0), datetime(2026, 5, 4, 0, 0)),
    ],
)
def test_shanghai_repairs_within_three_natural_days_of_arrival(policies, received, due):
    policy = policies["shanghai_equipment"]
    tz = ZoneInfo(policy.timezone)
    holidays = WorkCalendar(holidays=frozenset({date(2026, 5, 1), date(2026, 5, 4)}))  # ignored: natural days
    assert due_at(policy.deadlines.repair, received.replace(tzinfo=tz), policy.timezone, holidays) == due.replace(
        tzinfo=tz
    )


# --- outcomes decided with the policy engine's later fixes ---------------------------


@pytest.fixture(scope="module")
def best_lighting_policy():
    return load_policy(POLICY_DIR, "best_lighting")


def test_without_proof_a_proof_only_warranty_is_simply_not_covered(best_lighting_policy):
    bl, today = best_lighting_policy, date(2026, 3, 11)
    claim = intake(bl, today, proof_of_purchase=False, contract_warranty_months=12)
    assert intake_problems(bl, claim) == []  # the claim opens: service is paid, not refused
    warranty = warranty_status(bl, claim, today)
    assert warranty.outcome == "not_covered" and "no valid proof of purchase" in warranty.reason
    # 2.3: "Products without a valid purchase certificate" are outside the warranty scope (CF-PROOF's reading)
    assert warranty.clause_ids == ["2.3", "CF-PROOF"]
    remedy = decide_remedy(bl, claim, InspectionFindings(fault="quality_fault"), today, warranty, None)
    assert remedy.outcome == "paid_repair"


@pytest.mark.parametrize(("day", "outcome", "tier"), [(3, "refund", "5.1"), (12, "replacement", "5.2")])
def test_a_three_guarantees_return_needs_neither_a_certificate_nor_the_warranty_length(
    best_lighting_policy, day, outcome, tier
):
    """000 5.1/5.2: "valid purchase certificate *or detailed product information*" — CF-PROOF
    reads it as no certificate needed for the Three Guarantees; and they count days since
    purchase, so the warranty length (not in the seed) must not hold the claim up."""
    bl, today = best_lighting_policy, date(2026, 3, 11)
    claim = intake(bl, today, bought_days_ago=day, kind="return", proof_of_purchase=False)
    assert claim.contract_warranty_months is None
    assert intake_problems(bl, claim, today) == []
    assert policy_check(bl, claim, today).outcome == "accepted"
    warranty = warranty_status(bl, claim, today)
    assert warranty.outcome == "not_counted"
    remedy = decide_remedy(bl, claim, InspectionFindings(fault="quality_fault"), today, warranty, None)
    assert (remedy.outcome, remedy.clause_ids) == (outcome, [tier, "CF-PROOF"])


def test_a_return_past_the_three_guarantees_still_needs_the_warranty_length(best_lighting_policy):
    bl, today = best_lighting_policy, date(2026, 3, 11)
    claim = intake(bl, today, bought_days_ago=20, kind="return")
    assert intake_problems(bl, claim, today) == [
        "the warranty cannot be counted: give purchase_date and contract_warranty_months"
    ]


@pytest.fixture(scope="module")
def shanghai_policy():
    return load_policy(POLICY_DIR, "shanghai_equipment")


@pytest.mark.parametrize("kind", ["repair", "return"])
def test_shanghai_without_proof_of_purchase_gets_no_free_service(shanghai_policy, kind):
    """003 Notes 2 and 8: no free warranty service when the "Product warranty card cannot
    be provided" or the user "Cannot provide purchase invoice or valid purchase certificate"."""
    sh, today = shanghai_policy, date(2026, 3, 11)
    claim = intake(sh, today, bought_days_ago=5, kind=kind, proof_of_purchase=False)
    warranty = warranty_status(sh, claim, today)
    assert (warranty.outcome, warranty.clause_ids) == ("not_covered", ["Note 2", "Note 8", "CF-NO-PROOF"])
    remedy = decide_remedy(sh, claim, InspectionFindings(fault="quality_fault"), today, warranty, None)
    assert remedy.outcome == "paid_repair"  # not a free repair, nor a Three Guarantees refund


def test_the_refund_tier_wins_over_a_non_repairable_condition(best_lighting_policy):
    bl, today = best_lighting_policy, date(2026, 3, 11)
    claim = intake(bl, today, bought_days_ago=3, kind="return", contract_warranty_months=12)
    findings = InspectionFindings(fault="quality_fault", non_repairable=["fragile_glass"])
    remedy = decide_remedy(bl, claim, findings, today, warranty_status(bl, claim, today), None)
    assert remedy.outcome == "refund" and remedy.clause_ids == bl.warranty.tiers[0].clause_ids


@pytest.mark.parametrize(("name", "outcome"), [("best_lighting", "replacement"), ("changkong", "free_repair")])
def test_an_inspector_may_replace_only_where_the_policy_allows(name, outcome):
    policy, today = load_policy(POLICY_DIR, name), date(2026, 3, 11)
    claim = intake(policy, today, contract_warranty_months=12)
    findings = InspectionFindings(fault="quality_fault", replace=True)
    remedy = decide_remedy(policy, claim, findings, today, warranty_status(policy, claim, today), None)
    assert remedy.outcome == outcome
    assert set(policy.warranty.replacement_clause_ids) <= set(remedy.clause_ids)


def test_a_changkong_return_needs_the_receipt_date():
    changkong, today = load_policy(POLICY_DIR, "changkong"), date(2026, 3, 11)
    claim = intake(changkong, today, kind="return", goods_received_date=None)
    assert "a return needs goods_received_date" in intake_problems(changkong, claim)


@pytest.mark.parametrize(
    ("name", "local_time", "is_open"),
    [
        ("best_lighting", "08:59", False), ("best_lighting", "09:00", True), ("best_lighting", "23:59", True),
        ("best_lighting", "00:00", False), ("shanghai_equipment", "08:29", False),
        ("shanghai_equipment", "08:30", True), ("shanghai_equipment", "17:59", True),
        ("shanghai_equipment", "18:00", False),
    ],
)  # fmt: skip
def test_service_desk_is_open(name, local_time, is_open):
    policy = load_policy(POLICY_DIR, name)
    hour, minute = map(int, local_time.split(":"))
    moment = datetime(2026, 3, 11, hour, minute, tzinfo=ZoneInfo(policy.timezone))
    assert policy.service_hours.is_open(moment, policy.timezone) is is_open
