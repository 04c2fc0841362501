"""A complaint (seed 004's complaint system): its intake, its actions, its live view, and the
pure rules the complaint workflow applies — routing by category, the reply clock, the
level-by-level ladder and who each level is.

The policy says it all (`Policy.complaints`, models/policy.py): categories and the
department each goes to, the reply time and whether it counts wall-clock or service hours,
the levels (handler, department head, company leader) with each level's own hours, and
the addresses. Pure: "now" is always passed in.
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from models.calendar import WorkCalendar, add_service_hours, end_of_natural_days, local_date
from models.claim import (
    ClaimNumber,
    Customer,
    DeadlineStatus,
    Decision,
    Model,
    Name,
    Text,
    TimelineEntry,
    _printable,
    email_address,
)
from models.enums import (
    COMPLAINT_TERMINAL_STATES,
    UI_LOCALES,
    ComplaintChannel,
    ComplaintClock,
    ComplaintState,
    EscalationLevel,
)
from models.limits import ID_MAX, NOTE_MAX, TIMELINE_IN_VIEW
from models.policy import COMPLAINT_LEVELS, ComplaintLevelName, Policy, ServiceHours

C = ComplaintState

# Workflow id = complaint number: "CP-" and 2 to 37 letters, digits or dashes (typed in
# either case, kept in upper case). Claim numbers and complaint numbers share Temporal's
# workflow ids: the prefix keeps them apart (claim_input refuses a claim number with it).
COMPLAINT_PREFIX = "CP-"
ComplaintNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[Cc][Pp]-[A-Za-z0-9][A-Za-z0-9-]{1,36}$")
]
Slug = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ID_MAX), _printable()]
ReplyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_MAX), _printable("\n\t")]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX), _printable("\n\t")]
Locale = Literal[UI_LOCALES]  # type: ignore[valid-type]

# A complaint's levels and the rungs of claimflow's escalation ladder their notifications use.
LEVEL_OF: dict[ComplaintLevelName, EscalationLevel] = {
    "handler": EscalationLevel.AGENT,
    "department_head": EscalationLevel.SUPERVISOR,
    "leader": EscalationLevel.MANAGER,
}
LEVEL_TITLES: dict[ComplaintLevelName, str] = {
    "handler": "handler", "department_head": "department head", "leader": "company leader",
}  # fmt: skip

# The complaint's deadline table: the state each clock runs in (leaving it clears the clock),
# and the clock entering a state starts. The levels' clocks start when the one before ran out.
RUNS_IN: dict[ComplaintClock, ComplaintState] = {
    ComplaintClock.REPLY: C.AWAITING_REPLY,
    ComplaintClock.HANDLER: C.AWAITING_REPLY,
    ComplaintClock.DEPARTMENT_HEAD: C.AWAITING_REPLY,
    ComplaintClock.LEADER: C.AWAITING_REPLY,
    ComplaintClock.FEEDBACK: C.ANSWERED,
}
STARTS_ON_ENTRY: dict[ComplaintState, ComplaintClock] = {
    C.AWAITING_REPLY: ComplaintClock.REPLY,
    C.ANSWERED: ComplaintClock.FEEDBACK,
}
# What comes after a clock runs out: the next level (None: the ladder's top; the feedback
# window closes the complaint instead).
NEXT_LEVEL: dict[ComplaintClock, ComplaintLevelName | None] = {
    ComplaintClock.REPLY: "handler",
    ComplaintClock.HANDLER: "department_head",
    ComplaintClock.DEPARTMENT_HEAD: "leader",
    ComplaintClock.LEADER: None,
}


# --- intake ---------------------------------------------------------------------------


class ComplaintIntake(Model):
    """Everything recorded when a call, letter, visit or e-mail is received."""

    complaint_number: ComplaintNumber
    policy: Slug
    channel: ComplaintChannel
    category: Slug  # one of the policy's complaint categories
    description: Text
    emergency: bool = False
    customer: Customer  # contact: an e-mail address (then the customer is mailed) or a phone
    locale: Locale = "en"  # the customer's language, for their messages
    claim_number: ClaimNumber | None = None  # the claim it is about, if any
    opened_by: Name


class ComplaintInput(Model):
    """The workflow's input: the intake, the policy as it was when the complaint came in,
    and the calendar its service hours count on (claimflow.calendars.work_calendar)."""

    intake: ComplaintIntake
    policy: Policy
    calendar: WorkCalendar = WorkCalendar()


def intake_problems(policy: Policy, intake: ComplaintIntake) -> list[str]:
    """Why the complaint cannot be taken under `policy` (empty: it can)."""
    if policy.complaints is None:
        return [f"policy {policy.name} takes no complaints"]
    if policy.complaints.category(intake.category) is None:
        known = ", ".join(c.id for c in policy.complaints.categories)
        return [f"policy {policy.name} has no complaint category {intake.category!r}; its categories: {known}"]
    return []


def is_email(contact: str) -> bool:
    return email_address(contact) is not None


# --- actions: one workflow update each ------------------------------------------------


class ComplaintAction(Model):
    by: Name
    note: Note = ""


class RecordReply(ComplaintAction):
    """The department's reply to the customer (the customer is mailed it when their contact is an e-mail)."""

    reply: ReplyText


