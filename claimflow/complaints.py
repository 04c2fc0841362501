"""Client-side operations on complaints: take one in, send an action, read its live view."""

import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from claimflow.claims import ClaimError, send_update
from claimflow.settings import TASK_QUEUE
from models.complaint import (
    COMPLAINT_ACTION_NAMES,
    ComplaintAction,
    ComplaintActionResult,
    ComplaintInput,
    ComplaintIntake,
    ComplaintView,
    intake_problems,
)
from models.policy import Policy


class ComplaintExists(ClaimError):
    """A complaint (or claim) with this number (workflow id) was opened before."""


def new_complaint_number(now: datetime | None = None) -> str:
    """A fresh complaint number: CP-<date>-<6 hex digits>, e.g. CP-20990314-3F9A1C."""
    now = now or datetime.now(timezone.utc)
    return f"CP-{now:%Y%m%d}-{uuid.uuid4().hex[:6].upper()}"


def complaint_input(intake: ComplaintIntake, policy: Policy, today: date) -> ComplaintInput:
    """Check the intake against the policy and snapshot what the workflow needs: the policy,
    and the calendar its service hours count on from `today` (three years)."""
    from claimflow.calendars import work_calendar

    problems = intake_problems(policy, intake)
    if problems:
        raise ClaimError("; ".join(problems))
    return ComplaintInput(
        intake=intake, policy=policy, calendar=work_calendar(policy.holiday_country, policy.holiday_subdivision, today)
    )


def operator_summary(intake: ComplaintIntake) -> str:
    """What Temporal's Web UI shows: no customer, contact or description."""
    return f"complaint {intake.complaint_number} · {intake.policy} · {intake.category}" + (
        " · emergency" if intake.emergency else ""
    )


async def open_complaint(client: Client, complaint: ComplaintInput, task_queue: str = TASK_QUEUE) -> WorkflowHandle:
    """Start the complaint's workflow; a number used before (by a complaint or a claim) is refused."""
    from workflows.complaint import ComplaintWorkflow

    try:
        return await client.start_workflow(
            ComplaintWorkflow.run,
            complaint,
            id=complaint.intake.complaint_number,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=operator_summary(complaint.intake),
        )
    except WorkflowAlreadyStartedError:
        raise ComplaintExists(f"{complaint.intake.complaint_number} is taken: a complaint or claim has that number") from None


async def check_claim(client: Client, number: str, taken: Callable[[str], str | None]) -> None:
    """Refuse a link to a claim that does not exist: one Temporal knows, or `taken` (the read
    model and its archive: claim_lists.claim_number_taken) holds."""
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.names import CLAIM_TYPES

    try:
        description = await client.get_workflow_handle(number).describe()
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise
        if taken(number) is None:
            raise ClaimError(f"--claim {number}: there is no such claim") from None
        return
    if description.workflow_type not in CLAIM_TYPES:
        raise ClaimError(f"--claim {number}: that is a {description.workflow_type} workflow, not a claim")


async def act(
    client: Client,
    number: str,
    action: ComplaintAction,
    *,
    request_id: str | None = None,
    wait: float | None = None,
) -> ComplaintActionResult:
    """Send `action` as the complaint's workflow update; with `request_id` a retry is the
    same update, with `wait` NoAnswer after that many seconds."""
    name = COMPLAINT_ACTION_NAMES[type(action)]
    return await send_update(client, number, name, action, ComplaintActionResult, request_id, wait, what="complaint")


async def view(client: Client, number: str) -> ComplaintView:
    return await client.get_workflow_handle(number).query("view", result_type=ComplaintView)
