"""A manufacturer's after-sales policy as data: numbered clauses and the rules that cite them.

A policy file (policies/*.toml) is parsed into `Policy`. Every rule names the clause ids
it rests on, and every clause id must exist in `clauses`, so each decision the workflow
records can be traced back to the policy's own words.
"""

import tomllib
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.calendar import WorkCalendar, in_service
from models.enums import ClaimKind, DeadlineKind, EscalationLevel, Fault, Party, Remedy, Role

ClauseIds = Annotated[list[str], Field(min_length=1)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]

# Bounds on the numbers a claim's dates are computed from, so that no policy file can make
# the workflow's date arithmetic overflow (a workflow task that fails on every retry).
DEADLINE_DAYS_MAX = 3_650  # a deadline or a window: 10 years
WARRANTY_DAYS_MAX = 36_500  # a warranty: 100 years
WARRANTY_MONTHS_MAX = 1_200
OFFSET_HOURS_MAX = 87_600  # an escalation step, before or after its deadline: 10 years
DeadlineDays = Annotated[int, Field(gt=0, le=DEADLINE_DAYS_MAX)]


class Strict(BaseModel):
    """Policy models refuse unknown keys, so a typo in a policy file is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Clause(Strict):
    id: Annotated[str, Field(min_length=1)]
    text: Annotated[str, Field(min_length=1)]
    # The claim kinds the clause speaks of (empty: every kind). A rule may cite it only for
    # these kinds: the policy lint refuses a warranty clause on a return, a return clause
    # on a repair (models/policy_lint.py).
    scope: list[ClaimKind] = []
    # Why a clause no rule cites is kept (an address, a heading, a promise with no step).
    informational: Annotated[str, Field(min_length=1)] | None = None


class ReturnRule(Strict):
    """Return for a refund within a window of natural days from receipt of the goods."""

    window_days: DeadlineDays
    clause_ids: ClauseIds  # the window and its conditions
    late_clause_ids: ClauseIds  # refusal: asked after the window
    condition_clause_ids: ClauseIds  # refusal: used, incomplete or damaged
    proof_clause_ids: list[str] = []  # refusal: no legitimate proof of purchase (empty: none asked)


class WarrantyClock(Strict):
    """One way to count the warranty: from which date, for how long (expiry day included).

    The length is `days`, or `months`, or — when `period_from_claim` — the months the
    sales contract gives, recorded on the claim (`contract_warranty_months`).
    """

    counted_from: Literal["purchase", "factory_shipment"]
    requires_proof_of_purchase: bool
    days: Annotated[int, Field(gt=0, le=WARRANTY_DAYS_MAX)] | None = None
    months: Annotated[int, Field(gt=0, le=WARRANTY_MONTHS_MAX)] | None = None
    period_from_claim: bool = False
    clause_ids: ClauseIds

    @model_validator(mode="after")
    def _one_length(self) -> "WarrantyClock":
        given = [self.days is not None, self.months is not None, self.period_from_claim]
        if sum(given) != 1:
            raise ValueError("give exactly one of days, months or period_from_claim = true")
        return self


class GuaranteeTier(Strict):
    """Three Guarantees: a product given back with a fault of its own, within `up_to_day`
    days of purchase, is refunded or replaced instead of repaired."""

    up_to_day: Annotated[int, Field(gt=0, le=WARRANTY_DAYS_MAX)]
    remedy: Literal[Remedy.REFUND, Remedy.REPLACEMENT]
    clause_ids: ClauseIds
    # readings 2: whether the tier asks for a valid proof of purchase (when it does not,
    # its clauses say what stands in for one); the warranty's length is never needed.
    requires_proof_of_purchase: bool = True


class Defect(Strict):
    """A defect inside a warranty's listed scope (a scope-limited guarantee)."""

    id: Slug
    label: Annotated[str, Field(min_length=1)]
    clause_ids: ClauseIds


class NonRepairable(Strict):
    """A condition, found at inspection, in which the product cannot be repaired."""

    id: Slug
    label: Annotated[str, Field(min_length=1)]
    clause_ids: ClauseIds


