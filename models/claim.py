"""Pydantic types of a claim: intake, findings, quotes, payments, decisions, timeline, live view."""

from datetime import date, datetime
from decimal import Decimal
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from models.calendar import WorkCalendar
from models.limits import (
    AMOUNT_MAX,
    CONTRACT_MONTHS_MAX,
    EARLIEST_DATE,
    ID_MAX,
    LINE_AMOUNT_MAX,
    LIST_MAX,
    NAME_MAX,
    NOTE_MAX,
    TEXT_MAX,
    TIMELINE_IN_VIEW,
)
from models.enums import TERMINAL_STATES, ClaimKind, ClaimState, DeadlineKind, EscalationLevel, Fault, Remedy
from models.policy import Policy, ServiceHours

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _printable(allowed: str = "") -> AfterValidator:
    """Refuse control characters (terminal escapes, bidi overrides) but those `allowed`."""

    def check(value: str) -> str:
        bad = sorted({c for c in value if (unicodedata.category(c) == "Cc" or c in BIDI_CONTROLS) and c not in allowed})
        if bad:
            raise ValueError("control characters are not allowed: " + ", ".join(f"U+{ord(c):04X}" for c in bad))
        return value

    return AfterValidator(check)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX), _printable()]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TEXT_MAX), _printable()]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX), _printable("\n\t")]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=ID_MAX), _printable()]
ClaimNumber = Annotated[  # typed in either case, kept in upper case (pydantic checks the pattern first)
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$")
]


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))  # always in cents: 80 -> 80.00


Money = Annotated[Decimal, Field(gt=0, le=AMOUNT_MAX, max_digits=12, decimal_places=2), AfterValidator(_cents)]
LineAmount = Annotated[Decimal, Field(gt=0, le=LINE_AMOUNT_MAX, decimal_places=2), AfterValidator(_cents)]
SaneDate = Annotated[date, Field(ge=EARLIEST_DATE)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Customer(Model):
    name: Name
    contact: Name  # e-mail or phone


class Product(Model):
    model: Name
    serial_number: Name
    barcode: Name | None = None


class ClaimIntake(Model):
    """Everything known when the claim is opened."""

    claim_number: ClaimNumber
    policy: Ident  # the policy file's name, e.g. "changkong"
    kind: ClaimKind
    customer: Customer
    product: Product
    proof_of_purchase: bool
    purchase_date: SaneDate | None = None
    goods_received_date: SaneDate | None = None
    factory_shipment_date: SaneDate | None = None
    contract_warranty_months: Annotated[int, Field(gt=0, le=CONTRACT_MONTHS_MAX)] | None = None  # sales contract
    fault_description: Text
    conditions: Annotated[list[Ident], Field(max_length=LIST_MAX)] = []  # exclusion ids already known at intake
    opened_by: Name

    @model_validator(mode="after")
    def _dates_in_order(self) -> "ClaimIntake":
        order = [
            ("factory_shipment_date", self.factory_shipment_date),
            ("purchase_date", self.purchase_date),
            ("goods_received_date", self.goods_received_date),
        ]
        known = [(name, day) for name, day in order if day is not None]
        for (first, a), (second, b) in zip(known, known[1:]):
            if a > b:
                raise ValueError(f"{first} ({a}) is after {second} ({b})")
        return self


class ClaimInput(Model):
    """The workflow's input: the intake plus the policy as it was when the claim opened,
    and the working-day calendar of the policy's country (for working-day deadlines)."""

    intake: ClaimIntake
    policy: Policy
    calendar: WorkCalendar = WorkCalendar()
    carried: "CarriedClaim | None" = None  # a continued run: the claim as the previous run left it
    # Events after which a run continues as new, fixed when the claim opens (models/limits.py):
    # whether a run continued is then read from its input, so its history replays whatever
    # the bound is later. None: opened before there was a bound (see workflows/claim.py).
    history_events_max: Annotated[int, Field(ge=20)] | None = None  # at least a few steps a run


class InspectionFindings(Model):
    fault: Fault
    exclusions: Annotated[list[Ident], Field(max_length=LIST_MAX)] = []  # ids of the policy's exclusions
    unused_and_complete: bool = False  # packaging, accessories, gifts, manual; never activated
    defect: Ident | None = None  # id of a defect in the policy's warranty scope, where it lists one
    non_repairable: Annotated[list[Ident], Field(max_length=LIST_MAX)] = []  # the policy's conditions found
    replace: bool = False  # replace rather than repair, where the policy allows (covered faults)
    notes: Note = ""

    @model_validator(mode="after")
    def _excluded_names_its_exclusion(self) -> "InspectionFindings":
        if self.fault is Fault.EXCLUDED_CONDITION and not self.exclusions:
            raise ValueError("fault 'excluded_condition' needs at least one exclusion id")
        return self


class FeeLine(Model):
    item: Name
    amount: LineAmount


class Quote(Model):
    lines: Annotated[list[FeeLine], Field(min_length=1, max_length=LIST_MAX)]
    currency: str
    sent_at: datetime
    valid_until: datetime
    answer: Literal["approved", "declined", "expired"] | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))


