"""No intake can wedge a claim: any claim intake is either refused by the model (one clear
line per problem), or checked against the policy by `claim_input`, which accepts it or
refuses it with one clear message; never another exception. For an intake accepted
under each seed policy, the decisions the workflow makes from it never raise.
Pure: no server."""

from collections import Counter
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from claimflow.claims import ClaimError, claim_input
from models import rules
from models.claim import ClaimInput, ClaimIntake, InspectionFindings
from models.deadline_table import deadline_table
from tests.strategies import (
    POLICIES,
    POLICY_NAMES,
    examples,
    findings_fields,
    intake_dicts,
    one_clear_line,
    one_clear_line_per_problem,
)

KB = 1024
todays = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@st.composite
def cases(draw):
    name = draw(st.sampled_from(POLICY_NAMES))
    today = draw(todays)
    return name, today, draw(intake_dicts(POLICIES[name], today))


def accepted(name: str, today: date, raw: dict) -> ClaimInput | None:
    """The claim input of an accepted intake, or None after checking the refusal is clear."""
    try:
        intake = ClaimIntake.model_validate(raw)
    except ValidationError as error:
        one_clear_line_per_problem(error)
        return None
    try:
        claim = claim_input(intake, POLICIES[name], today)
    except ClaimError as error:
        one_clear_line(str(error))
        return None
    return claim


@settings(max_examples=examples(150, 5_000))
@given(cases())
def test_an_intake_is_accepted_or_refused_with_one_clear_message(case):
    name, today, raw = case
    claim = accepted(name, today, raw)
    if claim is None:
        return
    sent = claim.model_dump_json()  # what the workflow receives
    assert ClaimInput.model_validate_json(sent) == claim
    assert len(claim.intake.model_dump_json().encode()) < 64 * KB


@settings(max_examples=examples(400, 5_000))
@given(
    name=st.sampled_from(POLICY_NAMES),
    today=todays,
    data=st.data(),
    later=st.integers(0, 800),
    post_repair=st.none() | st.integers(-5, 200),
)
def test_decisions_on_an_accepted_intake_never_raise(name, today, data, later, post_repair):
    policy = POLICIES[name]
    claim = accepted(name, today, data.draw(intake_dicts(policy, today, corruptions=0), label="intake"))
    if claim is None:
        return
    intake = claim.intake
    check = rules.policy_check(policy, intake, today)  # what the workflow decides when it opens
    warranty = rules.warranty_status(policy, intake, today)
    rules.decide_channel(policy)
    deadline_table(policy, intake.kind)
    if check.outcome == "rejected":
        return
    # a fault reported later (report_fault) and the inspection's remedy, freight and fees
    asked_on = today + timedelta(days=later)
    warranty_then = rules.warranty_status(policy, intake, asked_on)
    raw_findings = data.draw(st.fixed_dictionaries(findings_fields(policy)), label="findings")
    try:
        findings = InspectionFindings.model_validate(raw_findings)
    except ValidationError as error:  # excluded_condition without an exclusion
        one_clear_line_per_problem(error)
        return
    until = None if post_repair is None else asked_on + timedelta(days=post_repair)
    for asked, basis in [(today, warranty), (asked_on, warranty_then)]:
        remedy = rules.decide_remedy(policy, intake, findings, asked, basis, until)
        assert remedy.remedy is not None
        covered = rules.is_covered(basis, asked, until)
        rules.decide_freight(policy, remedy.remedy, findings.fault, covered)
        for channel in [c.kind for c in policy.channels] or ["return_repair"]:
            rules.decide_fees(policy, channel, rules.free_of_charge(remedy.remedy))
    rules.post_repair_warranty(policy, asked_on)


def test_the_intake_strategy_reaches_every_outcome():
    """The generator is not so hostile that nothing gets through, nor so tame that nothing
    is refused: the model refuses some intakes, the policy others, and every policy
    accepts some."""
    outcomes: dict[str, Counter] = {name: Counter() for name in POLICY_NAMES}

    @settings(max_examples=examples(300, 1_000), database=None)
    @given(cases())
    def collect(case):
        name, today, raw = case
        try:
            intake = ClaimIntake.model_validate(raw)
        except ValidationError:
            outcomes[name]["invalid"] += 1
            return
        try:
            claim_input(intake, POLICIES[name], today)
        except ClaimError:
            outcomes[name]["refused"] += 1
            return
        outcomes[name]["accepted"] += 1

    collect()
    assert all(seen["accepted"] for seen in outcomes.values()), outcomes
    total = sum(outcomes.values(), Counter())
    assert min(total["invalid"], total["refused"], total["accepted"]) >= sum(total.values()) // 10, outcomes


def test_a_claim_number_typed_in_lower_case_is_kept_in_upper_case():
    from pydantic import TypeAdapter

    from models.claim import ClaimNumber

    assert TypeAdapter(ClaimNumber).validate_python(" ck-1001 ") == "CK-1001"
