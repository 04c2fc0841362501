"""What-if: the decisions past claims would have had under a changed policy.

Pure and read-only. From each claim's recorded history it reads the workflow input (the
intake and the policy snapshot the claim ran under) and the accepted agent actions with
the moment each was accepted; then it re-runs the pure decision functions of
models/rules.py twice — under the snapshot and under the changed policy — on the same
inputs and the same days (each moment as a local date in the policy's time zone), and
lists the decisions that differ (outcome or clauses). It assumes the same actions happen
under both policies (a claim whose remedy changes from free to paid would in truth take
another path: that is what `money` reports).

Decisions re-run: policy_check and warranty (at opening and on each new fault), remedy
(each inspection or on-site report), freight (where the workflow decides it) and the
post-repair warranty (at ship-back after a paid repair). Headquarters' determination and
the quote answers are people's decisions: carried over as recorded (a determination that
the visit is within the policy makes the remedy a free repair, where the changed policy
still asks for one).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal

from pydantic import ValidationError
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from claimflow.codec import UndecryptablePayload, decoded_history, reading_converter
from models import rules
from models.actions import ACTIONS, AgentAction, RecordDetermination, RecordInspection, RecordOnsiteReport
from models.calendar import local_date
from models.claim import ClaimInput, Decision
from models.enums import ClaimKind, Remedy
from models.policy import Policy

KINDS = ("policy_check", "warranty", "remedy", "freight", "post_repair_warranty")
ON_SITE = ("on_site_repair", "on_site_check")


# --- what a history recorded -------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One accepted agent action: its update name, payload and the moment it was accepted."""

    name: str
    action: AgentAction
    at: datetime


@dataclass(frozen=True)
class Payment:
    kind: str  # "payment" (from the customer) or "refund" (to the customer)
    amount: Decimal


@dataclass(frozen=True)
class RecordedClaim:
    workflow_id: str
    run_id: str
    started_at: datetime
    claim: ClaimInput
    steps: tuple[Step, ...]
    first_run_id: str = ""  # the claim's first run: the runs of a long claim share it
    continued: bool = False  # this run continues an earlier one (its input carries the claim)

    @property
    def number(self) -> str:
        return self.claim.intake.claim_number

    @property
    def payments(self) -> list[Payment]:
        return [
            Payment("refund" if s.name == "record_refund" else "payment", s.action.amount)  # type: ignore[attr-defined]
            for s in self.steps
            if s.name in ("record_refund", "record_payment")
        ]


class Unreadable(Exception):
    """A history whose input or actions this version cannot read (the message says which)."""


def _decode(payloads, cls):
    [value] = pydantic_data_converter.payload_converter.from_payloads(list(payloads[:1]), [cls])
    return value


def read_history(history: WorkflowHistory, converter: DataConverter | None = None) -> RecordedClaim:
    """The input and accepted actions of one claim run (its payloads decrypted with
    `converter`, by default the configured keys'). Raises Unreadable."""
    if not history.events or not history.events[0].HasField("workflow_execution_started_event_attributes"):
        raise Unreadable("the history does not start with the workflow's start")
    try:  # fetched from Temporal: encrypted (claimflow/codec.py); recorded plain ones as they are
        history = decoded_history(history, converter or reading_converter())
    except UndecryptablePayload as err:
        raise Unreadable(str(err)) from None
    first = history.events[0]
    started = first.workflow_execution_started_event_attributes
    try:
        claim = _decode(started.input.payloads, ClaimInput)
    except (ValidationError, ValueError, TypeError) as err:
        raise Unreadable(f"its input is not a claim input this version reads: {str(err).splitlines()[0]}") from None
    steps = []
    for event in history.events:
        if not event.HasField("workflow_execution_update_accepted_event_attributes"):
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request.input
        cls = ACTIONS.get(request.name)
        if cls is None:
            continue
        try:
            action = _decode(request.args.payloads, cls)
        except (ValidationError, ValueError, TypeError) as err:
            raise Unreadable(f"its {request.name} payload cannot be read: {str(err).splitlines()[0]}") from None
        steps.append(Step(request.name, action, event.event_time.ToDatetime(timezone.utc)))
    return RecordedClaim(
        workflow_id=history.workflow_id,
        run_id=started.original_execution_run_id or "",
        started_at=first.event_time.ToDatetime(timezone.utc),
        claim=claim,
        steps=tuple(steps),
        first_run_id=started.first_execution_run_id or started.original_execution_run_id or "",
        continued=bool(started.continued_execution_run_id),
    )



# --- re-running the decisions -------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    """A decision re-run: its kind, the day it was made on and what it said."""

    what: str
    on: date
    decision: Decision


def _failed(what: str, error: Exception) -> Decision:
    return Decision(what=what, outcome="cannot_decide", reason=str(error), clause_ids=[])


