"""Agent actions: the payload of each workflow update, and in which states each is allowed.

One class per action; `ACTIONS` maps the update name to its payload type, so the CLI,
the web UI and the workflow share one list. `allowed_actions` is the one place that says
which action fits which state.
"""

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field

from models.claim import FeeLine, InspectionFindings, Model, Money, Name, Note, SaneDate, Text
from models.limits import LIST_MAX
from models.enums import ClaimState, DeadlineKind

S = ClaimState


class AgentAction(Model):
    """Every action says who did it and may carry a free-text note."""

    by: Name
    note: Note = ""


class RecordCustomerShipment(AgentAction):
    """The customer has sent the parcel: the shipping deadline is met."""

    carrier: Name
    tracking_number: Name


class ReceiveParcel(AgentAction):
    """The parcel arrived at the service centre (its condition is recorded at inspection)."""


class RecordInspection(AgentAction, InspectionFindings):
    """The technician's findings; the workflow decides the remedy from them."""


class RecordRefund(AgentAction):
    amount: Money
    reference: Name


class SendQuote(AgentAction):
    lines: Annotated[list[FeeLine], Field(min_length=1, max_length=LIST_MAX)]


class ApproveQuote(AgentAction):
    """The customer agreed to the quote."""


class DeclineQuote(AgentAction):
    """The customer declined the quote: the product goes back unrepaired."""


class CompleteRepair(AgentAction):
    work_done: Text


class RecordQualityCheck(AgentAction):
    passed: bool


class RecordPayment(AgentAction):
    amount: Money
    reference: Name


class ShipBack(AgentAction):
    carrier: Name
    tracking_number: Name


class ConfirmDelivery(AgentAction):
    """The carrier delivered the product back to the customer."""


class ReportFault(AgentAction):
    """A new fault reported during the post-repair warranty window."""

    description: Text


class AcknowledgeEscalation(AgentAction):
    """Someone took the escalated deadline in hand: stop walking its ladder."""

    deadline: DeadlineKind


class ResolveRemotely(AgentAction):
    """Remote guidance solved the problem: the claim closes without a parcel."""

    summary: Text


class ChooseChannel(AgentAction):
    """Remote guidance did not solve it: move to another service channel of the policy."""

    channel: Literal["return_repair", "on_site_repair", "on_site_check"]


class RecordDocumentation(AgentAction):
    """The customer's fault documentation (photos, videos, fault list) before a visit."""

    items: Annotated[list[Text], Field(min_length=1, max_length=LIST_MAX)]


class RecordOnsiteReport(AgentAction, InspectionFindings):
    """The engineer's report from the visit; the workflow decides the remedy from it.
    `owed`: the fees owed for the visit whatever the customer answers to a repair quote,
    where the policy names such fees (an engineer's travel) and the visit is not covered."""

    owed: Annotated[list[FeeLine], Field(max_length=LIST_MAX)] = []


class RecordDetermination(AgentAction):
    """Headquarters' final word after an on-site visit the engineer found not covered
    (002 3.2.3 c): within the warranty policy (repaired free) or not (fees are due)."""

    within_policy: bool


class CancelClaim(AgentAction):
    """The claim is withdrawn (by the customer before shipping; by a supervisor in any open state)."""

    reason: Text


class ReopenClaim(AgentAction):
    """A supervisor reopens an expired claim (a late parcel): a new shipping deadline runs."""

    reason: Text


class SettleUnpaid(AgentAction):
    """A supervisor closes an overdue payment: return the product unpaid, or dispose of it."""

    outcome: Literal["return_unpaid", "dispose"]
    reason: Text


class AssignClaim(AgentAction):
    """A supervisor gives the claim to a person (lists filter on it)."""

    assignee: Name


class ExtendDeadline(AgentAction):
    """A supervisor moves an open deadline's due moment later by whole natural days."""

    deadline: DeadlineKind
    days: Annotated[int, Field(ge=1, le=90)]
    reason: Text


class ScheduleVisit(AgentAction):
    """The on-site check is booked: the day the professional comes, and who (seed 004,
    clause 3: "the company will send professionals to check"). The visit deadline moves to
    the end of that day, so a visit not held by its date escalates."""

    on: SaneDate
    professional: Name