class WarrantyRule(Strict):
    clocks: Annotated[list[WarrantyClock], Field(min_length=1)]  # first that applies wins
    quality_clause_ids: ClauseIds  # free service only for a fault of the product itself
    paid_repair_clause_ids: ClauseIds  # how a repair that is not free is quoted and agreed
    tiers: list[GuaranteeTier] = []  # by day since purchase, for a product given back
    scope: list[Defect] = []  # when listed, only these defects are covered
    replacement_clause_ids: list[str] = []  # covered but not repairable: replaced (when given)
    no_proof_clause_ids: list[str] = []  # cited when no proof of purchase leaves no warranty

    @field_validator("tiers")
    @classmethod
    def _tiers_in_order(cls, tiers: list[GuaranteeTier]) -> list[GuaranteeTier]:
        days = [t.up_to_day for t in tiers]
        if days != sorted(set(days)):
            raise ValueError("tiers must be listed by up_to_day, ascending, each day once")
        return tiers


class PostRepairWarranty(Strict):
    """Extra warranty after a repair the customer paid for, counted from ship-back."""

    days: DeadlineDays
    clause_ids: ClauseIds
    only_after_warranty: bool = False  # only for a repair of a product out of warranty


class EscalationStep(Strict):
    # relative to the deadline; negative is before it
    offset_hours: Annotated[int, Field(ge=-OFFSET_HOURS_MAX, le=OFFSET_HOURS_MAX)]
    level: EscalationLevel
    notify: Role


class DeadlineRule(Strict):
    days: DeadlineDays
    calendar: Literal["natural", "working"]
    clause_ids: ClauseIds
    starts_at: Literal["repair_start", "parcel_received"] = "repair_start"  # repair deadline only
    ladder: list[EscalationStep] = []

    @field_validator("ladder")
    @classmethod
    def _ladder_in_time_order(cls, ladder: list[EscalationStep]) -> list[EscalationStep]:
        offsets = [step.offset_hours for step in ladder]
        if offsets != sorted(offsets):
            raise ValueError("escalation steps must be listed in time order (offset_hours ascending)")
        return ladder


class Deadlines(Strict):
    shipping: DeadlineRule | None = None  # required when a claim ships to the factory
    quote: DeadlineRule
    repair: DeadlineRule
    payment: DeadlineRule

    @model_validator(mode="after")
    def _only_repair_starts_at_arrival(self) -> "Deadlines":
        for kind in ("shipping", "quote", "payment"):
            rule = getattr(self, kind)
            if rule is not None and rule.starts_at != "repair_start":
                raise ValueError(f"{kind}: starts_at applies to the repair deadline only")
        return self

    def rule(self, kind: DeadlineKind) -> DeadlineRule:
        rule = getattr(self, kind.value)
        if rule is None:
            raise ValueError(f"the policy sets no {kind.value} deadline")
        return rule


class Exclusion(Strict):
    """A named condition, recorded at intake or inspection, that takes away free service."""

    id: Slug
    label: Annotated[str, Field(min_length=1)]
    effect: Literal["refuse", "no_free_service"]  # refuse: no service at all
    applies_to: list[ClaimKind] = [ClaimKind.RETURN, ClaimKind.REPAIR]
    clause_ids: ClauseIds


class LegCosts(Strict):
    """Who pays each cost of one leg of the journey (a cost not named is not incurred)."""

    freight: Party
    insurance: Party | None = None
    customs: Party | None = None

    def describe(self) -> str:
        """"customer pays freight, insurance; manufacturer pays customs": the costs by payer."""
        by_payer: dict[str, list[str]] = {}
        for cost in ("freight", "insurance", "customs"):
            payer = getattr(self, cost)
            if payer is not None:
                by_payer.setdefault(payer.value, []).append(cost)
        return "; ".join(f"{payer} pays {', '.join(costs)}" for payer, costs in by_payer.items())