def rerun(recorded: RecordedClaim, policy: Policy) -> list[Made]:
    """The pure decisions of the recorded claim's life, made under `policy`."""
    intake, tz, made = recorded.claim.intake, policy.timezone, []

    def decide(what: str, on: date, fn, *args) -> Decision:
        try:
            decision = fn(*args)
        except (ValueError, KeyError, StopIteration, AssertionError) as err:  # the policy cannot decide it
            decision = _failed(what, err)
        made.append(Made(what, on, decision))
        return decision

    reported_on = local_date(recorded.started_at, tz)
    check = decide("policy_check", reported_on, rules.policy_check, policy, intake, reported_on)
    if check.outcome != "accepted":
        return made
    warranty = decide("warranty", reported_on, rules.warranty_status, policy, intake, reported_on)
    channel, remedy, fault = policy.first_channel, None, None
    post_repair_until: date | None = None
    paid_repair = approved = unpaid = False
    determining: list[str] = []  # an on-site visit awaits headquarters' determination on these clauses

    def freight(on: date) -> None:
        if remedy is None or fault is None:
            return
        covered = rules.is_covered(warranty, reported_on, post_repair_until)
        if rules.as_written(policy):
            covered = covered or rules.free_of_charge(remedy)
        decide("freight", on, rules.decide_freight, policy, remedy, fault, covered, intake.kind)

    for step in recorded.steps:
        on, a = local_date(step.at, tz), step.action
        if step.name in ("record_inspection", "record_onsite_report"):
            assert isinstance(a, RecordInspection | RecordOnsiteReport)
            fault = a.fault
            decision = decide("remedy", on, rules.decide_remedy, policy, intake, a, reported_on, warranty,
                              post_repair_until)  # fmt: skip
            remedy = decision.remedy
            spec = policy.channel(channel)
            if step.name == "record_inspection":
                freight(on)
            elif remedy is not None and rules.as_written(policy):
                if spec is not None and spec.determination_clause_ids and not rules.free_of_charge(remedy):
                    determining = spec.determination_clause_ids  # "not covered" is headquarters' to say
                elif remedy is Remedy.REPLACEMENT:
                    freight(on)
        elif step.name == "record_determination":
            assert isinstance(a, RecordDetermination)
            if determining and a.within_policy:  # headquarters' word, carried over: repaired free
                spec = policy.channel(channel)
                why = "headquarters determined the problem is within the warranty policy: repaired free on site"
                clause_ids = list(dict.fromkeys([*determining, *(spec.clause_ids if spec else [])]))
                remedy = Remedy.FREE_REPAIR
                made.append(Made("remedy", on, Decision(what="remedy", outcome=remedy.value, remedy=remedy,
                                                        reason=why, clause_ids=clause_ids)))  # fmt: skip
            determining = []
        elif step.name == "choose_channel":
            channel = a.channel  # type: ignore[attr-defined]
        elif step.name == "approve_quote":  # only a paid remedy is quoted
            paid_repair = approved = remedy is not None and not rules.free_of_charge(remedy)
        elif step.name == "decline_quote" and channel not in ON_SITE:
            freight(on)
        elif step.name == "settle_unpaid":
            unpaid = True
        elif step.name == "ship_back":
            if paid_repair and approved and not unpaid and intake.kind is not ClaimKind.SERVICE:
                try:
                    window = rules.post_repair_warranty(policy, on, in_warranty=bool(warranty.covered))
                except (ValueError, AssertionError) as err:
                    window = _failed("post_repair_warranty", err)
                if window is not None:
                    made.append(Made("post_repair_warranty", on, window))
                    post_repair_until = window.until
        elif step.name == "report_fault":
            reported_on = on
            warranty = decide("warranty", on, rules.warranty_status, policy, intake, on)
            remedy = fault = None
            paid_repair = approved = False
    return made


# --- comparing ---------------------------------------------------------------------------


@dataclass
class Outcome:
    outcome: str | None  # None: the decision is not made under this policy
    clause_ids: list[str]
    reason: str
    on: str | None  # the local day it was made on


@dataclass
class Change:
    claim: str
    run_id: str
    decision: str
    nth: int  # 1 for the claim's first decision of this kind, 2 for the next, ...
    old: Outcome
    new: Outcome


@dataclass
class MoneyAtStake:
    claim: str
    currency: str
    old_remedy: str | None
    new_remedy: str | None
    direction: str  # "paid_to_free" or "free_to_paid"
    paid: str  # what the customer paid (fees, quotes), as recorded
    refunded: str  # what was refunded to the customer, as recorded


@dataclass
class Skipped:
    claim: str
    run_id: str
    reason: str