class Payment(Model):
    kind: Literal["payment", "refund"] = "payment"  # money in from, or out to, the customer
    amount: Money
    reference: Name
    at: datetime
    by: str


class Decision(Model):
    """One decision of the claim: what was decided, why, on which inputs and clauses."""

    what: str  # e.g. "warranty", "remedy", "freight"
    outcome: str  # e.g. "covered", "paid_repair"
    reason: str
    clause_ids: list[str]
    inputs: dict[str, str | int | bool | None] = {}
    at: datetime | None = None  # stamped by the workflow when recorded
    # typed outcomes, so that nobody parses `outcome` back (set by the rules that decide them)
    covered: bool | None = None  # warranty: covered on the day asked
    remedy: Remedy | None = None  # remedy: the remedy decided
    until: date | None = None  # post_repair_warranty: the last covered day


class TimelineEntry(Model):
    at: datetime
    kind: Literal["opened", "action", "decision", "deadline", "escalation", "state", "delivery"]
    summary: str
    by: str | None = None


class DeadlineStatus(Model):
    """A running (or finished) timer of the claim and how far its escalation ladder got."""

    kind: DeadlineKind
    cycle: int  # 1 for the first deadline of this kind on the claim, 2 for the next, ...
    started_at: datetime
    due_at: datetime
    clause_ids: list[str]
    steps_fired: int = 0
    due_passed: bool = False
    escalated_at: datetime | None = None  # when the first step at or after the deadline fired
    acknowledged_by: str | None = None
    cleared: bool = False  # the awaited thing happened; nothing more will fire
    paused_at: datetime | None = None  # the clock stopped (the claim waits on the customer)
    extensions: int = 0  # times a supervisor moved the due moment

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def escalated(self) -> bool:
        """A step at or after the deadline fired and nobody took it in hand yet
        (reminders before the deadline don't count)."""
        return self.escalated_at is not None and self.acknowledged_by is None


class Escalation(Model):
    deadline: DeadlineKind
    cycle: int
    step: int
    extension: int = 0  # the deadline's extensions when the step fired (a step may fire again after one)
    level: EscalationLevel
    notify: str
    at: datetime


class ClaimView(Model):
    """The live state of a claim, as the workflow's `view` query returns it."""

    claim_number: str
    policy: str
    kind: ClaimKind
    state: ClaimState
    remedy: Remedy | None
    product: Product | None = None
    customer: Customer | None = None  # (None in views of the first engine)
    fault_description: str | None = None  # as the customer reported it at opening
    channel: str = "return_repair"
    timezone: str = "UTC"  # the policy's, in which its days and service hours are counted
    service_hours: ServiceHours | None = None
    rma_number: str | None
    opened_at: datetime
    updated_at: datetime
    as_of: datetime  # workflow time when the view was made
    deadlines: list[DeadlineStatus]
    escalations: list[Escalation]
    decisions: list[Decision]
    timeline: list[TimelineEntry]  # the newest entries (all but the first `timeline_from`)
    timeline_from: int = 0  # position of timeline[0] in the whole timeline (the `timeline` query pages it)
    allowed_actions: list[str]
    quote: Quote | None
    payments: list[Payment]
    fees_owed: list[FeeLine] = []  # owed for a visit whatever the answer to a quote
    currency: str = ""  # the policy's, for amounts outside a quote
    assignee: str | None = None  # who a supervisor assigned the claim to (None: whoever acted last)
    post_repair_warranty_until: date | None
    repair_cycles: int
    clauses: dict[str, str]  # text of every clause cited by a decision or deadline

    @property
    def open_deadlines(self) -> list[DeadlineStatus]:
        return [d for d in self.deadlines if not d.cleared]

    @property
    def overdue(self) -> bool:
        return is_overdue(self.state, self.deadlines)

    @property
    def escalation_level(self) -> EscalationLevel | None:
        open_steps = [e for e in self.escalations if _still_escalated(self, e)]
        return open_steps[-1].level if open_steps else None


def _still_escalated(view: ClaimView, escalation: Escalation) -> bool:
    return any(
        d.kind == escalation.deadline and d.cycle == escalation.cycle and d.escalated and not d.cleared
        for d in view.deadlines
    )


def is_overdue(state: ClaimState, deadlines: list[DeadlineStatus]) -> bool:
    """A deadline of an open claim passed and the awaited thing has not happened."""
    return state not in TERMINAL_STATES and any(d.due_passed for d in deadlines if not d.cleared)