class Channel(Strict):
    """A way the service is given. The first channel of a policy is where a claim starts."""

    kind: Literal["remote_guidance", "return_repair", "on_site_repair", "on_site_check"]
    clause_ids: ClauseIds
    documentation_required: bool = False  # fault photos, videos, list before anyone travels
    documentation_clause_ids: list[str] = []
    fees_if_not_covered: list[str] = []  # fee items charged when it turns out not covered
    fees_clause_ids: list[str] = []
    # Of those, the items owed once the visit is found not covered, whatever the customer
    # answers to the repair quote (an engineer's travel): recorded with the visit's report
    # and paid even when the quote is declined or there is nothing to repair.
    fees_owed: list[str] = []
    # Who finally decides "not covered" after the visit, as a step of its own (3.2.3 c:
    # the headquarters), and the clauses that say so. Empty: the engineer's report decides.
    determination_clause_ids: list[str] = []

    @model_validator(mode="after")
    def _cites_what_it_requires(self) -> "Channel":
        if self.documentation_required and not self.documentation_clause_ids:
            raise ValueError("documentation_required needs documentation_clause_ids")
        if self.fees_if_not_covered and not self.fees_clause_ids:
            raise ValueError("fees_if_not_covered needs fees_clause_ids")
        stray = [f for f in self.fees_owed if f not in self.fees_if_not_covered]
        if stray:
            raise ValueError(f"fees_owed not among fees_if_not_covered: {', '.join(stray)}")
        if self.determination_clause_ids and self.kind not in ("on_site_repair", "on_site_check"):
            raise ValueError("determination_clause_ids applies to an on-site channel")
        return self


class ServiceHours(Strict):
    """When the service desk answers, local time ("24:00" is midnight): every calendar day, or
    only on working days (public holidays closed, make-up weekend working days open)."""

    opens: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    closes: Annotated[str, Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
    clause_ids: ClauseIds
    days: Literal["every_day", "working_days"] = "every_day"

    @model_validator(mode="after")
    def _closes_after_opens(self) -> "ServiceHours":
        if self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes}) must be later than opens ({self.opens}) on the same day")
        return self

    def is_open(self, moment: datetime, tz: str, calendar: WorkCalendar | None = None) -> bool:
        """Whether the desk answers at `moment` (models/calendar.py `in_service`; without a
        calendar, working days are Monday to Friday)."""
        return in_service(moment, self, tz, calendar or WorkCalendar())


class FreightCondition(Strict):
    kind: list[ClaimKind] | None = None
    remedy: list[Remedy] | None = None
    fault: list[Fault] | None = None
    covered: bool | None = None  # within warranty


class FreightRule(Strict):
    when: FreightCondition
    to_factory: Party | LegCosts
    back_to_customer: Party | LegCosts | None = None  # None: nothing goes back (a refund)
    clause_ids: ClauseIds

    @model_validator(mode="after")
    def _only_a_refund_stays(self) -> "FreightRule":
        if self.back_to_customer is None and self.when.remedy != [Remedy.REFUND]:
            raise ValueError("back_to_customer may be left out only when the rule is for remedy = ['refund']")
        return self

    def leg(self, which: Literal["to_factory", "back_to_customer"]) -> LegCosts | None:
        costs = getattr(self, which)
        return costs if isinstance(costs, LegCosts) or costs is None else LegCosts(freight=costs)


class ServiceRule(Strict):
    """Claims of kind "service": no fault to repair (maintenance, a software upgrade); the
    work is quoted, done once the customer agrees and paid before the product goes back."""

    label: Annotated[str, Field(min_length=1)]  # what the policy calls the service
    clause_ids: ClauseIds


Address = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)]  # an e-mail address
ADDRESSES_MAX = 20  # addresses of one department or leader: a notification carries at most 20 (models/limits.py LIST_MAX)
ComplaintLevelName = Literal["handler", "department_head", "leader"]
COMPLAINT_LEVELS: tuple[ComplaintLevelName, ...] = ("handler", "department_head", "leader")  # lowest first


class ComplaintDepartment(Strict):
    """A department complaints are routed to, and where its mail goes."""

    id: Slug
    name: Annotated[str, Field(min_length=1)]
    addresses: Annotated[list[Address], Field(min_length=1, max_length=ADDRESSES_MAX)]  # its handlers
    head_addresses: Annotated[list[Address], Field(max_length=ADDRESSES_MAX)] = []  # its head (none: the handlers')
    clause_ids: ClauseIds


