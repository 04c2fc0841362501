"""The deadline table: every deadline a claim can have, as data, in one place.

A row says, for one deadline kind (and the claim kinds it applies to): the states in
which its clock runs, the states in which it is paused (the claim waits on the
customer; the time left is kept), the states in which it stays open after it passed (its
ladder goes on climbing), what its expiry does, and where its days, ladder and clauses
come from — the claim's policy for the deadlines a policy sets, claimflow's own CF-DL-*
rules (with their text below) for the rest.

The workflow applies the table in one place whenever the claim's state changes
(`transitions`): a deadline starts on entering a state it runs in, pauses, resumes, and
is cleared on leaving them. Every non-terminal state has a deadline that runs in it,
or is in `WITHOUT_DEADLINE` with the reason (a test checks this).

Changing a row changes the behaviour of claims already open: do it behind
`workflow.patched` in the workflow (see the README, "Changing a workflow").
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from models.claim import DeadlineStatus
from models.enums import TERMINAL_STATES, ClaimKind, ClaimState, DeadlineKind, EscalationLevel, Role
from models.policy import DeadlineRule, EscalationStep, Policy

S = ClaimState
K = DeadlineKind


class Expiry(StrEnum):
    """What a deadline passing does by itself (its ladder then notifies people)."""

    EXPIRE = "expire"  # the claim moves to `expires_to`; an action that needed the window is refused
    ESCALATE = "escalate"  # nothing changes but the ladder climbs; the awaited action stays allowed
    CLOSE = "close"  # a window ends: the claim moves to `expires_to` if it is waiting in `expires_from`


@dataclass(frozen=True)
class DeadlineSpec:
    kind: DeadlineKind
    runs_in: frozenset[ClaimState]
    on_expiry: Expiry = Expiry.ESCALATE
    expires_to: ClaimState | None = None
    expires_from: frozenset[ClaimState] | None = None  # where expiry moves the claim (default: runs_in)
    paused_in: frozenset[ClaimState] = frozenset()
    stays_open_in: frozenset[ClaimState] = frozenset()  # after it passed, until an action moves on
    claim_kinds: frozenset[ClaimKind] = frozenset(ClaimKind)
    starts_on_entry: bool = True  # False: the workflow starts it on a decision (post-repair window)
    clause_ids: tuple[str, ...] = ()  # instead of the policy rule's clauses (claimflow's own rule)
    default_rule: DeadlineRule | None = None  # for kinds no policy sets
    after_expiry: str = ""  # what to do instead, told to whoever acts after it passed
    reason: str = ""  # the decision's reason when it passes

    @property
    def moves_claim_from(self) -> frozenset[ClaimState]:
        return self.expires_from if self.expires_from is not None else self.runs_in

    def rule(self, policy: Policy) -> DeadlineRule:
        """Days, calendar, ladder and clauses of this deadline under `policy`."""
        rule = self.default_rule if self.default_rule is not None else policy.deadline_rule(self.kind)
        if self.clause_ids:
            rule = rule.model_copy(update={"clause_ids": list(self.clause_ids)})
        return rule


def _ladder(*steps: tuple[int, EscalationLevel, Role]) -> list[EscalationStep]:
    return [EscalationStep(offset_hours=h, level=level, notify=role) for h, level, role in steps]


L, R = EscalationLevel, Role
STAFF_LADDER = _ladder((0, L.AGENT, R.AGENT), (24, L.SUPERVISOR, R.SUPERVISOR), (72, L.MANAGER, R.MANAGER))
CUSTOMER_LADDER = _ladder(
    (-24, L.REMINDER, R.CUSTOMER), (0, L.AGENT, R.AGENT), (48, L.SUPERVISOR, R.SUPERVISOR), (120, L.MANAGER, R.MANAGER)
)


def _cf(days: int, calendar: str, clause: str, ladder: list[EscalationStep] = STAFF_LADDER) -> DeadlineRule:
    return DeadlineRule(days=days, calendar=calendar, clause_ids=[clause], ladder=ladder)


# claimflow's own rules where the seeds are silent; cited like any policy clause.
ENGINE_CLAUSES: dict[str, str] = {
    "CF-DL-REPAIR-SHIPPING": "claimflow operating rule (the seed sets no shipping deadline for repairs): a repair "
    "claim whose product is not shipped within the RMA's shipping days expires; a supervisor may reopen it to "
    "receive a late parcel.",
    "CF-DL-REOPEN": "claimflow operating rule: an expired claim can be reopened by a supervisor within 30 natural "
    "days; then it closes.",
    "CF-DL-TRANSIT": "claimflow operating rule: a parcel the customer shipped is expected within 10 natural days; "
    "past that the claim escalates (agent, supervisor, manager) while the agent traces it with the carrier.",
    "CF-DL-INSPECTION": "claimflow operating rule: a received product is inspected within 2 working days; a late "
    "inspection escalates (agent, supervisor, manager).",
    "CF-DL-QUOTE-PREPARATION": "claimflow operating rule: the quote of a paid repair or service is sent within 2 "
    "working days of the inspection; a late quote escalates (agent, supervisor, manager).",
    "CF-DL-REFUND": "claimflow operating rule: a refund decided is paid within 7 natural days; a late refund "
    "escalates (agent, supervisor, manager).",
    "CF-DL-SHIP-BACK": "claimflow operating rule: a product due back to the customer is shipped within 2 working days; "
    "a late shipment escalates (agent, supervisor, manager).",
    "CF-DL-DELIVERY": "claimflow operating rule: a product shipped back is expected delivered within 10 natural days; "
    "past that the claim escalates (agent, supervisor, manager) while the agent traces it with the carrier.",
    "CF-DL-DOCUMENTATION": "claimflow operating rule: the customer is asked for the fault documentation within "
    "7 natural days, reminded a day before; after that the claim escalates (agent, supervisor, manager).",
    "CF-DL-ONSITE-VISIT": "claimflow operating rule: an on-site visit is made and reported within 5 working days; a "
    "late report escalates (agent, supervisor, manager).",
    "CF-UNPAID": "claimflow operating rule (the seeds are silent): when the repair fee is still unpaid after its "
    "deadline, a supervisor decides: the product goes back unpaid (with no post-repair warranty), or, after notice "
    "to the customer, it is disposed of.",
    "CF-DL-DETERMINATION": "claimflow operating rule: after an on-site visit the engineer found not covered, "
    "headquarters determines whether the problem falls within the warranty policy within 5 working days; past that "
    "the claim escalates.",
    "CF-DL-REMOTE-GUIDANCE": "claimflow operating rule: remote guidance solves the problem or moves to another "
    "channel within 3 working days; after that the claim escalates (agent, supervisor, manager).",
}

# Waiting states where no deadline runs, on purpose.
WITHOUT_DEADLINE: dict[ClaimState, str] = {
    S.OPENED: "passed through while the claim opens; never waited in",
    S.REJECTED: "terminal",
    S.COMPLETED: "terminal",
    S.CANCELLED: "terminal",
}

_ALL_OPEN = frozenset(set(ClaimState) - TERMINAL_STATES - {S.OPENED})


def deadline_table(policy: Policy, claim_kind: ClaimKind) -> list[DeadlineSpec]:
    """The rows that apply to a claim of `claim_kind` under `policy`."""
    repair_from_arrival = policy.deadlines.repair.starts_at == "parcel_received"
    shipping = DeadlineSpec(
        K.SHIPPING,
        runs_in=frozenset({S.AWAITING_PARCEL}),
        stays_open_in=frozenset({S.EXPIRED}),
        on_expiry=Expiry.EXPIRE,
        expires_to=S.EXPIRED,
        claim_kinds=frozenset({ClaimKind.RETURN}),  # a return: the policy's own clause
        after_expiry="a supervisor can reopen the claim (reopen_claim) to receive a late parcel",
        reason="the customer did not ship the parcel in time",
    )
    rows = [
        shipping,
        replace(  # a repair: the policy's days; claimflow's clause where the policy's speak of returns only
            shipping,
            claim_kinds=frozenset({ClaimKind.REPAIR, ClaimKind.SERVICE}),
            clause_ids=() if _shipping_clauses_speak_of_repairs(policy) else ("CF-DL-REPAIR-SHIPPING",),
            reason="the customer did not ship the product in time",
        ),
        DeadlineSpec(
            K.REOPEN_WINDOW,
            runs_in=frozenset({S.EXPIRED}),
            on_expiry=Expiry.CLOSE,
            default_rule=_cf(30, "natural", "CF-DL-REOPEN", ladder=[]),
            reason="the claim was not reopened; it closes",
        ),
        DeadlineSpec(
            K.PARCEL_TRANSIT,
            runs_in=frozenset({S.PARCEL_IN_TRANSIT}),
            default_rule=_cf(10, "natural", "CF-DL-TRANSIT"),
            reason="the parcel has not arrived",
        ),
        DeadlineSpec(
            K.INSPECTION,
            runs_in=frozenset({S.INSPECTING}),
            default_rule=_cf(2, "working", "CF-DL-INSPECTION"),
            reason="the product was not inspected in time",
        ),
        DeadlineSpec(
            K.QUOTE_PREPARATION,
            runs_in=frozenset({S.AWAITING_QUOTE}),
            default_rule=_cf(2, "working", "CF-DL-QUOTE-PREPARATION"),
            reason="no quote was sent in time",
        ),
        DeadlineSpec(
            K.QUOTE,
            runs_in=frozenset({S.AWAITING_APPROVAL}),
            stays_open_in=frozenset({S.QUOTE_EXPIRED}),
            on_expiry=Expiry.EXPIRE,
            expires_to=S.QUOTE_EXPIRED,
            after_expiry="send a new quote, or record that the customer declined",
            reason="the customer did not answer the quote in time",
        ),
        DeadlineSpec(
            K.REPAIR,
            runs_in=frozenset({S.REPAIRING, S.QUALITY_CHECK})
            | (frozenset({S.INSPECTING, S.AWAITING_QUOTE}) if repair_from_arrival else frozenset()),
            paused_in=frozenset({S.AWAITING_APPROVAL, S.QUOTE_EXPIRED}) if repair_from_arrival else frozenset(),
            reason="the repair did not pass QC within its SLA",
        ),
        DeadlineSpec(
            K.PAYMENT,
            runs_in=frozenset({S.AWAITING_PAYMENT}),
            reason="the repair fee was not paid in time",
        ),
        DeadlineSpec(
            K.REFUND,
            runs_in=frozenset({S.REFUND_DUE}),
            default_rule=_cf(7, "natural", "CF-DL-REFUND"),
            reason="the refund was not paid in time",
        ),
        DeadlineSpec(
            K.SHIP_BACK,
            runs_in=frozenset({S.AWAITING_SHIP_BACK}),
            default_rule=_cf(2, "working", "CF-DL-SHIP-BACK"),
            reason="the product was not shipped back in time",
        ),
        DeadlineSpec(
            K.DELIVERY,
            runs_in=frozenset({S.SHIPPED_BACK}),
            default_rule=_cf(10, "natural", "CF-DL-DELIVERY"),
            reason="delivery to the customer is not confirmed",
        ),
        DeadlineSpec(
            K.DOCUMENTATION,
            runs_in=frozenset({S.AWAITING_DOCUMENTATION}),
            default_rule=_cf(7, "natural", "CF-DL-DOCUMENTATION", ladder=CUSTOMER_LADDER),
            reason="the customer has not sent the fault documentation",
        ),
        DeadlineSpec(
            K.ONSITE_VISIT,
            runs_in=frozenset({S.ONSITE_VISIT}),
            default_rule=_cf(5, "working", "CF-DL-ONSITE-VISIT"),
            reason="the on-site visit was not reported in time",
        ),
        DeadlineSpec(
            K.DETERMINATION,
            runs_in=frozenset({S.AWAITING_DETERMINATION}),
            default_rule=_cf(5, "working", "CF-DL-DETERMINATION"),
            reason="headquarters has not determined the coverage",
        ),
        DeadlineSpec(
            K.REMOTE_GUIDANCE,
            runs_in=frozenset({S.REMOTE_GUIDANCE}),
            default_rule=_cf(3, "working", "CF-DL-REMOTE-GUIDANCE"),
            reason="remote guidance has not concluded",
        ),
    ]
    if policy.post_repair_warranty is not None:
        rows.append(
            DeadlineSpec(
                K.POST_REPAIR_WARRANTY,
                runs_in=_ALL_OPEN,
                on_expiry=Expiry.CLOSE,
                expires_to=S.COMPLETED,
                expires_from=frozenset({S.POST_REPAIR_WARRANTY}),
                starts_on_entry=False,
                reason="the post-repair warranty window ended",
            )
        )
    if policy.deadlines.shipping is None:  # no claim under the policy ships to the factory
        rows = [row for row in rows if row.kind is not K.SHIPPING]
    return [row for row in rows if claim_kind in row.claim_kinds]


def _shipping_clauses_speak_of_repairs(policy: Policy) -> bool:
    """Readings 2: whether the policy's shipping clauses apply to repairs too (none of them
    is scoped to returns only), so a repair claim's shipping deadline cites them."""
    rule = policy.deadlines.shipping
    if policy.readings < 2 or rule is None:
        return False
    scopes = [next(c.scope for c in policy.clauses if c.id == cid) for cid in rule.clause_ids]
    return all(not scope or ClaimKind.REPAIR in scope for scope in scopes)