def next_deadline(deadlines: list[DeadlineStatus]) -> DeadlineStatus | None:
    """The open deadline due next whose clock runs (a paused one's due moment moves on)."""
    waiting = [d for d in deadlines if not d.cleared and not d.due_passed and not d.paused]
    return min(waiting, key=lambda d: d.due_at) if waiting else None


class ClaimSnapshot(Model):
    """What the read model needs of a claim at one moment: the list row, plus the timeline
    entries from `events_from` on. `version` (the timeline's length) orders snapshots."""

    claim_number: str
    run_id: str | None = None  # the claim workflow's first run: keys its read-model rows (None: first engine)
    policy: str
    kind: ClaimKind
    state: ClaimState
    channel: str
    remedy: Remedy | None
    product_model: str | None
    serial_number: str | None
    opened_at: datetime
    updated_at: datetime
    next_deadline_at: datetime | None
    next_deadline_kind: DeadlineKind | None
    overdue: bool
    escalation_level: EscalationLevel | None
    assignee: str | None
    last_action: str | None
    version: int
    events_from: int
    events: list[TimelineEntry]
    escalations: list[Escalation]
    # (defaults: snapshots scheduled before these existed still project)
    rma_number: str | None = None
    due_at: datetime | None = None  # the deadline the claim is chased on (see chased_deadline)
    due_kind: DeadlineKind | None = None
    resolved_at: datetime | None = None  # see resolved_at


def resolved_at(view: "ClaimView") -> datetime | None:
    """When the claim was resolved, for the dashboard's time to resolve: the product back
    with the customer after a repair (the last entry into the post-repair window), else the
    moment it completed (its last change). None while it is not resolved (cancelled and
    expired claims are not)."""
    if view.state not in (ClaimState.COMPLETED, ClaimState.POST_REPAIR_WARRANTY):
        return None
    into_window = [
        e.at for e in view.timeline if e.kind == "state" and e.summary.endswith(f"→ {ClaimState.POST_REPAIR_WARRANTY.value}")
    ]
    return into_window[-1] if into_window else view.updated_at


def chased_deadline(state: ClaimState, deadlines: list[DeadlineStatus]) -> DeadlineStatus | None:
    """The deadline a claim is chased on, which claim lists sort by and show: the earliest
    open one whose clock runs, a passed one included while the claim is open (it is then
    overdue: `is_overdue`); of a closed claim, only one not yet passed."""
    running = [
        d for d in deadlines
        if not d.cleared and not d.paused and (not d.due_passed or state not in TERMINAL_STATES)
    ]  # fmt: skip
    return min(running, key=lambda d: d.due_at) if running else None


def snapshot_of(
    view: ClaimView, events_from: int = 0, run_id: str | None = None, max_events: int = TIMELINE_IN_VIEW
) -> ClaimSnapshot:
    """The read model's view of a claim (pure; used by the workflow and by reindex): the
    row, and at most `max_events` timeline entries from `events_from` on (or from the
    first the view holds); `version` is the position after the last entry it carries."""
    start = max(events_from, view.timeline_from)
    events = view.timeline[start - view.timeline_from :][:max_events]
    upcoming = next_deadline(view.deadlines)
    chased = chased_deadline(view.state, view.deadlines)
    actions = [e for e in view.timeline if e.kind == "action"]
    return ClaimSnapshot(
        claim_number=view.claim_number,
        run_id=run_id,
        policy=view.policy,
        kind=view.kind,
        state=view.state,
        channel=view.channel,
        remedy=view.remedy,
        product_model=view.product.model if view.product else None,
        serial_number=view.product.serial_number if view.product else None,
        opened_at=view.opened_at,
        updated_at=view.updated_at,
        next_deadline_at=upcoming.due_at if upcoming else None,
        next_deadline_kind=upcoming.kind if upcoming else None,
        overdue=view.overdue,
        escalation_level=view.escalation_level,
        assignee=view.assignee or (actions[-1].by if actions else None),
        last_action=actions[-1].summary if actions else None,
        version=start + len(events),
        events_from=start,
        events=events,
        escalations=view.escalations,
        rma_number=view.rma_number,
        due_at=chased.due_at if chased else None,
        due_kind=chased.kind if chased else None,
        resolved_at=resolved_at(view),
    )


