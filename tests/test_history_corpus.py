"""The history corpus covers every policy and every lifecycle path: a test fails when one
has no recorded history in tests/histories/ under today's claim engine (type "Claim").

What a history covers is read from its events, not by replaying it: the workflow input of
its first event (the claim's intake and policy), the ClaimState search attribute it upserts
on every change and the results of its updates (the states it went through), and the result
of WorkflowExecutionCompleted (the final ClaimView: state, remedy, channel and decisions).
Record what is missing with a test in tests/test_corpus_paths.py (`make histories`).
"""

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from models.enums import TERMINAL_STATES, ClaimKind, ClaimState, Remedy
from tests.conftest import HISTORIES, POLICY_DIR
from claimflow.policy_files import load_policy
from workflows.names import CLAIM, COMPLAINT

# The paths, as data. Every policy file, with each channel it offers; every terminal outcome;
# every remedy some policy can produce; every kind of claim.
POLICIES = {path.stem: load_policy(POLICY_DIR, path.stem) for path in sorted(POLICY_DIR.glob("*.toml"))}
POLICY_CHANNELS = {
    (policy.name, channel)
    for policy in POLICIES.values()
    for channel in [c.kind for c in policy.channels] or ["return_repair"]  # none listed: return repair only
}
# every state but OPENED, which a claim leaves in its first workflow task (never published)
STATES = {state.value for state in ClaimState} - {ClaimState.OPENED.value}
OUTCOMES = {state.value for state in TERMINAL_STATES}  # completed, rejected, expired, cancelled
REMEDIES = {remedy.value for remedy in Remedy}
KINDS = {kind.value for kind in ClaimKind}


def _payload(payloads: dict) -> dict | None:
    items = payloads.get("payloads", []) if payloads else []
    return json.loads(base64.b64decode(items[0]["data"])) if items else None


@dataclass
class Covered:
    """What one recorded history shows."""

    name: str
    workflow_type: str
    policy: str
    kind: str
    # every state the claim was in: its ClaimState search attribute, the results of its actions, its end
    states: set[str] = field(default_factory=set)
    final_state: str | None = None  # None: the history ends before the workflow does
    channel: str | None = None
    remedies: set[str] = field(default_factory=set)
    decisions: set[tuple[str, str]] = field(default_factory=set)  # (what, outcome) of the final view's decisions


def covered(path: Path) -> Covered:
    events = json.loads(path.read_text())["events"]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    claim = _payload(started["input"])
    kind = claim["intake"].get("kind", "complaint")  # a complaint's intake has no claim kind
    seen = Covered(path.stem, started["workflowType"]["name"], claim["policy"]["name"], kind)
    for event in events:
        upsert = event.get("upsertWorkflowSearchAttributesEventAttributes")  # ClaimState on every change
        state = upsert and upsert["searchAttributes"].get("indexedFields", {}).get("ClaimState")
        if state:
            seen.states.add(json.loads(base64.b64decode(state["data"])))
        update = event.get("workflowExecutionUpdateCompletedEventAttributes")
        if update and "success" in update.get("outcome", {}):
            result = _payload(update["outcome"]["success"])
            if isinstance(result, dict) and "state" in result:
                seen.states.add(result["state"])
    completed = events[-1].get("workflowExecutionCompletedEventAttributes")
    if completed is not None:
        view = _payload(completed.get("result"))
        seen.final_state, seen.channel = view["state"], view.get("channel")
        seen.states.add(view["state"])
        seen.remedies |= {view.get("remedy")} - {None}  # (a complaint has none)
        seen.remedies |= {d["remedy"] for d in view.get("decisions", []) if d.get("remedy")}
        seen.decisions |= {(d["what"], d["outcome"]) for d in view.get("decisions", [])}
    return seen


