"""The README's paid repair, driven one action at a time, under either claim engine."""

from datetime import date, timedelta
from decimal import Decimal

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from claimflow.claims import act, claim_input
from models.actions import (
    ApproveQuote,
    CompleteRepair,
    ConfirmDelivery,
    ReceiveParcel,
    RecordInspection,
    RecordPayment,
    RecordQualityCheck,
    SendQuote,
    ShipBack,
)
from models.claim import ClaimIntake
from models.policy import Policy

README_PAID_REPAIR = [
    ReceiveParcel(by="amy"),
    RecordInspection(by="tom", fault="quality_fault"),
    SendQuote(by="amy", lines=[{"item": "spare parts", "amount": "80"}, {"item": "maintenance", "amount": "40.50"}]),
    ApproveQuote(by="amy"),
    CompleteRepair(by="tom", work_done="replaced power board"),
    RecordQualityCheck(by="qa", passed=True),
    RecordPayment(by="amy", amount=Decimal("120.50"), reference="PAY-1"),
    ShipBack(by="amy", carrier="SF", tracking_number="SF123"),
    ConfirmDelivery(by="amy"),
]


def paid_repair_intake(number: str, today: date) -> ClaimIntake:
    """The README's claim: bought 270 days ago, out of the 180-day warranty."""
    bought = today - timedelta(days=270)
    return ClaimIntake.model_validate(
        {
            "claim_number": number,
            "policy": "changkong",
            "kind": "repair",
            "customer": {"name": "Li Wei", "contact": "li.wei@example.com"},
            "product": {"model": "CK-200", "serial_number": "SN-0042"},
            "proof_of_purchase": True,
            "purchase_date": bought,
            "goods_received_date": bought + timedelta(days=2),
            "fault_description": "does not power on",
            "opened_by": "amy",
        }
    )


async def run_paid_repair(
    client: Client, policy: Policy, number: str, today: date, task_queue: str, workflow_type: str
) -> WorkflowHandle:
    """Open the README's claim as `workflow_type` and drive it to post_repair_warranty,
    one action at a time as a person would: each once the claim has settled."""
    claim = claim_input(paid_repair_intake(number, today), policy, today)
    handle = await client.start_workflow(workflow_type, claim, id=number, task_queue=task_queue)
    for action in README_PAID_REPAIR:
        await settled_history(handle)
        await act(client, number, action)
    return handle


def floor_events(actions: int, timers_started: int, timers_cancelled: int) -> int:
    """The fewest events the lifecycle needs: started, the first workflow task, per action
    one workflow task (3) and its update accepted + completed (2), each timer's start and
    cancel."""
    return 1 + 3 + 5 * actions + timers_started + timers_cancelled


async def settled_history(handle: WorkflowHandle):
    """The history once no workflow task or activity is in flight (the same twice running)."""
    import asyncio

    pending_task = (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
    closed_kinds = (
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED,
    )
    seen = -1
    for _ in range(400):
        events = (await handle.fetch_history()).events
        scheduled = sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for e in events)
        closed = sum(e.event_type in closed_kinds for e in events)
        if events[-1].event_type not in pending_task and scheduled == closed:
            if len(events) == seen:
                return events
            seen = len(events)
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{handle.id} never settled")
