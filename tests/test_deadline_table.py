"""The deadline table (models/deadline_table.py): pure checks, every policy, both claim kinds."""

from datetime import datetime, timedelta, timezone

import pytest

from claimflow.policy_files import load_policy, policy_names
from models.claim import DeadlineStatus
from models.deadline_table import (
    ENGINE_CLAUSES,
    WITHOUT_DEADLINE,
    Expiry,
    OpenDeadline,
    deadline_table,
    spec_for,
    state_at,
    transition,
)
from models.enums import ClaimKind, ClaimState, DeadlineKind
from tests.conftest import POLICY_DIR

S, K = ClaimState, DeadlineKind
NOW = datetime(2026, 11, 29, 12, tzinfo=timezone.utc)
POLICIES = {name: load_policy(POLICY_DIR, name) for name in policy_names(POLICY_DIR)}
CASES = [(name, kind) for name in POLICIES for kind in ClaimKind]


@pytest.mark.parametrize(("policy", "kind"), CASES)
def test_every_waiting_state_has_a_deadline_or_a_reason(policy, kind):
    table = deadline_table(POLICIES[policy], kind)
    covered = {state for spec in table if spec.starts_on_entry for state in spec.runs_in | spec.stays_open_in}
    if POLICIES[policy].post_repair_warranty is not None:
        covered.add(S.POST_REPAIR_WARRANTY)  # entered only while its window (started on ship-back) runs
    never_entered = {S.POST_REPAIR_WARRANTY} if POLICIES[policy].post_repair_warranty is None else set()
    if not POLICIES[policy].ships_to_factory:  # 004: checked on site, nothing is sent in
        never_entered.add(S.AWAITING_PARCEL)
    unwatched = [s.value for s in ClaimState if s not in covered | never_entered and s not in WITHOUT_DEADLINE]
    assert unwatched == []


@pytest.mark.parametrize(("policy", "kind"), CASES)
def test_every_row_has_days_and_clauses_that_resolve(policy, kind):
    p = POLICIES[policy]
    clause_ids = {c.id for c in p.clauses}
    for spec in deadline_table(p, kind):
        rule = spec.rule(p)
        assert rule.days > 0
        assert rule.clause_ids and all(c in ENGINE_CLAUSES or c in clause_ids for c in rule.clause_ids), spec.kind
        if spec.on_expiry is Expiry.EXPIRE:
            assert spec.expires_to is not None and spec.after_expiry, spec.kind


def test_a_repair_claim_does_not_expire_on_a_returns_clause():
    changkong = POLICIES["changkong"]
    assert spec_for(deadline_table(changkong, ClaimKind.RETURN), K.SHIPPING).rule(changkong).clause_ids == ["RET-X7"]
    repair = spec_for(deadline_table(changkong, ClaimKind.REPAIR), K.SHIPPING).rule(changkong)
    assert repair.clause_ids == ["CF-DL-REPAIR-SHIPPING"] and repair.days == changkong.deadlines.shipping.days


def test_a_repair_claim_cites_the_policys_shipping_clauses_when_they_speak_of_repairs():
    """002's CF-SHIPPING and 3.3.2 b ("ship the products or parts to the delivery address")
    are about return repairs: a repair claim's shipping deadline cites them, not claimflow's."""
    konjump = POLICIES["konjump"]
    repair = spec_for(deadline_table(konjump, ClaimKind.REPAIR), K.SHIPPING).rule(konjump)
    assert repair.clause_ids == ["CF-SHIPPING", "3.3.2 b"]
    old = konjump.model_copy(update={"readings": 1})  # claims opened before keep claimflow's clause
    assert spec_for(deadline_table(old, ClaimKind.REPAIR), K.SHIPPING).rule(old).clause_ids == ["CF-DL-REPAIR-SHIPPING"]


def test_shanghai_sla_runs_from_arrival_pauses_for_the_customer_and_clears_on_refund():
    table = deadline_table(POLICIES["shanghai_equipment"], ClaimKind.REPAIR)
    running = {K.REPAIR: OpenDeadline(passed=False, paused=False)}
    paused = {K.REPAIR: OpenDeadline(passed=False, paused=True)}
    assert [s.kind for s in transition(table, S.PARCEL_IN_TRANSIT, S.INSPECTING, {}).start] == [K.INSPECTION, K.REPAIR]
    assert transition(table, S.AWAITING_QUOTE, S.AWAITING_APPROVAL, running).pause == [K.REPAIR]
    assert transition(table, S.AWAITING_APPROVAL, S.QUOTE_EXPIRED, paused).pause == []  # stays paused
    assert transition(table, S.AWAITING_APPROVAL, S.REPAIRING, paused).resume == [K.REPAIR]
    assert transition(table, S.INSPECTING, S.REFUND_DUE, running).clear == [K.REPAIR]


def test_elsewhere_the_sla_runs_from_the_repair_only():
    table = deadline_table(POLICIES["changkong"], ClaimKind.REPAIR)
    assert [s.kind for s in transition(table, S.PARCEL_IN_TRANSIT, S.INSPECTING, {}).start] == [K.INSPECTION]
    assert [s.kind for s in transition(table, S.AWAITING_APPROVAL, S.REPAIRING, {}).start] == [K.REPAIR]


def test_a_new_quote_after_expiry_and_a_reopen_start_new_cycles():
    table = deadline_table(POLICIES["changkong"], ClaimKind.REPAIR)
    passed = OpenDeadline(passed=True, paused=False)
    assert [s.kind for s in transition(table, S.QUOTE_EXPIRED, S.AWAITING_APPROVAL, {K.QUOTE: passed}).restart] == [
        K.QUOTE
    ]
    reopened = transition(
        table, S.EXPIRED, S.AWAITING_PARCEL, {K.SHIPPING: passed, K.REOPEN_WINDOW: OpenDeadline(False, False)}
    )
    assert [s.kind for s in reopened.restart] == [K.SHIPPING] and reopened.clear == [K.REOPEN_WINDOW]
    # an expired deadline stays open (its ladder climbs) in the state its expiry moved the claim to
    assert transition(table, S.AWAITING_APPROVAL, S.QUOTE_EXPIRED, {K.QUOTE: passed}).clear == []


def _deadline(kind: DeadlineKind, due: datetime, **changes) -> DeadlineStatus:
    return DeadlineStatus(kind=kind, cycle=1, started_at=due - timedelta(days=7), due_at=due, clause_ids=["X"], **changes)


def test_validators_look_ahead_to_what_time_has_closed():
    table = deadline_table(POLICIES["changkong"], ClaimKind.REPAIR)
    quote = _deadline(K.QUOTE, NOW - timedelta(minutes=1))
    assert state_at(table, S.AWAITING_APPROVAL, [quote], NOW) == (S.QUOTE_EXPIRED, quote)
    assert state_at(table, S.AWAITING_APPROVAL, [quote], NOW - timedelta(minutes=2)) == (S.AWAITING_APPROVAL, None)
    paused = _deadline(K.QUOTE, NOW - timedelta(minutes=1), paused_at=NOW - timedelta(days=1))
    assert state_at(table, S.AWAITING_APPROVAL, [paused], NOW) == (S.AWAITING_APPROVAL, None)
    overdue_only = _deadline(K.PAYMENT, NOW - timedelta(days=1))
    assert state_at(table, S.AWAITING_PAYMENT, [overdue_only], NOW) == (S.AWAITING_PAYMENT, None)
