"""Client-side operations on claims: open one, send an action, read its live view."""

from datetime import date

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from claimflow.settings import TASK_QUEUE
from models import rules
from models.actions import ACTION_NAMES, AgentAction
from claimflow.calendars import work_calendar
from models.claim import ActionResult, ClaimInput, ClaimIntake, ClaimView
from models.policy import Policy
from workflows.claim import ClaimWorkflow
from workflows.search_attributes import CLAIM_POLICY


class ClaimError(Exception):
    """A request about a claim that cannot be carried out; the message says why."""


class ClaimExists(ClaimError):
    """A claim with this number (workflow id) was opened before."""


def claim_input(intake: ClaimIntake, policy: Policy, today: date) -> ClaimInput:
    """Check the intake against the policy (and `today`: no dates in the future) and
    snapshot what the workflow needs."""
    problems = rules.intake_problems(policy, intake)
    future = [
        f"{name} {day} is in the future"
        for name, day in [
            ("purchase_date", intake.purchase_date),
            ("goods_received_date", intake.goods_received_date),
            ("factory_shipment_date", intake.factory_shipment_date),
        ]
        if day is not None and day > today
    ]
    if problems or future:
        raise ClaimError("; ".join(problems + future))
    return ClaimInput(
        intake=intake,
        policy=policy,
        calendar=work_calendar(policy.holiday_country, today.year),
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


async def act(client: Client, claim_number: str, action: AgentAction) -> ActionResult:
    handle = client.get_workflow_handle_for(ClaimWorkflow.run, claim_number)
    return await handle.execute_update(ACTION_NAMES[type(action)], action, result_type=ActionResult)


async def view(client: Client, claim_number: str) -> ClaimView:
    handle = client.get_workflow_handle_for(ClaimWorkflow.run, claim_number)
    return await handle.query(ClaimWorkflow.view)