CORPUS = [covered(path) for path in sorted(HISTORIES.glob("*.json"))]
ENGINE = [c for c in CORPUS if c.workflow_type == CLAIM]  # today's engine; the first one is frozen
COMPLAINTS = [c for c in CORPUS if c.workflow_type == COMPLAINT]


def missing(wanted: set, have: set) -> list:
    return sorted(wanted - have)


def test_the_corpus_is_read_from_its_events():
    """The reading itself: known recordings show what their tests drove them to."""
    by_name = {c.name: c for c in CORPUS}
    refund = by_name["claim-return_refunded"]
    assert (refund.workflow_type, refund.policy, refund.kind) == ("Claim", "changkong", "return")
    assert (refund.final_state, refund.channel, refund.remedies) == ("completed", "return_repair", {"refund"})
    assert refund.states == {"awaiting_parcel", "inspecting", "refund_due", "completed"}
    assert "quote_expired" in by_name["claim-quote_expired_requoted"].states  # a timer's move, from its upsert
    assert by_name["claim-shipping_expired"].final_state == "expired"
    assert by_name["claim-inspection_extended"].final_state is None  # recorded while running
    assert by_name["free_repair"].workflow_type == "ClaimWorkflow"


def test_every_policy_has_a_recorded_history():
    assert not missing(set(POLICIES), {c.policy for c in ENGINE}), "policies without a recorded claim"


def test_every_channel_of_every_policy_has_a_recorded_history():
    have = {(c.policy, c.channel) for c in ENGINE if c.final_state is not None}
    assert not missing(POLICY_CHANNELS, have), "channels no recorded claim ended in"


@pytest.mark.parametrize("what, wanted, have", [
    ("state", STATES, lambda c: c.states),
    ("terminal outcome", OUTCOMES, lambda c: {c.final_state} - {None}),
    ("remedy", REMEDIES, lambda c: c.remedies),
    ("claim kind", KINDS, lambda c: {c.kind}),
])  # fmt: skip
def test_every_path_has_a_recorded_history(what, wanted, have):
    seen = set().union(*(have(c) for c in ENGINE))
    assert not missing(wanted, seen), f"no recorded history has this {what}"


def test_the_coverage_check_fails_on_a_gap():
    """Break it once: without the recordings of a path the check names what is missing."""
    without_cancelled = [c for c in ENGINE if c.final_state != "cancelled"]
    assert missing(OUTCOMES, {c.final_state for c in without_cancelled}) == ["cancelled"]
    without_konjump = {c.policy for c in ENGINE if c.policy != "konjump"}
    assert missing(set(POLICIES), without_konjump) == ["konjump"]


# --- complaints (workflow type "Complaint"; tests/test_complaints.py records them) --------

COMPLAINT_POLICIES = {name for name, policy in POLICIES.items() if policy.complaints is not None}
# every state a complaint waits in or ends in (received and reopened are passed through)
COMPLAINT_STATES = {"awaiting_reply", "answered", "closed", "cancelled"}
COMPLAINT_PATHS = {  # (decision, outcome) of the final view: how the complaint went
    ("reply", "in_time"), ("reply", "late"), ("leader_deadline", "overdue"), ("emergency", "reported"),
    ("satisfaction", "satisfied"), ("satisfaction", "reopened"), ("feedback", "closed"),
}  # fmt: skip


def test_every_policy_that_takes_complaints_has_a_recorded_complaint():
    assert not missing(COMPLAINT_POLICIES, {c.policy for c in COMPLAINTS if c.final_state}), "policies without one"


@pytest.mark.parametrize("what, wanted, have", [
    ("state", COMPLAINT_STATES, lambda c: c.states),
    ("path", COMPLAINT_PATHS, lambda c: c.decisions),
])  # fmt: skip
def test_every_complaint_path_has_a_recorded_history(what, wanted, have):
    seen = set().union(*(have(c) for c in COMPLAINTS))
    assert not missing(wanted, seen), f"no recorded complaint history has this {what}"

