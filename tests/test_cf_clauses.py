"""Every claimflow clause (CF-*) says what the code path that cites it does.

A CF clause is claimflow's rule where a seed is silent or unclear, shown to agents and
auditors on the decisions that cite it; its words must match the behaviour. For every CF
clause of every policy, each rule that cites it is driven through the pure functions the
workflow uses (the deadline table's expiry, the freight, remedy and warranty decisions),
and the outcome is checked against the words of the clause. A CF clause cited by a rule
no driver here knows fails the test, so a new kind of CF rule needs a driver first.
"""

from datetime import date, datetime, timedelta, timezone

import pytest

from claimflow.policy_files import load_policy, policy_names
from models import complaint
from models.calendar import WorkCalendar, end_of_natural_days
from models.claim import DeadlineStatus, Decision, InspectionFindings
from models.deadline_table import ENGINE_CLAUSES, Expiry, deadline_table, spec_for, state_at
from models.enums import ClaimKind, ClaimState, DeadlineKind, Fault, Remedy
from models.policy import Policy
from models.policy_lint import Citation, citations
from models.rules import decide_freight, decide_remedy, warranty_status
from tests.conftest import POLICY_DIR, intake

POLICIES = {name: load_policy(POLICY_DIR, name) for name in policy_names(POLICY_DIR)}
TODAY = date(2026, 3, 11)
NOW = datetime(2026, 3, 11, 4, tzinfo=timezone.utc)

# What a clause must say for each outcome (any one of the words).
EXPIRY_WORDS = {Expiry.EXPIRE: ("expires",), Expiry.ESCALATE: ("escalate",), Expiry.CLOSE: ("closes", "ends")}
REMEDY_WORDS = {
    Remedy.REFUND: ("refund",),
    Remedy.REPLACEMENT: ("replace", "change"),
    Remedy.PAID_REPAIR: ("quoted", "charged", "paid"),
    Remedy.PAID_SERVICE: ("quoted",),
}
PARTY_WORDS = {"manufacturer": ("manufacturer", "company"), "customer": ("customer", "user")}


def cf_citations() -> list[tuple[str, str, Citation]]:
    return [
        (name, cid, citation)
        for name, policy in POLICIES.items()
        for citation in citations(policy.model_dump())
        for cid in citation.clause_ids
        if cid.startswith("CF-")
    ]


def says(text: str, words: tuple[str, ...]) -> bool:
    return any(word in text for word in words)


# --- drivers: one per kind of rule that cites clauses ----------------------------------