class RecordSatisfaction(ComplaintAction):
    """The customer's word on the reply: satisfied closes the complaint; not satisfied reopens it with a new reply clock."""

    satisfied: bool


class Reassign(ComplaintAction):
    """Route the complaint to another department of the policy (its reply clock runs on)."""

    department: Slug


class AcknowledgeComplaintEscalation(ComplaintAction):
    """Someone took the escalated complaint in hand: the ladder stops climbing (the reply is still owed)."""


class CloseComplaint(ComplaintAction):
    """A supervisor closes the complaint (settled another way)."""

    reason: Text


class CancelComplaint(ComplaintAction):
    """A supervisor cancels the complaint (recorded in error, withdrawn)."""

    reason: Text


COMPLAINT_ACTIONS: dict[str, type[ComplaintAction]] = {
    "record_reply": RecordReply,
    "record_satisfaction": RecordSatisfaction,
    "reassign": Reassign,
    "acknowledge_escalation": AcknowledgeComplaintEscalation,
    "close_complaint": CloseComplaint,
    "cancel_complaint": CancelComplaint,
}
COMPLAINT_ACTION_NAMES: dict[type[ComplaintAction], str] = {cls: name for name, cls in COMPLAINT_ACTIONS.items()}
STATES_FOR_ACTION: dict[str, frozenset[ComplaintState]] = {
    "record_reply": frozenset({C.AWAITING_REPLY}),
    "record_satisfaction": frozenset({C.ANSWERED}),
    "reassign": frozenset({C.AWAITING_REPLY}),
    "close_complaint": frozenset({C.AWAITING_REPLY, C.ANSWERED}),
    "cancel_complaint": frozenset({C.AWAITING_REPLY, C.ANSWERED}),
}


def allowed_actions(state: ComplaintState, escalated: bool) -> list[str]:
    """The actions that fit `state`; acknowledging needs an escalation no one took in hand."""
    names = [name for name, states in STATES_FOR_ACTION.items() if state in states]
    return names + (["acknowledge_escalation"] if escalated and state is C.AWAITING_REPLY else [])


def refusal(action: str, state: ComplaintState, escalated: bool) -> str | None:
    """Why `action` is refused in `state`, or None when it is allowed."""
    if action in allowed_actions(state, escalated):
        return None
    if action == "acknowledge_escalation" and state is C.AWAITING_REPLY:
        return "acknowledge_escalation refused: the complaint has not escalated, or its escalation was acknowledged"
    allowed = ", ".join(allowed_actions(state, escalated)) or "none"
    return f"{action} is not allowed while the complaint is {state.value}; allowed now: {allowed}"


# --- the rules: routing, the reply clock, the ladder ------------------------------------


def route(policy: Policy, category_id: str) -> Decision:
    """The department a complaint of `category_id` goes to (Decision.outcome: its id)."""
    rules = policy.complaints
    assert rules is not None
    category = rules.category(category_id)
    assert category is not None
    department = rules.department(category.department)
    assert department is not None
    return Decision(
        what="routing",
        outcome=department.id,
        reason=f"a complaint about {category.title} goes to the {department.name}",
        clause_ids=list(dict.fromkeys([*category.clause_ids, *department.clause_ids])),
        inputs={"category": category.id},
    )


def counted_hours(policy: Policy) -> ServiceHours | None:
    """The service hours the complaint clocks count (None: wall-clock hours)."""
    assert policy.complaints is not None
    return policy.service_hours if policy.complaints.counting == "service_hours" else None