@dataclass
class Transition:
    """What entering a state does to the claim's deadlines."""

    start: list[DeadlineSpec] = field(default_factory=list)
    restart: list[DeadlineSpec] = field(default_factory=list)  # a passed one replaced by a new cycle
    pause: list[DeadlineKind] = field(default_factory=list)
    resume: list[DeadlineKind] = field(default_factory=list)
    clear: list[DeadlineKind] = field(default_factory=list)


def transition(
    table: list[DeadlineSpec],
    before: ClaimState,
    after: ClaimState,
    open_deadlines: dict[DeadlineKind, "OpenDeadline"],
) -> Transition:
    """The table applied to a state change from `before` to `after`, given the deadlines
    open now (kind -> whether it passed / is paused)."""
    change = Transition()
    for spec in table:
        current = open_deadlines.get(spec.kind)
        if after in spec.runs_in:
            if current is None:
                if spec.starts_on_entry:
                    change.start.append(spec)
            elif current.paused:
                change.resume.append(spec.kind)
            elif current.passed and before in spec.stays_open_in:
                change.restart.append(spec)  # a new quote, a reopened claim: a new cycle
        elif after in spec.paused_in:
            if current is not None and not current.paused:
                change.pause.append(spec.kind)
        elif after in spec.stays_open_in and current is not None and current.passed:
            pass
        elif current is not None:
            change.clear.append(spec.kind)
    return change


@dataclass(frozen=True)
class OpenDeadline:
    passed: bool
    paused: bool


def spec_for(table: list[DeadlineSpec], kind: DeadlineKind) -> DeadlineSpec:
    return next(spec for spec in table if spec.kind is kind)


def expiry_state(spec: DeadlineSpec, state: ClaimState) -> ClaimState | None:
    """Where the deadline passing moves a claim in `state` (None: it stays)."""
    if spec.on_expiry is Expiry.ESCALATE or spec.expires_to is None:
        return None
    return spec.expires_to if state in spec.moves_claim_from else None


def state_at(
    table: list[DeadlineSpec], state: ClaimState, deadlines: list[DeadlineStatus], now: datetime
) -> tuple[ClaimState, DeadlineStatus | None]:
    """The state a claim in `state` is in at `now` once its due expiries are applied, and
    the deadline whose expiry moved it last (None: none did). Validators may not change
    the claim, so they look ahead with this."""
    closing = None
    for deadline in sorted(deadlines, key=lambda d: d.due_at):
        if deadline.cleared or deadline.paused or deadline.due_passed or deadline.due_at > now:
            continue
        target = expiry_state(spec_for(table, deadline.kind), state)
        if target is not None:
            state, closing = target, deadline
    return state, closing