def drive_deadline(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """The deadline passes: what the table does to a claim waiting on it."""
    kind = DeadlineKind(citation.pattern.removeprefix("deadlines."))
    claim_kind = ClaimKind.RETURN if kind is DeadlineKind.SHIPPING and policy.returns else ClaimKind.REPAIR
    table = deadline_table(policy, claim_kind)
    spec = spec_for(table, kind)
    waiting_in = sorted(spec.runs_in)[0]
    passed = DeadlineStatus(kind=kind, cycle=1, started_at=NOW, due_at=NOW, clause_ids=[])
    state, moved_by = state_at(table, waiting_in, [passed], NOW + timedelta(seconds=1))
    if spec.on_expiry is Expiry.EXPIRE:
        assert moved_by is passed and state is spec.expires_to
    else:
        assert state is waiting_in  # escalation only: the claim stays where it is
    return f"{kind.value} deadline {spec.on_expiry.value}", EXPIRY_WORDS[spec.on_expiry]


def drive_freight(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A claim that matches the rule's `when`: the payer of the first leg is named."""
    when = citation.rule["when"]
    remedy = Remedy(when["remedy"][0]) if when["remedy"] else Remedy.PAID_REPAIR
    fault = Fault(when["fault"][0]) if when["fault"] else Fault.MAN_MADE_DAMAGE
    kind = ClaimKind(when["kind"][0]) if when["kind"] else None
    decision = decide_freight(policy, remedy, fault, bool(when["covered"]), kind)
    assert citation.clause_ids == decision.clause_ids  # the rule driven is the one that decides
    payer = decision.reason.removeprefix("to the factory: ").split(" pays")[0]
    words = PARTY_WORDS[payer]
    if "nothing goes back" in decision.outcome:
        assert "nothing goes back" in policy.clause_text(citation.clause_ids[-1]), decision.outcome
    return decision.outcome, words


def drive_tier(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A return with a fault of its own on the tier's last day."""
    tier = next(t for t in policy.warranty.tiers if t.clause_ids == citation.clause_ids)
    claim = intake(policy, TODAY, bought_days_ago=tier.up_to_day, kind="return", contract_warranty_months=12)
    decision = remedy_for(policy, claim, InspectionFindings(fault=Fault.QUALITY_FAULT))
    assert decision.remedy is tier.remedy
    return decision.outcome, REMEDY_WORDS[Remedy(tier.remedy)]


def drive_no_proof(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A repair claim without a proof of purchase."""
    claim = intake(policy, TODAY, proof_of_purchase=False, contract_warranty_months=12)
    decision = warranty_status(policy, claim, TODAY)
    assert decision.outcome == "not_covered" and decision.clause_ids == citation.clause_ids
    return "no warranty without a proof of purchase", ("no free", "needs the valid purchase certificate")


def drive_service(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A service claim, however old the product."""
    claim = intake(policy, TODAY, bought_days_ago=3000, kind="service")
    decision = remedy_for(policy, claim, InspectionFindings(fault=Fault.NO_FAULT_FOUND))
    assert decision.remedy is Remedy.PAID_SERVICE
    return decision.outcome, REMEDY_WORDS[Remedy.PAID_SERVICE]


def drive_exclusion(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A covered fault of the product itself, with the exclusion found."""
    exclusion = citation.rule["id"]
    claim = intake(policy, TODAY, bought_days_ago=30, contract_warranty_months=12)
    decision = remedy_for(policy, claim, InspectionFindings(fault=Fault.QUALITY_FAULT, exclusions=[exclusion]))
    assert decision.remedy is Remedy.PAID_REPAIR
    return decision.outcome, ("no free",)


def drive_clock(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A warranty counted by this clock: its length in months, from purchase."""
    claim = intake(policy, TODAY, bought_days_ago=30, contract_warranty_months=12)
    decision = warranty_status(policy, claim, TODAY)
    assert decision.clause_ids == citation.clause_ids and "12 months" in decision.reason
    return decision.reason, ("in months",)


def drive_paid_repair(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """Damage that is not the product's own fault, within the warranty."""
    claim = intake(policy, TODAY, bought_days_ago=30, contract_warranty_months=12)
    decision = remedy_for(policy, claim, InspectionFindings(fault=Fault.MAN_MADE_DAMAGE))
    assert decision.remedy is Remedy.PAID_REPAIR and set(citation.clause_ids) <= set(decision.clause_ids)
    return decision.outcome, REMEDY_WORDS[Remedy.PAID_REPAIR]


def remedy_for(policy: Policy, claim, findings: InspectionFindings) -> Decision:
    warranty = warranty_status(policy, claim, TODAY)
    return decide_remedy(policy, claim, findings, TODAY, warranty, None)


def drive_complaint_reply(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A reply clock started now runs out after the reply time, counted as the policy says."""
    rules, unit = policy.complaints, complaint.hours_unit(policy)
    due = complaint.reply_due(policy, NOW, WorkCalendar())
    assert (due == NOW + timedelta(hours=rules.reply_hours)) == (unit == "hours")
    return f"reply due {due}", (f"{rules.reply_hours} {unit}",)


def drive_complaint_level(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """The level's own time on the ladder, after the clock before it ran out."""
    level = citation.rule["level"]
    step = next(s for s in complaint.ladder(policy, NOW, WorkCalendar()) if s.level == level)
    assert step.until == complaint.level_due(policy, level, step.at, WorkCalendar())
    return f"{level} until {step.until}", (f"{policy.complaints.level(level).hours} {complaint.hours_unit(policy)}",)


def drive_complaint_department(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A department's handlers and head are mailed at the addresses the policy gives."""
    department = policy.complaints.department(citation.rule["id"])
    assert complaint.recipients(policy, department.id, "handler") == department.addresses
    return f"mailed to {department.addresses}", ("addresses",)


def drive_complaint_leader(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    any_department = policy.complaints.departments[0].id
    assert complaint.recipients(policy, any_department, "leader") == policy.complaints.leader_addresses
    return "the leader is mailed at the leader's addresses", ("leader",)


def drive_complaint_category(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """A complaint of the category goes to its department, which the clause names."""
    routed = complaint.route(policy, citation.rule["id"])
    assert routed.outcome == citation.rule["department"]
    return routed.reason, (policy.complaints.department(routed.outcome).name,)


def drive_complaint_emergency(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    """An emergency goes to the leader at once (workflows/complaint.py: urgent, at intake)."""
    return "reported to the leader at once", ("leader at once",)


def drive_complaint_feedback(policy: Policy, citation: Citation) -> tuple[str, tuple[str, ...]]:
    days = policy.complaints.feedback_days
    assert complaint.feedback_due(policy, NOW) == end_of_natural_days(TODAY, days, policy.timezone)
    return f"feedback within {days} natural days", (f"{days} natural days",)


DRIVERS = {
    "complaints.reply_clause_ids": drive_complaint_reply,
    "complaints.levels[*]": drive_complaint_level,
    "complaints.departments[*]": drive_complaint_department,
    "complaints.leader_clause_ids": drive_complaint_leader,
    "complaints.categories[*]": drive_complaint_category,
    "complaints.emergency_clause_ids": drive_complaint_emergency,
    "complaints.feedback_clause_ids": drive_complaint_feedback,
    "deadlines.shipping": drive_deadline,
    "deadlines.quote": drive_deadline,
    "deadlines.repair": drive_deadline,
    "deadlines.payment": drive_deadline,
    "freight[*]": drive_freight,
    "warranty.tiers[*]": drive_tier,
    "warranty.no_proof_clause_ids": drive_no_proof,
    "service": drive_service,
    "exclusions[*]": drive_exclusion,
    "warranty.clocks[*]": drive_clock,
    "warranty.paid_repair_clause_ids": drive_paid_repair,
}


@pytest.mark.parametrize(
    ("name", "clause_id", "citation"), cf_citations(), ids=lambda v: v.path if isinstance(v, Citation) else str(v)
)
def test_a_cf_clause_says_what_its_path_does(name, clause_id, citation):
    policy = POLICIES[name]
    driver = DRIVERS.get(citation.pattern)
    assert driver is not None, f"{name} {clause_id}: no driver for a CF clause cited by {citation.pattern}"
    outcome, words = driver(policy, citation)
    text = policy.clause_text(clause_id)
    assert says(text, words), f"{name} {clause_id}: the path gives {outcome!r}, but the text says none of {words}"


ENGINE_ROWS = sorted(
    {
        (name, kind, spec.kind, cid)
        for name, policy in POLICIES.items()
        for kind in policy.claim_kinds
        for spec in deadline_table(policy, kind)
        for cid in spec.rule(policy).clause_ids
        if cid in ENGINE_CLAUSES
    }
)


@pytest.mark.parametrize(("name", "kind", "deadline", "clause_id"), ENGINE_ROWS)
def test_claimflows_own_deadline_clauses_say_what_their_expiry_does(name, kind, deadline, clause_id):
    """The engine's CF-DL-* clauses, per policy and claim kind: expires, escalates or closes."""
    policy = POLICIES[name]
    table = deadline_table(policy, kind)
    spec = spec_for(table, deadline)
    waiting_in = sorted(spec.runs_in)[0]
    passed = DeadlineStatus(kind=deadline, cycle=1, started_at=NOW, due_at=NOW, clause_ids=[])
    state, _ = state_at(table, waiting_in, [passed], NOW + timedelta(seconds=1))
    assert (state is not waiting_in) == (spec.on_expiry is Expiry.EXPIRE)
    assert says(ENGINE_CLAUSES[clause_id], EXPIRY_WORDS[spec.on_expiry]), (clause_id, spec.on_expiry)
    if spec.default_rule is not None:  # its own days (a repair's shipping takes the policy's)
        assert f"{spec.rule(policy).days} {spec.rule(policy).calendar} days" in ENGINE_CLAUSES[clause_id]


def test_every_cf_clause_is_cited_and_so_driven():
    cited = {(name, cid) for name, cid, _ in cf_citations()}
    written = {(name, c.id) for name, p in POLICIES.items() for c in p.clauses if c.id.startswith("CF-")}
    # a CF clause that no rule cites is a reading shown on no decision: the lint refuses it
    # unless it is informational (a reading kept for the record)
    informational = {(name, c.id) for name, p in POLICIES.items() for c in p.clauses if c.informational}
    assert written - cited - informational == set()


def test_a_clause_that_says_the_wrong_thing_is_caught():
    """The check itself: a shipping clause that says "escalates" where the claim expires."""
    policy = POLICIES["konjump"]
    wrong = [
        c.model_copy(update={"text": "claimflow operating rule: an unsent return escalates."})
        if c.id == "CF-SHIPPING"
        else c
        for c in policy.clauses
    ]
    broken = policy.model_copy(update={"clauses": wrong})
    citation = next(c for c in citations(broken.model_dump()) if c.pattern == "deadlines.shipping")
    outcome, words = drive_deadline(broken, citation)
    assert outcome == "shipping deadline expire" and not says(broken.clause_text("CF-SHIPPING"), words)
    assert ClaimState.EXPIRED in {spec_for(deadline_table(broken, ClaimKind.REPAIR), DeadlineKind.SHIPPING).expires_to}
