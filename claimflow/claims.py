"""Client-side operations on claims: open one, send an action, read its live view."""

import asyncio
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from claimflow.errors import ClaimError
from claimflow.settings import TASK_QUEUE
from models.actions import ACTION_NAMES, AgentAction
from models.claim import ActionResult, ClaimInput, ClaimIntake, ClaimView
from models.policy import Policy
from workflows.search_attributes import CLAIM_POLICY

T = TypeVar("T")

# workflows.claim, models.rules and the holiday calendars are imported where they are used:
# `claims show` and `claims act` need none of them, and every command starts faster.


class ClaimExists(ClaimError):
    """A claim with this number (workflow id) was opened before."""


def claim_input(intake: ClaimIntake, policy: Policy, today: date) -> ClaimInput:
    """Check the intake against the policy (and `today`: no dates in the future) and
    snapshot what the workflow needs."""
    from claimflow.calendars import work_calendar
    from models import limits, rules
    from models.complaint import COMPLAINT_PREFIX

    problems = rules.intake_problems(policy, intake, today)
    future = [
        f"{name} {day} is in the future"
        for name, day in [
            ("purchase_date", intake.purchase_date),
            ("goods_received_date", intake.goods_received_date),
            ("factory_shipment_date", intake.factory_shipment_date),
        ]
        if day is not None and day > today
    ]
    if intake.claim_number.startswith(COMPLAINT_PREFIX):  # workflow ids are shared with complaints
        future.append(f"claim number {intake.claim_number}: numbers starting {COMPLAINT_PREFIX} are complaints")
    if problems or future:
        raise ClaimError("; ".join(problems + future))
    return ClaimInput(
        intake=intake,
        policy=policy,
        calendar=work_calendar(policy.holiday_country, policy.holiday_subdivision, today),
        history_events_max=limits.HISTORY_EVENTS_MAX,
    )


def operator_summary(intake: ClaimIntake) -> str:
    """What Temporal's Web UI shows for the claim: no personal data (no customer, contact
    or fault text), only what an operator needs to find it."""
    return f"{intake.kind.value} claim {intake.claim_number} · {intake.policy} · {intake.product.model}"


def operator_details(intake: ClaimIntake) -> str:
    return (
        f"**Claim** {intake.claim_number}\n\n**Policy** {intake.policy}\n\n**Kind** {intake.kind.value}\n\n"
        f"**Product** {intake.product.model}\n\nThe live state is in the current details and the `view` "
        "query. Customer data stays in the claim's input, never here."
    )


async def open_claim(client: Client, claim: ClaimInput, task_queue: str = TASK_QUEUE) -> WorkflowHandle:
    """Start the claim's workflow; a claim number used before is refused."""
    from workflows.claim import ClaimWorkflow

    try:
        return await client.start_workflow(
            ClaimWorkflow.run,
            claim,
            id=claim.intake.claim_number,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            search_attributes=TypedSearchAttributes([SearchAttributePair(CLAIM_POLICY, claim.policy.name)]),
            static_summary=operator_summary(claim.intake),
            static_details=operator_details(claim.intake),
        )
    except WorkflowAlreadyStartedError:
        raise ClaimExists(f"claim {claim.intake.claim_number} already exists") from None


class NoWorker(ClaimError):
    """No worker polls the claim's task queue: an action sent now would wait for one."""


class NoAnswer(ClaimError):
    """The claim did not answer an action in time."""


# A worker long-polls its task queue again at least every minute or so; one the server has
# not seen for longer than this has stopped (the server lists stopped pollers for 5 minutes).
POLLER_SEEN_WITHIN = timedelta(minutes=2)


async def check_worker(client: Client, claim_number: str) -> None:
    """Raise NoWorker unless a worker polled the claim's workflow task queue lately."""
    description = await client.get_workflow_handle(claim_number).describe()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return  # Temporal refuses the update itself, with its reason
    queue = description.task_queue
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    since = datetime.now(timezone.utc) - POLLER_SEEN_WITHIN
    if not any(p.last_access_time.ToDatetime(timezone.utc) >= since for p in answer.pollers):
        raise NoWorker(
            f"no worker is polling task queue '{queue}' of claim {claim_number}; nothing was sent. "
            "Start one (`claims up` or `claims worker`) and try again"
        )


async def act(
    client: Client,
    claim_number: str,
    action: AgentAction,
    *,
    request_id: str | None = None,
    wait: float | None = None,
) -> ActionResult:
    """Send `action` as the claim's workflow update. With `request_id`, the update's id is
    derived from it (a retry is the same update); with `wait`, NoAnswer after that many seconds."""
    name = ACTION_NAMES[type(action)]  # either engine's claim workflow answers it
    return await send_update(client, claim_number, name, action, ActionResult, request_id, wait, what="claim")


async def send_update(client: Client, number: str, name: str, payload, result_type: type[T],
                      request_id: str | None, wait: float | None, *, what: str) -> T:  # fmt: skip
    """Send update `name` to workflow `number` (a claim's or a complaint's). With
    `request_id`, the update's id is `name/request_id` (a retry is the same update); with
    `wait`, NoAnswer after that many seconds."""
    sent = client.get_workflow_handle(number).execute_update(
        name, payload, id=f"{name}/{request_id}" if request_id else None, result_type=result_type
    )
    if wait is None:
        return await sent
    try:
        return await asyncio.wait_for(sent, wait)
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):  # the latter: the poll cut short
        raise NoAnswer(f"{what} {number} did not answer {name} within {wait:g}s") from None


async def view(client: Client, claim_number: str) -> ClaimView:
    """The claim's live view: the `view` query both claim engines answer."""
    return await client.get_workflow_handle(claim_number).query("view", result_type=ClaimView)


async def view_and_end(client: Client, claim_number: str) -> tuple[ClaimView, str | None]:
    """The claim's view, and how its workflow was ended outside claimflow if it was (a
    terminated workflow cannot say so itself: its view is its last state)."""
    claim = await view(client, claim_number)
    handle = client.get_workflow_handle(claim_number)
    if (await handle.describe()).status != WorkflowExecutionStatus.TERMINATED:
        return claim, None
    return claim, closed_outside(await handle.fetch_history())


def closed_outside(history: WorkflowHistory) -> str | None:
    """How a workflow was ended outside claimflow, if it was: terminated in Temporal (the
    Web UI's Terminate, `temporal workflow terminate`), by whom and why."""
    last = history.events[-1]
    if not last.HasField("workflow_execution_terminated_event_attributes"):
        return None
    ended = last.workflow_execution_terminated_event_attributes
    return f"terminated outside claimflow by {ended.identity or 'unknown'}" + (f": {ended.reason}" if ended.reason else "")
