"""The small vocabularies every other module shares."""

from enum import StrEnum


class ClaimKind(StrEnum):
    """What the customer asks for when the claim is opened."""

    RETURN = "return"  # give the product back for a refund
    REPAIR = "repair"  # have a fault repaired (under warranty or paid)
    SERVICE = "service"  # a service with no fault to repair: maintenance, a software upgrade


class Fault(StrEnum):
    """The inspector's finding on the received product."""

    QUALITY_FAULT = "quality_fault"  # device or process failure of the product itself
    MAN_MADE_DAMAGE = "man_made_damage"
    EXCLUDED_CONDITION = "excluded_condition"  # a named exclusion applies (see findings)
    NO_FAULT_FOUND = "no_fault_found"
    # a problem outside a policy's listed defect scope: not a quality fault under it (004 clause 4)
    NOT_IN_SCOPE = "not_in_scope"


class Remedy(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    FREE_REPAIR = "free_repair"
    PAID_REPAIR = "paid_repair"
    PAID_SERVICE = "paid_service"  # a service claim: quoted, done once agreed, paid before ship-back
    NOT_REPAIRABLE = "not_repairable"
    REJECTED = "rejected"


class Party(StrEnum):
    """Who pays a cost, or who is notified."""

    CUSTOMER = "customer"
    MANUFACTURER = "manufacturer"


class Role(StrEnum):
    """People an escalation step can notify."""

    CUSTOMER = "customer"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


class EscalationLevel(StrEnum):
    """The rungs of an escalation ladder, lowest first."""

    REMINDER = "reminder"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    MANAGER = "manager"


class DeadlineKind(StrEnum):
    SHIPPING = "shipping"  # customer ships the parcel after the RMA is issued
    QUOTE = "quote"  # customer answers a repair quote
    REPAIR = "repair"  # repair SLA, from the start of the repair to QC pass
    PAYMENT = "payment"  # customer pays a paid repair before ship-back
    POST_REPAIR_WARRANTY = "post_repair_warranty"  # window after a paid repair
    # claimflow's own (CF-DL-*), so that no waiting state can stall unseen
    REOPEN_WINDOW = "reopen_window"  # an expired claim can be reopened, then it closes
    PARCEL_TRANSIT = "parcel_transit"  # a shipped parcel arrives
    INSPECTION = "inspection"  # a received product is inspected
    QUOTE_PREPARATION = "quote_preparation"  # a paid repair's quote is written
    REFUND = "refund"  # a refund decided is paid
    SHIP_BACK = "ship_back"  # the product goes back to the customer
    DELIVERY = "delivery"  # the carrier delivers it
    DOCUMENTATION = "documentation"  # the customer sends fault documentation
    ONSITE_VISIT = "onsite_visit"  # the engineer visits and reports
    REMOTE_GUIDANCE = "remote_guidance"  # remote guidance solves it or another channel is chosen
    DETERMINATION = "determination"  # headquarters determines coverage after an on-site visit


# The deadlines a policy file sets (deadlines.* and post_repair_warranty); the others are
# claimflow's own rules, in models/deadline_table.py.
POLICY_DEADLINE_KINDS = (
    DeadlineKind.SHIPPING,
    DeadlineKind.QUOTE,
    DeadlineKind.REPAIR,
    DeadlineKind.PAYMENT,
    DeadlineKind.POST_REPAIR_WARRANTY,
)


class ClaimState(StrEnum):
    OPENED = "opened"
    REJECTED = "rejected"
    REMOTE_GUIDANCE = "remote_guidance"  # an engineer guides the customer remotely first
    AWAITING_DOCUMENTATION = "awaiting_documentation"  # fault photos/videos before an on-site visit
    ONSITE_VISIT = "onsite_visit"  # an engineer visits; their report decides the remedy
    AWAITING_DETERMINATION = "awaiting_determination"  # headquarters decides "not covered" after a visit
    AWAITING_PARCEL = "awaiting_parcel"  # RMA issued, shipping deadline running
    PARCEL_IN_TRANSIT = "parcel_in_transit"  # customer shipped, deadline met
    EXPIRED = "expired"  # customer never shipped
    INSPECTING = "inspecting"
    REFUND_DUE = "refund_due"
    AWAITING_QUOTE = "awaiting_quote"  # paid repair decided, quote to be written
    AWAITING_APPROVAL = "awaiting_approval"  # quote sent, expiry running
    QUOTE_EXPIRED = "quote_expired"
    REPAIRING = "repairing"  # repair SLA running
    QUALITY_CHECK = "quality_check"
    AWAITING_PAYMENT = "awaiting_payment"  # payment deadline running
    AWAITING_SHIP_BACK = "awaiting_ship_back"
    SHIPPED_BACK = "shipped_back"
    POST_REPAIR_WARRANTY = "post_repair_warranty"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


TERMINAL_STATES = frozenset(
    {ClaimState.REJECTED, ClaimState.EXPIRED, ClaimState.COMPLETED, ClaimState.CANCELLED}
)


class UserRole(StrEnum):
    """Who signs in to the web UI (models/permissions.py says what each may do)."""

    AGENT = "agent"  # opens and drives claims
    SUPERVISOR = "supervisor"  # and works escalations: reopen, extend, settle, assign, determine
    AUDITOR = "auditor"  # reads everything, changes nothing
    ADMIN = "admin"  # everything, and manages users


# The languages of the web UI (English is the msgids; web/locale holds the others).
UI_LOCALES = ("en", "zh_Hans_CN")


# --- complaints (models/complaint.py) ---------------------------------------------------


class ComplaintChannel(StrEnum):
    """How a complaint came in (seed 004 System 3: each call, letter and visit is recorded)."""

    PHONE = "phone"
    LETTER = "letter"
    VISIT = "visit"
    EMAIL = "email"


class ComplaintState(StrEnum):
    RECEIVED = "received"  # passed through while the complaint is routed; never waited in
    AWAITING_REPLY = "awaiting_reply"  # the reply clock runs; past it, the levels' clocks
    ANSWERED = "answered"  # the customer says whether the reply satisfied them
    REOPENED = "reopened"  # passed through: not satisfied, a new reply clock starts
    CLOSED = "closed"
    CANCELLED = "cancelled"


COMPLAINT_TERMINAL_STATES = frozenset({ComplaintState.CLOSED, ComplaintState.CANCELLED})


class ComplaintClock(StrEnum):
    """A complaint's timers: the reply, each level's own time after it, the customer's feedback."""

    REPLY = "reply"
    HANDLER = "handler"
    DEPARTMENT_HEAD = "department_head"
    LEADER = "leader"
    FEEDBACK = "feedback"