class ComplaintCategory(Strict):
    """What a complaint is about, and the department that answers it."""

    id: Slug
    title: Annotated[str, Field(min_length=1)]
    department: Slug  # a ComplaintDepartment's id
    clause_ids: ClauseIds


class ComplaintLevel(Strict):
    """A rung of the complaint ladder: when the previous clock runs out (the reply clock for
    the handler), the complaint escalates to this level, which then has `hours` (counted as
    the reply is) before it goes to the next level."""

    level: ComplaintLevelName
    hours: Annotated[int, Field(gt=0, le=OFFSET_HOURS_MAX)]
    clause_ids: ClauseIds


class ComplaintRules(Strict):
    """How complaints are taken, routed, answered and escalated (models/complaint.py)."""

    clause_ids: ClauseIds  # every call, letter and visit is recorded and routed
    reply_hours: Annotated[int, Field(gt=0, le=OFFSET_HOURS_MAX)] = 24
    counting: Literal["wall_clock", "service_hours"] = "wall_clock"  # service hours: the policy's service_hours
    reply_clause_ids: ClauseIds
    emergency_clause_ids: ClauseIds  # an emergency goes to the leader at once
    feedback_days: DeadlineDays = 7  # natural days the customer has to say whether the reply satisfied
    feedback_clause_ids: ClauseIds
    departments: Annotated[list[ComplaintDepartment], Field(min_length=1)]
    categories: Annotated[list[ComplaintCategory], Field(min_length=1)]
    levels: list[ComplaintLevel]  # handler, department_head, leader, in this order
    leader_addresses: Annotated[list[Address], Field(min_length=1, max_length=ADDRESSES_MAX)]
    leader_clause_ids: ClauseIds

    @model_validator(mode="after")
    def _references_resolve(self) -> "ComplaintRules":
        for what, items in (("department", self.departments), ("category", self.categories)):
            ids = [item.id for item in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"complaint {what} ids must be unique")
        known = [d.id for d in self.departments]
        for category in self.categories:
            if category.department not in known:
                raise ValueError(
                    f"complaint category {category.id} goes to department {category.department!r}, which is not "
                    f"among the departments: {', '.join(known)}"
                )
        if tuple(level.level for level in self.levels) != COMPLAINT_LEVELS:
            raise ValueError(f"complaint levels must be {', '.join(COMPLAINT_LEVELS)}, each once, in this order")
        return self

    def category(self, category_id: str) -> ComplaintCategory | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def department(self, department_id: str) -> ComplaintDepartment | None:
        return next((d for d in self.departments if d.id == department_id), None)

    def level(self, name: ComplaintLevelName) -> ComplaintLevel:
        return next(level for level in self.levels if level.level == name)


