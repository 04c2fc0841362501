"""No policy file can wedge a claim: a seed policy's text, mutated (lines deleted or
duplicated, numbers made zero, negative or huge, strings replaced by garbage, clause ids
swapped, the text cut short), is either refused by `parse_policy` with a PolicyError that
names the file on every line, or accepted, and then the workflow can compute every
deadline and warranty from it. Pure: no server."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from models import rules
from models.calendar import WorkCalendar
from models.claim import ClaimIntake
from models.deadlines import due_at
from models.enums import ClaimKind, DeadlineKind
from models.policy import Policy, PolicyError, parse_policy
from tests.strategies import POLICY_NAMES, POLICY_TEXTS, examples, mutated_policy_texts, one_clear_line

SOURCE = "policies/fuzzed.toml"
OPENED = datetime(2026, 6, 1, 9, 30, tzinfo=timezone.utc)
TODAY = OPENED.date()


def parsed(text: str) -> Policy | None:
    """The policy, or None after checking the refusal names the file on every line."""
    try:
        return parse_policy(text, SOURCE)
    except PolicyError as error:
        assert error.problems
        for field, reason in error.problems:
            one_clear_line(f"{field}: {reason}")
        assert all(line.startswith(f"{SOURCE}: ") for line in str(error).splitlines())
        return None


def intake_for(policy: Policy, kind: ClaimKind, proof: bool, bought_days_ago: int) -> ClaimIntake:
    bought = TODAY - timedelta(days=bought_days_ago)
    return ClaimIntake(
        claim_number="FUZZ-1",
        policy=policy.name,
        kind=kind,
        customer={"name": "Li Wei", "contact": "li.wei@example.com"},
        product={"model": "CK-200", "serial_number": "SN-1"},
        proof_of_purchase=proof,
        purchase_date=bought,
        goods_received_date=bought,
        factory_shipment_date=bought - timedelta(days=30),
        contract_warranty_months=24,
        fault_description="does not power on",
        opened_by="amy",
    )


def the_workflow_can_use(policy: Policy) -> None:
    """What the workflow computes from a policy when a claim opens and its timers run."""
    calendar = WorkCalendar()
    for kind in [k for k in DeadlineKind if k.value in ("shipping", "quote", "repair", "payment")]:
        if getattr(policy.deadlines, kind.value) is None:  # no shipping where nothing is shipped in
            continue
        rule = policy.deadlines.rule(kind)
        due = due_at(rule, OPENED, policy.timezone, calendar)
        for step in rule.ladder:
            due + timedelta(hours=step.offset_hours)
    if policy.post_repair_warranty is not None:
        due_at(policy.deadline_rule(DeadlineKind.POST_REPAIR_WARRANTY), OPENED, policy.timezone, calendar)
        rules.post_repair_warranty(policy, TODAY)
    for kind in ClaimKind:
        for proof in (True, False):
            intake = intake_for(policy, kind, proof, bought_days_ago=10)
            if rules.intake_problems(policy, intake):
                continue
            rules.policy_check(policy, intake, TODAY)
            rules.warranty_status(policy, intake, TODAY)


@settings(max_examples=examples(200, 10_000))
@given(mutated_policy_texts())
def test_a_policy_file_is_accepted_or_refused_with_the_file_named(case):
    _, text = case
    policy = parsed(text)
    if policy is not None:
        the_workflow_can_use(policy)


@settings(max_examples=examples(60, 1_000))
@given(name=st.sampled_from(POLICY_NAMES), data=st.data())
def test_a_policy_number_set_to_anything_is_accepted_or_refused(name, data):
    """Every number of a seed policy, one at a time, set to zero, negative or huge."""
    from tests.strategies import NUMBER, huge_or_odd_numbers

    text = POLICY_TEXTS[name]
    found = list(NUMBER.finditer(text))
    m = data.draw(st.sampled_from(found), label="number")
    new = data.draw(huge_or_odd_numbers, label="value")
    policy = parsed(text[: m.start()] + new + text[m.end() :])
    if policy is not None:
        the_workflow_can_use(policy)


def test_the_seed_policies_pass_unchanged():
    for name in POLICY_NAMES:
        policy = parsed(POLICY_TEXTS[name])
        assert policy is not None
        the_workflow_can_use(policy)