@dataclass
class WhatIfReport:
    policy: str
    claims: int = 0  # claim runs examined
    changed_claims: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # changed decisions per kind
    money: list[MoneyAtStake] = field(default_factory=list)
    money_totals: dict[str, dict[str, str]] = field(default_factory=dict)  # currency -> direction -> amounts
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def _outcome(made: Made | None) -> Outcome:
    if made is None:
        return Outcome(None, [], "not decided under this policy", None)
    d = made.decision
    return Outcome(d.outcome, list(d.clause_ids), d.reason, made.on.isoformat())


def _by_kind(made: Iterable[Made]) -> dict[str, list[Made]]:
    grouped: dict[str, list[Made]] = defaultdict(list)
    for m in made:
        grouped[m.what].append(m)
    return grouped


def compare(recorded: RecordedClaim, policy: Policy) -> list[Change]:
    """The decisions of one claim that differ between its snapshot and `policy`."""
    old, new = _by_kind(rerun(recorded, recorded.claim.policy)), _by_kind(rerun(recorded, policy))
    changes = []
    for kind in KINDS:
        olds, news = old.get(kind, []), new.get(kind, [])
        for i in range(max(len(olds), len(news))):
            a, b = _outcome(olds[i] if i < len(olds) else None), _outcome(news[i] if i < len(news) else None)
            if (a.outcome, a.clause_ids) != (b.outcome, b.clause_ids):
                changes.append(Change(recorded.number, recorded.run_id, kind, i + 1, a, b))
    return changes


def _free(outcome: str | None) -> bool | None:
    """Whether a remedy costs the customer nothing; a remedy not decided (the claim is
    rejected at the policy check) is no service: not free."""
    try:
        return rules.free_of_charge(Remedy(outcome or Remedy.REJECTED.value))
    except ValueError:  # "cannot_decide"
        return None


def _money(recorded: RecordedClaim, changes: list[Change]) -> MoneyAtStake | None:
    """The money at stake when the remedy moves between paid and free (refund included)."""
    for change in changes:
        if change.decision != "remedy":
            continue
        was, would = _free(change.old.outcome), _free(change.new.outcome)
        if was is None or would is None or was == would:
            continue
        paid = sum((p.amount for p in recorded.payments if p.kind == "payment"), Decimal(0))
        refunded = sum((p.amount for p in recorded.payments if p.kind == "refund"), Decimal(0))
        return MoneyAtStake(
            claim=recorded.number,
            currency=recorded.claim.policy.currency,
            old_remedy=change.old.outcome,
            new_remedy=change.new.outcome,
            direction="paid_to_free" if would else "free_to_paid",
            paid=f"{paid:.2f}",
            refunded=f"{refunded:.2f}",
        )
    return None


def join_runs(runs: list[RecordedClaim]) -> tuple[list[RecordedClaim], list[Skipped]]:
    """One recorded claim per claim: a long claim's runs (continued as new) joined into its
    first run, their actions in order. A chain whose first run is missing is skipped."""
    chains: dict[tuple[str, str], list[RecordedClaim]] = defaultdict(list)
    for run in runs:
        chains[(run.workflow_id, run.first_run_id or run.run_id)].append(run)
    joined, skipped = [], []
    for (workflow_id, _), chain in chains.items():
        chain.sort(key=lambda r: r.started_at)
        first = chain[0]
        if first.continued:
            skipped.append(Skipped(workflow_id, "", "its first run is not among the histories read"))
            continue
        steps = tuple(step for run in chain for step in run.steps)
        joined.append(RecordedClaim(first.workflow_id, first.run_id, first.started_at, first.claim, steps,
                                    first.first_run_id))  # fmt: skip
    return joined, skipped


def what_if(histories: Iterable[WorkflowHistory], policy: Policy) -> WhatIfReport:
    """Compare each claim of `policy.name` in `histories` under its snapshot and under `policy`.
    Histories of other policies are left out; unreadable ones are listed as skipped."""
    report = WhatIfReport(policy=policy.name)
    totals: Counter[str] = Counter()
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    runs, converter = [], reading_converter()  # the settings and keys read once, not per history
    for history in histories:
        try:
            runs.append(read_history(history, converter))
        except Unreadable as err:
            report.skipped.append(Skipped(history.workflow_id, "", str(err)))
    claims, incomplete = join_runs(runs)
    report.skipped += incomplete
    for recorded in claims:
        if recorded.claim.policy.name != policy.name:
            continue
        report.claims += 1
        changes = compare(recorded, policy)
        if not changes:
            continue
        report.changed_claims.append(recorded.number)
        report.changes += changes
        totals.update(c.decision for c in changes)
        money = _money(recorded, changes)
        if money is not None:
            report.money.append(money)
            sums[money.currency][f"{money.direction}_paid"] += Decimal(money.paid)
            sums[money.currency][f"{money.direction}_refunded"] += Decimal(money.refunded)
    report.totals = {kind: totals[kind] for kind in KINDS if totals[kind]}
    report.money_totals = {cur: {k: f"{v:.2f}" for k, v in sorted(amounts.items())} for cur, amounts in sums.items()}
    return report
