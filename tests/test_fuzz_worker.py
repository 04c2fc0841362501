"""No action can wedge a claim, through the real worker: a claim (changkong, konjump) is
sent generated actions, mostly ones its state allows with payloads that fit its policy,
also any other action, and raw payloads as another Temporal client could send them (wrong
types, missing and extra fields, hostile text), with time skipped in between so that
deadlines pass and escalate. Every action is accepted or refused with one clear message;
afterwards no workflow task failed, the claim did not fail, and it still answers its view.
On the real dev server, a refused action adds nothing to the claim's history.
"""

import asyncio
import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, to_json
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from models.actions import ACTIONS
from models.claim import ActionResult
from tests.strategies import (
    POLICIES,
    any_action_payloads,
    examples,
    hostile_payload_dicts,
    one_clear_line,
    payload_dicts,
    payload_for,
)

ON_A_SERVER = settings(
    max_examples=examples(5, 100),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FUZZED_POLICIES = ["changkong", "konjump"]
OPENING = {"changkong": {}, "konjump": {"contract_warranty_months": 12}}  # konjump counts the contract's period
UNKNOWN_ACTION = "drop_database"
STEPS = examples(12, 30)  # per claim on the time-skipping server
REFUSALS = examples(5, 20)  # per claim on the dev server
ANSWER_WITHIN = 10  # seconds; a claim answers an action in milliseconds


def sendable(raw) -> bool:
    """Whether a client can serialize the payload at all (lone surrogates cannot be sent)."""
    try:
        to_json(raw)
    except (PydanticSerializationError, ValueError):
        return False
    return True


def refused_by_the_model(name: str, raw) -> bool:
    """Whether the worker's decoding (JSON into the action's model) refuses the payload."""
    if name not in ACTIONS:
        return True
    try:
        ACTIONS[name].model_validate_json(to_json(raw))
    except ValidationError:
        return True
    return False


async def send(handle: WorkflowHandle, name: str, payload) -> str | None:
    """Send one update as any Temporal client could; None when accepted, else the refusal.
    A claim whose workflow task fails never answers: that fails here, with the failure."""
    try:
        await asyncio.wait_for(handle.execute_update(name, payload, result_type=ActionResult), ANSWER_WITHIN)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        await assert_not_wedged(handle)
        raise AssertionError(f"{name} got no answer within {ANSWER_WITHIN}s: {payload!r}"[:2000]) from None
    except WorkflowUpdateFailedError as refused:
        message = getattr(refused.cause, "message", None) or str(refused)
        one_clear_line(message)
        return message
    except RPCError as error:  # the claim has closed: Temporal itself refuses the update
        status = (await handle.describe()).status
        assert status != WorkflowExecutionStatus.RUNNING, f"{name} on a running claim: {error}"
        return str(error)
    return None


async def assert_not_wedged(handle: WorkflowHandle) -> None:
    history = await handle.fetch_history()
    failed = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    assert not failed, failed[0].workflow_task_failed_event_attributes.failure
    status = (await handle.describe()).status
    assert status not in (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TIMED_OUT), status


async def close(claims) -> None:
    """Terminate the example's claim, wedged or not (a wedged one never settles)."""
    for handle in claims.opened:
        with contextlib.suppress(AssertionError, RPCError):
            await claims.settle(handle)
        with contextlib.suppress(RPCError):
            await handle.terminate("fuzz example over")
    claims.opened.clear()


@st.composite
def steps(draw, policy_name: str):
    """One thing that happens to a claim: ("sleep", hours); ("allowed", index, values): the
    action at `index` (modulo) among those the claim allows when the step runs, its payload
    from `values`; ("act", name, payload): any action, or an unknown one, with a payload
    as any client could send. What is drawn never depends on the claim's state (the
    server's clock moves on between examples), so every example replays."""
    kind = draw(st.sampled_from(["allowed", "allowed", "allowed", "any", "raw", "sleep"]))
    if kind == "sleep":
        return "sleep", draw(st.sampled_from([1, 30, 24 * 4, 24 * 9, 24 * 40]))
    if kind == "allowed":
        return "allowed", draw(st.integers(0, 50)), draw(any_action_payloads(POLICIES[policy_name]))
    if kind == "raw":
        name = draw(st.sampled_from([*sorted(ACTIONS), UNKNOWN_ACTION]))
        return "act", name, draw(hostile_payload_dicts(ACTIONS.get(name, ACTIONS["cancel_claim"])))
    name = draw(st.sampled_from(sorted(ACTIONS)))
    return "act", name, draw(payload_dicts(ACTIONS[name], POLICIES[policy_name]))


@ON_A_SERVER
@given(policy_name=st.sampled_from(FUZZED_POLICIES), bought_days_ago=st.sampled_from([10, 300]), data=st.data())
async def test_no_sequence_of_actions_wedges_a_claim(claims, policy_name, bought_days_ago, data):
    policy = POLICIES[policy_name]
    handle = await claims.open(policy, bought_days_ago=bought_days_ago, **OPENING[policy_name])
    try:
        for _ in range(STEPS):
            what = data.draw(steps(policy_name), label="step")
            if what[0] == "sleep":
                await claims.sleep(hours=what[1])
                continue
            if what[0] == "allowed":
                view = await claims.view(handle)
                if not view.allowed_actions:
                    continue
                name = view.allowed_actions[what[1] % len(view.allowed_actions)]
                raw = payload_for(ACTIONS[name], what[2], view.quote.total if view.quote else None)
            else:
                _, name, raw = what
            if sendable(raw):
                await send(handle, name, raw)
        await assert_not_wedged(handle)
        await claims.view(handle)  # still answers
    finally:
        await close(claims)


@st.composite
def refused_actions(draw, policy_name: str):
    """An action the claim must refuse (the test skips those that turn out to fit): any
    action with a payload that fits the policy, mostly refused by the claim's state; or a
    raw payload, mostly refused by the action's model; or an action that does not exist."""
    name = draw(st.sampled_from([*sorted(ACTIONS), UNKNOWN_ACTION]))
    cls = ACTIONS.get(name, ACTIONS["cancel_claim"])
    if draw(st.booleans()):
        return name, draw(payload_dicts(cls, POLICIES[policy_name]))
    return name, draw(hostile_payload_dicts(cls))


@ON_A_SERVER
@given(policy_name=st.sampled_from(FUZZED_POLICIES), data=st.data())
async def test_a_refused_action_writes_nothing_to_history(live_claims, policy_name, data):
    policy = POLICIES[policy_name]
    handle = await live_claims.open(policy, **OPENING[policy_name])
    try:
        await live_claims.settle(handle)
        view = await live_claims.view(handle)
        before = len((await handle.fetch_history()).events)
        for _ in range(REFUSALS):
            name, raw = data.draw(refused_actions(policy_name), label="action")
            if not sendable(raw):
                continue
            refused = name not in view.allowed_actions or refused_by_the_model(name, raw)
            if not refused:
                continue  # a hostile payload that happens to be valid for an allowed action
            assert await send(handle, name, raw) is not None, f"{name} accepted: {raw!r}"
            after = (await handle.fetch_history()).events
            assert len(after) == before, [EventType.Name(e.event_type) for e in after[before:]]
        await assert_not_wedged(handle)
        assert (await live_claims.view(handle)).state == view.state
    finally:
        await close(live_claims)