def hours_unit(policy: Policy) -> str:
    return "service hours" if counted_hours(policy) is not None else "hours"


def reply_due(policy: Policy, start: datetime, calendar: WorkCalendar) -> datetime:
    """When a reply clock started at `start` runs out."""
    assert policy.complaints is not None
    return add_service_hours(start, policy.complaints.reply_hours, counted_hours(policy), policy.timezone, calendar)


def level_due(policy: Policy, level: ComplaintLevelName, start: datetime, calendar: WorkCalendar) -> datetime:
    """When `level`'s own time, started at `start` (the moment the clock before ran out), runs out."""
    assert policy.complaints is not None
    hours = policy.complaints.level(level).hours
    return add_service_hours(start, hours, counted_hours(policy), policy.timezone, calendar)


def feedback_due(policy: Policy, answered_at: datetime) -> datetime:
    """The end of the customer's feedback window: natural days after the day of the reply."""
    assert policy.complaints is not None
    return end_of_natural_days(local_date(answered_at, policy.timezone), policy.complaints.feedback_days, policy.timezone)


class LadderStep(Model):
    """A rung of a reply clock's ladder: escalated to `level` at `at`, its own time ends at `until`."""

    level: ComplaintLevelName
    at: datetime
    until: datetime
    fired: bool = False


def ladder(policy: Policy, reply_due_at: datetime, calendar: WorkCalendar) -> list[LadderStep]:
    """The planned ladder of a reply clock due at `reply_due_at`: each level's moment and end."""
    steps, start = [], reply_due_at
    for level in COMPLAINT_LEVELS:
        until = level_due(policy, level, start, calendar)
        steps.append(LadderStep(level=level, at=start, until=until))
        start = until
    return steps


def recipients(policy: Policy, department_id: str, level: ComplaintLevelName) -> list[str]:
    """Whose addresses a step of the ladder mails: the department's handlers, its head, the leader."""
    rules = policy.complaints
    assert rules is not None
    if level == "leader":
        return list(rules.leader_addresses)
    department = rules.department(department_id)
    assert department is not None
    if level == "department_head":
        return list(department.head_addresses or department.addresses)
    return list(department.addresses)


# --- the live view --------------------------------------------------------------------


class ComplaintDeadline(DeadlineStatus):
    """A complaint's clock: the claim's deadline status, of a complaint clock's kind (so the
    pure functions of models/deadlines.py fire it; complaint clocks have no ladder of their
    own — each level is a clock of its own)."""

    kind: ComplaintClock  # type: ignore[assignment]


class ComplaintEscalation(Model):
    level: ComplaintLevelName
    rung: EscalationLevel  # the level on claimflow's ladder (notifications)
    cycle: int  # the reply clock it belongs to (0: an emergency, at intake)
    department: str
    to: list[str]
    at: datetime
    due_at: datetime | None = None  # the clock that ran out (None: an emergency)
    urgent: bool = False
    emergency: bool = False


class Reply(Model):
    cycle: int
    reply: str
    by: str
    at: datetime
    due_at: datetime  # of the reply clock it answered
    late: bool


class ComplaintView(Model):
    """The live state of a complaint, as the workflow's `view` query returns it."""

    complaint_number: str
    policy: str
    channel: ComplaintChannel
    category: str
    category_title: str
    department: str
    department_name: str
    state: ComplaintState
    emergency: bool
    customer: Customer
    description: str
    locale: str
    claim_number: str | None
    opened_by: str
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None  # when it was closed or cancelled
    as_of: datetime
    timezone: str
    counting: Literal["wall_clock", "service_hours"]
    reply_hours: int
    service_hours: ServiceHours | None
    deadlines: list[ComplaintDeadline]
    ladder: list[LadderStep]  # of the current reply clock
    escalations: list[ComplaintEscalation]
    replies: list[Reply]
    satisfied: bool | None  # the customer's last word on a reply
    reopens: int
    decisions: list[Decision]
    timeline: list[TimelineEntry]
    timeline_from: int = 0
    allowed_actions: list[str]
    clauses: dict[str, str]

    @property
    def open_deadlines(self) -> list[ComplaintDeadline]:
        return [d for d in self.deadlines if not d.cleared]

    @property
    def reply_clock(self) -> ComplaintDeadline | None:
        """The current reply clock (the last one started), cleared or not."""
        return next((d for d in reversed(self.deadlines) if d.kind is ComplaintClock.REPLY), None)

    @property
    def overdue(self) -> bool:
        return is_overdue(self.state, self.deadlines)

    @property
    def escalation_level(self) -> ComplaintLevelName | None:
        """The highest level the current reply clock escalated to, while it is open."""
        clock = self.reply_clock
        if clock is None or clock.cleared or self.state in COMPLAINT_TERMINAL_STATES:
            return None
        fired = [e.level for e in self.escalations if e.cycle == clock.cycle]
        return fired[-1] if fired else None