class Policy(Strict):
    name: Slug
    # Which reading of the seeds' words the rules apply. 1: as first released; 2: each
    # policy read as written (proof of purchase, freight, replacement, fees owed after a
    # visit). A claim keeps the reading of the policy snapshot it opened with, so claims
    # already open decide as they always did and their histories replay.
    readings: Literal[1, 2] = 1
    manufacturer: Annotated[str, Field(min_length=1)]
    source_seed: Annotated[str, Field(min_length=1)]
    timezone: str
    holiday_country: str | None = None  # public holidays that are not working days
    holiday_subdivision: str | None = None  # e.g. a province: its own public holidays too
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    clauses: Annotated[list[Clause], Field(min_length=1)]
    returns: ReturnRule | None = None
    warranty: WarrantyRule
    post_repair_warranty: PostRepairWarranty | None = None
    deadlines: Deadlines
    exclusions: list[Exclusion] = []
    non_repairable: list[NonRepairable] = []
    freight: Annotated[list[FreightRule], Field(min_length=1)]  # first match wins
    fee_items: list[str] = []  # empty: quote lines are free text
    fee_clause_ids: list[str] = []
    channels: list[Channel] = []  # none listed: return repair only
    service_hours: ServiceHours | None = None
    service: ServiceRule | None = None  # claims of kind "service" (none: not offered)
    complaints: ComplaintRules | None = None  # none: the policy takes no complaints

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        return tz

    @model_validator(mode="after")
    def _complaint_hours_known(self) -> "Policy":
        if self.complaints is not None and self.complaints.counting == "service_hours" and self.service_hours is None:
            raise ValueError("complaints.counting = 'service_hours' needs the policy's service_hours")
        return self

    @model_validator(mode="after")
    def _references_resolve(self) -> "Policy":
        ids = [clause.id for clause in self.clauses]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"clause ids used twice: {', '.join(duplicated)}")
        unknown = sorted(self.cited_clause_ids() - set(ids))
        if unknown:
            raise ValueError(f"rules cite clauses that are not defined: {', '.join(unknown)}")
        for what, named in [
            ("exclusion", self.exclusions),
            ("non_repairable", self.non_repairable),
            ("defect", self.warranty.scope),
            ("channel", [c.kind for c in self.channels]),
        ]:
            ids = [getattr(n, "id", n) for n in named]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{what} ids must be unique")
        last = self.freight[-1].when
        if (last.remedy, last.fault, last.covered) != (None, None, None):
            raise ValueError("the last freight rule must match every claim: `when = {}`")
        if self.deadlines.shipping is None and self.ships_to_factory:
            raise ValueError("deadlines.shipping: required, since claims under this policy ship to the factory")
        if self.fee_items and not self.fee_clause_ids:
            raise ValueError("fee_items need fee_clause_ids")
        unknown_fees = {f for c in self.channels for f in c.fees_if_not_covered} - set(self.fee_items)
        if unknown_fees:
            raise ValueError(f"channel fees not among fee_items: {', '.join(sorted(unknown_fees))}")
        return self

    def channel(self, kind: str) -> Channel | None:
        return next((c for c in self.channels if c.kind == kind), None)

    @property
    def ships_to_factory(self) -> bool:
        """Whether some claim under the policy is shipped in (a return repair channel, or none listed)."""
        return not self.channels or self.channel("return_repair") is not None

    @property
    def claim_kinds(self) -> list[ClaimKind]:
        """The kinds of claim the policy takes."""
        kinds = [ClaimKind.RETURN] if self.returns is not None or self.warranty.tiers else []
        return [*kinds, ClaimKind.REPAIR, *([ClaimKind.SERVICE] if self.service is not None else [])]

    @property
    def first_channel(self) -> str:
        return self.channels[0].kind if self.channels else "return_repair"

    def cited_clause_ids(self) -> set[str]:
        """Every clause id some rule of the policy cites."""
        return set(_cited_clause_ids(self.model_dump()))

    def deadline_rule(self, kind: DeadlineKind) -> DeadlineRule:
        """The timer rule of `kind`; the post-repair window is natural days with no ladder."""
        if kind is DeadlineKind.POST_REPAIR_WARRANTY:
            if self.post_repair_warranty is None:
                raise ValueError(f"policy {self.name} has no post-repair warranty")
            window = self.post_repair_warranty
            return DeadlineRule(days=window.days, calendar="natural", clause_ids=window.clause_ids)
        return self.deadlines.rule(kind)

    def clause_text(self, clause_id: str) -> str:
        return next(c.text for c in self.clauses if c.id == clause_id)

    def non_repairable_condition(self, condition_id: str) -> NonRepairable:
        return next(c for c in self.non_repairable if c.id == condition_id)

    def exclusion(self, exclusion_id: str) -> Exclusion:
        return next(e for e in self.exclusions if e.id == exclusion_id)


def _cited_clause_ids(data: Any) -> list[str]:
    """Every clause id cited anywhere in a dumped policy (keys ending in `clause_ids`)."""
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            if key.endswith("clause_ids") and isinstance(value, list):
                found.extend(value)
            else:
                found.extend(_cited_clause_ids(value))
        return found
    if isinstance(data, list):
        return [cid for item in data for cid in _cited_clause_ids(item)]
    return []


class PolicyError(ValueError):
    """A policy file that cannot be used: names the file, the field and the reason."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {field}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


def parse_policy(text: str, source: str) -> Policy:
    """Parse and validate policy TOML; any problem raises PolicyError naming `source`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(source, [("(file)", f"not valid TOML: {err}")]) from None
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        problems = [
            (".".join(str(part) for part in e["loc"]) or "(policy)", e["msg"]) for e in err.errors()
        ]
        raise PolicyError(source, problems) from None
