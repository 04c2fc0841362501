"""A manufacturer's after-sales policy as data: numbered clauses and the rules that cite them.

A policy file (policies/*.toml) is parsed into `Policy`. Every rule names the clause ids
it rests on, and every clause id must exist in `clauses`, so each decision the workflow
records can be traced back to the policy's own words.
"""

import tomllib
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.enums import ClaimKind, DeadlineKind, EscalationLevel, Fault, Party, Remedy, Role

ClauseIds = Annotated[list[str], Field(min_length=1)]
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class Strict(BaseModel):
    """Policy models refuse unknown keys, so a typo in a policy file is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Clause(Strict):
    id: Annotated[str, Field(min_length=1)]
    text: Annotated[str, Field(min_length=1)]


class ReturnRule(Strict):
    """Return for a refund within a window of natural days from receipt of the goods."""

    window_days: Annotated[int, Field(gt=0)]
    clause_ids: ClauseIds  # the window and its conditions
    late_clause_ids: ClauseIds  # refusal: asked after the window
    condition_clause_ids: ClauseIds  # refusal: used, incomplete or damaged


class WarrantyClock(Strict):
    """One way to count the warranty: from which date, for how many days (expiry day included)."""

    counted_from: Literal["purchase", "factory_shipment"]
    requires_proof_of_purchase: bool
    days: Annotated[int, Field(gt=0)]
    clause_ids: ClauseIds


class WarrantyRule(Strict):
    clocks: Annotated[list[WarrantyClock], Field(min_length=1)]  # first that applies wins
    quality_clause_ids: ClauseIds  # free service only for a fault of the product itself
    paid_repair_clause_ids: ClauseIds  # how a repair that is not free is quoted and agreed


class PostRepairWarranty(Strict):
    """Extra warranty after a repair the customer paid for, counted from ship-back."""

    days: Annotated[int, Field(gt=0)]
    clause_ids: ClauseIds


class EscalationStep(Strict):
    offset_hours: int  # relative to the deadline; negative is before it
    level: EscalationLevel
    notify: Role


class DeadlineRule(Strict):
    days: Annotated[int, Field(gt=0)]
    calendar: Literal["natural", "working"]
    clause_ids: ClauseIds
    ladder: list[EscalationStep] = []

    @field_validator("ladder")
    @classmethod
    def _ladder_in_time_order(cls, ladder: list[EscalationStep]) -> list[EscalationStep]:
        offsets = [step.offset_hours for step in ladder]
        if offsets != sorted(offsets):
            raise ValueError("escalation steps must be listed in time order (offset_hours ascending)")
        return ladder


class Deadlines(Strict):
    shipping: DeadlineRule
    quote: DeadlineRule
    repair: DeadlineRule
    payment: DeadlineRule

    def rule(self, kind: DeadlineKind) -> DeadlineRule:
        return getattr(self, kind.value)


class Exclusion(Strict):
    """A named condition, recorded at intake or inspection, that takes away free service."""

    id: Slug
    label: Annotated[str, Field(min_length=1)]
    effect: Literal["refuse", "no_free_service"]  # refuse: no service at all
    applies_to: list[ClaimKind] = [ClaimKind.RETURN, ClaimKind.REPAIR]
    clause_ids: ClauseIds


class FreightCondition(Strict):
    remedy: list[Remedy] | None = None
    fault: list[Fault] | None = None
    covered: bool | None = None  # within warranty


class FreightRule(Strict):
    when: FreightCondition
    to_factory: Party
    back_to_customer: Party
    clause_ids: ClauseIds


class Policy(Strict):
    name: Slug
    manufacturer: Annotated[str, Field(min_length=1)]
    source_seed: Annotated[str, Field(min_length=1)]
    timezone: str
    holiday_country: str | None = None  # public holidays that are not working days
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    clauses: Annotated[list[Clause], Field(min_length=1)]
    returns: ReturnRule | None = None
    warranty: WarrantyRule
    post_repair_warranty: PostRepairWarranty | None = None
    deadlines: Deadlines
    exclusions: list[Exclusion] = []
    freight: Annotated[list[FreightRule], Field(min_length=1)]  # first match wins
    fee_items: list[str] = []  # empty: quote lines are free text

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, tz: str) -> str:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        return tz

    @model_validator(mode="after")
    def _references_resolve(self) -> "Policy":
        ids = [clause.id for clause in self.clauses]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"clause ids used twice: {', '.join(duplicated)}")
        unknown = sorted(set(_cited_clause_ids(self.model_dump())) - set(ids))
        if unknown:
            raise ValueError(f"rules cite clauses that are not defined: {', '.join(unknown)}")
        exclusion_ids = [e.id for e in self.exclusions]
        if len(exclusion_ids) != len(set(exclusion_ids)):
            raise ValueError("exclusion ids must be unique")
        return self

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