def state_at(
    state: ComplaintState, deadlines: list[ComplaintDeadline], now: datetime
) -> tuple[ComplaintState, ComplaintDeadline | None]:
    """The state a complaint in `state` is in at `now` once its due clocks are applied, and
    the clock that moved it (None: none did). Validators may not change the complaint, so
    they look ahead with this. Only the end of the feedback window moves one (to closed)."""
    for clock in deadlines:
        if clock.kind is ComplaintClock.FEEDBACK and not (clock.cleared or clock.due_passed) and clock.due_at <= now:
            return C.CLOSED, clock
    return state, None


def escalated_at(state: ComplaintState, deadlines: list[ComplaintDeadline], now: datetime) -> bool:
    """Whether, at `now`, the current reply clock has run out and no one acknowledged it."""
    clock = next((d for d in reversed(deadlines) if d.kind is ComplaintClock.REPLY), None)
    return (
        state_at(state, deadlines, now)[0] is C.AWAITING_REPLY
        and clock is not None and not clock.cleared and clock.due_at <= now and clock.acknowledged_by is None
    )  # fmt: skip


def is_overdue(state: ComplaintState, deadlines: list[ComplaintDeadline]) -> bool:
    """The reply clock ran out and no reply came yet."""
    return state is C.AWAITING_REPLY and any(
        d.kind is ComplaintClock.REPLY and d.due_passed and not d.cleared for d in deadlines
    )


class ComplaintActionResult(Model):
    complaint_number: str
    state: ComplaintState
    allowed_actions: list[str]
    message: str


# --- the read model's view --------------------------------------------------------------


class ComplaintSnapshot(Model):
    """What the read model needs of a complaint at one moment: the list row and the timeline
    entries from `events_from` on; `version` (the timeline's length) orders snapshots."""

    complaint_number: str
    run_id: str
    policy: str
    channel: ComplaintChannel
    category: str
    department: str
    state: ComplaintState
    emergency: bool
    claim_number: str | None
    opened_at: datetime
    updated_at: datetime
    reply_due_at: datetime | None  # of the current reply clock
    due_at: datetime | None  # the next moment it is chased on (a reply, a level, the feedback)
    due_what: ComplaintClock | None
    overdue: bool
    escalation_level: ComplaintLevelName | None
    replied_at: datetime | None
    replied_late: bool | None
    reopens: int
    closed_at: datetime | None
    last_action: str | None
    version: int
    events_from: int
    events: list[TimelineEntry]


def complaint_snapshot_of(
    view: ComplaintView, events_from: int, run_id: str, max_events: int = TIMELINE_IN_VIEW
) -> ComplaintSnapshot:
    """The read model's view of a complaint (pure; the workflow's projection uses it)."""
    start = max(events_from, view.timeline_from)
    events = view.timeline[start - view.timeline_from :][:max_events]
    running = [d for d in view.deadlines if not d.cleared and not d.due_passed]
    chased = min(running, key=lambda d: d.due_at) if running else None
    clock, last = view.reply_clock, view.replies[-1] if view.replies else None
    actions = [e for e in view.timeline if e.kind == "action"]
    return ComplaintSnapshot(
        complaint_number=view.complaint_number,
        run_id=run_id,
        policy=view.policy,
        channel=view.channel,
        category=view.category,
        department=view.department,
        state=view.state,
        emergency=view.emergency,
        claim_number=view.claim_number,
        opened_at=view.opened_at,
        updated_at=view.updated_at,
        reply_due_at=clock.due_at if clock else None,
        due_at=chased.due_at if chased else None,
        due_what=chased.kind if chased else None,
        overdue=view.overdue,
        escalation_level=view.escalation_level,
        replied_at=last.at if last else None,
        replied_late=last.late if last else None,
        reopens=view.reopens,
        closed_at=view.closed_at,
        last_action=actions[-1].summary if actions else None,
        version=start + len(events),
        events_from=start,
        events=events,
    )