ACTIONS: dict[str, type[AgentAction]] = {
    "record_customer_shipment": RecordCustomerShipment,
    "receive_parcel": ReceiveParcel,
    "record_inspection": RecordInspection,
    "record_refund": RecordRefund,
    "send_quote": SendQuote,
    "approve_quote": ApproveQuote,
    "decline_quote": DeclineQuote,
    "complete_repair": CompleteRepair,
    "record_quality_check": RecordQualityCheck,
    "record_payment": RecordPayment,
    "ship_back": ShipBack,
    "confirm_delivery": ConfirmDelivery,
    "report_fault": ReportFault,
    "acknowledge_escalation": AcknowledgeEscalation,
    "cancel_claim": CancelClaim,
    "resolve_remotely": ResolveRemotely,
    "choose_channel": ChooseChannel,
    "record_documentation": RecordDocumentation,
    "record_onsite_report": RecordOnsiteReport,
    "record_determination": RecordDetermination,
    "reopen_claim": ReopenClaim,
    "schedule_visit": ScheduleVisit,
    "extend_deadline": ExtendDeadline,
    "assign_claim": AssignClaim,
    "settle_unpaid": SettleUnpaid,
}

ACTION_NAMES: dict[type[AgentAction], str] = {cls: name for name, cls in ACTIONS.items()}

STATES_FOR_ACTION: dict[str, frozenset[ClaimState]] = {
    "record_customer_shipment": frozenset({S.AWAITING_PARCEL}),
    "receive_parcel": frozenset({S.AWAITING_PARCEL, S.PARCEL_IN_TRANSIT}),
    "record_inspection": frozenset({S.INSPECTING}),
    "record_refund": frozenset({S.REFUND_DUE}),
    "send_quote": frozenset({S.AWAITING_QUOTE, S.QUOTE_EXPIRED}),
    "approve_quote": frozenset({S.AWAITING_APPROVAL}),
    "decline_quote": frozenset({S.AWAITING_APPROVAL, S.QUOTE_EXPIRED}),
    "complete_repair": frozenset({S.REPAIRING}),
    "record_quality_check": frozenset({S.QUALITY_CHECK}),
    "record_payment": frozenset({S.AWAITING_PAYMENT}),
    "ship_back": frozenset({S.AWAITING_SHIP_BACK}),
    "confirm_delivery": frozenset({S.SHIPPED_BACK}),
    "report_fault": frozenset({S.POST_REPAIR_WARRANTY}),
    "cancel_claim": frozenset({S.AWAITING_PARCEL, S.REMOTE_GUIDANCE, S.AWAITING_DOCUMENTATION, S.ONSITE_VISIT}),
    "resolve_remotely": frozenset({S.REMOTE_GUIDANCE}),
    "choose_channel": frozenset({S.REMOTE_GUIDANCE}),
    "record_documentation": frozenset({S.AWAITING_DOCUMENTATION}),
    "record_onsite_report": frozenset({S.ONSITE_VISIT}),
    "schedule_visit": frozenset({S.ONSITE_VISIT}),
    "record_determination": frozenset({S.AWAITING_DETERMINATION}),
    "reopen_claim": frozenset({S.EXPIRED}),
}


def allowed_actions(state: ClaimState, escalated: set[DeadlineKind], extra: Iterable[str] = ()) -> list[str]:
    """The actions that fit `state`; acknowledging needs a deadline that escalated; `extra`
    are those the claim allows beyond its state (extend an open deadline, cancel anywhere,
    settle an overdue payment)."""
    names = [name for name, states in STATES_FOR_ACTION.items() if state in states]
    if escalated:
        names.append("acknowledge_escalation")
    return names + [name for name in extra if name not in names]


def refusal(action: str, state: ClaimState, escalated: set[DeadlineKind], extra: Iterable[str] = ()) -> str | None:
    """Why `action` is refused in `state`, or None when it is allowed."""
    if action not in ACTIONS:
        return f"unknown action {action!r}; known: {', '.join(ACTIONS)}"
    if action in allowed_actions(state, escalated, extra):
        return None
    allowed = ", ".join(allowed_actions(state, escalated, extra)) or "none"
    return f"{action} is not allowed while the claim is {state.value}; allowed now: {allowed}"