MESSAGES = (  # the e-mail templates (claimflow/mail_templates/<message>.<locale>.{txt,html})
    "escalation",  # a deadline's ladder step, to the role of its level
    "undelivered",  # a notification not delivered within its bound, to the supervisor
    "rma_issued",  # to the customer: the RMA number and the shipping deadline
    "quote_sent",  # to the customer: the quote, its total, its link and how long it holds
    "payment_due",  # to the customer: the amount and the moment it is due
    "shipped_back",  # to the customer: the product is on its way back
    "complaint_received",  # to the customer: the complaint's number and when a reply is due
    "complaint_answered",  # to the customer: the reply
    "complaint_escalation",  # a complaint's reply clock ran out: to the level's people
)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_address(contact: str) -> str | None:
    """The contact when it is an e-mail address (a customer's contact may be a phone number)."""
    contact = contact.strip()
    return contact if _EMAIL.match(contact) else None


class Notification(Model):
    """A message for people about a claim or complaint; `key` makes sending it idempotent.

    `role` says whose it is (a Role, or a complaint's department); the notify activity mails the users with that role and an e-mail address, and
    the addresses in `to`. The fields after `at` came with e-mail: a notification queued
    before them reads with their defaults (an escalation, sent as soon as possible)."""

    key: str  # claim/deadline#cycle/step — one notification per escalation step
    claim_number: str  # the claim's or the complaint's number
    role: str
    level: EscalationLevel  # a complaint's handler, department head and leader are agent, supervisor, manager
    subject: str  # the English subject, kept in the timeline and the read model
    body: str
    at: datetime
    message: str = "escalation"  # one of MESSAGES: the template that renders the e-mail
    to: Annotated[list[Annotated[str, StringConstraints(max_length=NAME_MAX)]], Field(max_length=LIST_MAX)] = []
    facts: dict[str, Annotated[str, StringConstraints(max_length=NOTE_MAX)]] = {}  # the template's fields
    locale: str = "en"  # the language of a customer's message (staff read theirs in their own)
    urgent: bool = False  # sent at once: emergencies and the top level never wait for service hours
    policy: str | None = None  # the policy whose routing and service hours apply


class Delivery(Model):
    """What the notify activity did with a notification, for the timeline: whom the e-mail
    went to (at most LIST_MAX addresses are listed; `note` gives the count) and one line
    saying so ("e-mail sent to 2 people", "no one with an e-mail address has role manager;
    in the outbox only"). `delivered_now` is False when the key was delivered before and
    nothing was sent again."""

    sent_to: list[str] = []
    note: str
    delivered_now: bool = True


def escalation_subject(claim_number: str, escalation: Escalation, due_at: datetime) -> str:
    """The subject of the notification an escalation step sends (also rebuilt by reindex)."""
    when = "passed" if escalation.at >= due_at else "due"
    return f"[{escalation.level.value}] claim {claim_number}: {escalation.deadline.value} deadline {when}"


def escalation_notification_key(claim_number: str, escalation: Escalation) -> str:
    """One notification per claim, deadline, cycle and step: the outbox's idempotency key."""
    key = f"{claim_number}/{escalation.deadline.value}#{escalation.cycle}/{escalation.step}"
    return key + (f"+{escalation.extension}" if escalation.extension else "")


class ActionResult(Model):
    """What an update returns: where the claim stands now."""

    claim_number: str
    state: ClaimState
    allowed_actions: list[str]
    message: str


class CarriedClaim(Model):
    """What a claim carries from one run of its workflow into the next.

    A claim can live for months, and every action, timer and delivery adds events to its
    workflow's history. Past HISTORY_EVENTS_MAX events (models/limits.py), or when Temporal
    suggests it, the workflow continues as new: the next run starts with the same intake,
    policy and calendar snapshots and this object, the whole state of the claim, and goes
    on exactly where the previous run was. Each field is the workflow's attribute of the
    same name (with a leading underscore); tests/test_long_lives.py checks that every
    attribute is carried or rebuilt from the input."""

    run: int  # the run this state starts: 2 for the first continuation
    state: ClaimState
    opened_at: datetime
    updated_at: datetime
    reported_on: date
    rma: str | None
    rmas_issued: int
    remedy: Remedy | None
    fault: Fault | None
    warranty: Decision | None
    quote: Quote | None
    payments: list[Payment]
    paid_repair: bool
    channel: str
    fees_due: list[str]
    owed: list[FeeLine]
    visit_owed: list[FeeLine] | None
    assignee: str | None
    post_repair_until: date | None
    repair_cycles: int
    quotes_sent: int
    qc_failures: int
    fault_reports: int
    reopens: int
    unpaid: bool
    deadlines: list[DeadlineStatus]
    escalations: list[Escalation]
    decisions: list[Decision]
    timeline: list[TimelineEntry]  # the whole timeline: the view and the audit read one claim
    outbox: list[Notification]  # not delivered yet: the next run sends them (the key makes it once)
    reported_late: list[str]  # keys of outbox notifications already reported as not delivered in time
    projected: int  # timeline entries already in the read model
    behind_since: datetime | None  # the read model has been unreachable since


ClaimInput.model_rebuild()
