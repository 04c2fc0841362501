"""Pure decision functions: each takes the policy and the facts, returns a Decision naming its clauses.

The workflow calls these and records what they return; nothing here reads a clock or a file.
"""

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from models.calendar import days_between
from models.claim import ClaimIntake, Decision, InspectionFindings
from models.enums import ClaimKind, Fault, Remedy
from models.policy import FreightRule, GuaranteeTier, Policy, WarrantyClock

COVERED, NOT_COVERED = "covered", "not_covered"


def as_written(policy: Policy) -> bool:
    """Whether the policy snapshot asks for the seeds read as written (readings 2); claims
    opened under readings 1 keep deciding as they always did."""
    return policy.readings >= 2


def intake_problems(policy: Policy, intake: ClaimIntake, on: date | None = None) -> list[str]:
    """What the intake lacks for this policy to decide, as sentences for the agent (`on`:
    the day the claim opens, when known)."""
    problems = []
    known = {e.id for e in policy.exclusions}
    problems += [  # named exclusions the policy does not have
        f"unknown condition {c!r}; this policy knows: {', '.join(sorted(known)) or 'none'}"
        for c in intake.conditions
        if c not in known
    ]
    if intake.kind is ClaimKind.RETURN and policy.returns is None and not policy.warranty.tiers:
        problems.append(f"policy {policy.name} takes no returns; open a repair claim")
    if intake.kind is ClaimKind.RETURN and policy.returns is not None and intake.goods_received_date is None:
        problems.append("a return needs goods_received_date")
    if intake.kind is ClaimKind.RETURN and policy.warranty.tiers and intake.purchase_date is None:
        problems.append("a return under the Three Guarantees needs purchase_date")
    problems += exclusions_not_for(policy, intake.kind, intake.conditions)
    if intake.kind is ClaimKind.SERVICE and policy.service is None:
        problems.append(f"policy {policy.name} offers no service claims; open a repair claim")
    open_to_claim = _clocks_open_to(policy, intake)
    if open_to_claim and _applicable_clock(policy, intake) is None and not _without_warranty(policy, intake, on):
        needs = " or ".join(sorted({_clock_date_field(c) for c in open_to_claim}))
        problems.append(f"the warranty cannot be counted: give {needs}")
    return problems


def exclusions_not_for(policy: Policy, kind: ClaimKind, exclusion_ids: list[str]) -> list[str]:
    """Readings 2: named exclusions that do not apply to a claim of `kind`, as sentences
    (recorded on it they would change nothing, silently)."""
    if not as_written(policy):
        return []
    known = {e.id: e for e in policy.exclusions}
    return [
        f"{e.id} applies to {' and '.join(k.value for k in e.applies_to)} claims under policy {policy.name} "
        f"({', '.join(e.clause_ids)}), not to a {kind.value} claim"
        for e in (known[i] for i in exclusion_ids if i in known)
        if kind not in e.applies_to
    ]


def _without_warranty(policy: Policy, intake: ClaimIntake, on: date | None) -> bool:
    """Readings 2: whether the claim is decided without counting its warranty — a service
    claim (it is quoted), a return decided by the return rule, a return opened within the
    Three Guarantees days (they count from purchase alone, 000 5.1–5.2)."""
    if not as_written(policy):
        return False
    if intake.kind is ClaimKind.SERVICE:
        return True
    if intake.kind is ClaimKind.RETURN:
        tier = _guarantee_tier(policy, intake, on)
        return policy.returns is not None or (
            tier is not None and (intake.proof_of_purchase or not tier.requires_proof_of_purchase)
        )
    return False


def policy_check(policy: Policy, intake: ClaimIntake, asked_on: date) -> Decision:
    """Accept the claim (an RMA is issued) or reject it at once, with the clauses why."""
    refusing = [
        e
        for e in (policy.exclusion(c) for c in intake.conditions)
        if e.effect == "refuse" and intake.kind in e.applies_to
    ]
    if refusing:
        return Decision(
            what="policy_check",
            outcome="rejected",
            reason="refused by: " + "; ".join(e.label for e in refusing),
            clause_ids=_unique(cid for e in refusing for cid in e.clause_ids),
            inputs={"conditions": ",".join(intake.conditions)},
        )
    returns = policy.returns if intake.kind is ClaimKind.RETURN else None
    if returns is not None and returns.proof_clause_ids and not intake.proof_of_purchase and as_written(policy):
        return Decision(
            what="policy_check",
            outcome="rejected",
            reason="no legitimate proof of purchase: a return cannot be requested without one",
            clause_ids=returns.proof_clause_ids,
            inputs={"proof_of_purchase": False},
        )
    if returns is not None:
        window = return_eligibility(policy, intake.goods_received_date, asked_on, findings=None)
        if window.outcome != "eligible":
            return window.model_copy(update={"what": "policy_check", "outcome": "rejected"})
    if as_written(policy):
        return Decision(
            what="policy_check",
            outcome="accepted",
            reason=f"{intake.kind.value} claim accepted under policy {policy.name}; " + _first_step(policy, intake),
            clause_ids=_acceptance_clause_ids(policy, intake),
            inputs={"kind": intake.kind.value, "asked_on": asked_on.isoformat()},
        )
    first = policy.channel(policy.first_channel)
    return Decision(
        what="policy_check",
        outcome="accepted",
        reason=f"{intake.kind.value} claim accepted under policy {policy.name}; "
        + ("RMA issued" if policy.first_channel == "return_repair" else f"{policy.first_channel.replace('_', ' ')} first"),
        clause_ids=first.clause_ids if first else policy.deadlines.shipping.clause_ids,
        inputs={"kind": intake.kind.value, "asked_on": asked_on.isoformat()},
    )


def _first_step(policy: Policy, intake: ClaimIntake) -> str:
    channel = policy.first_channel
    if intake.kind is ClaimKind.RETURN or channel == "return_repair":
        return "RMA issued"
    return f"{channel.replace('_', ' ')} first"


def _acceptance_clause_ids(policy: Policy, intake: ClaimIntake) -> list[str]:
    """The clauses a claim of its kind is accepted under: the return rule or the Three
    Guarantees for a return, the service rule for a service, the first channel for a repair."""
    if intake.kind is ClaimKind.RETURN:
        if policy.returns is not None:
            return policy.returns.clause_ids
        return _unique(c for tier in policy.warranty.tiers for c in tier.clause_ids)
    if intake.kind is ClaimKind.SERVICE and policy.service is not None:
        return policy.service.clause_ids
    first = policy.channel(policy.first_channel)
    return first.clause_ids if first else policy.warranty.quality_clause_ids


def return_eligibility(
    policy: Policy, received_on: date | None, asked_on: date, findings: InspectionFindings | None
) -> Decision:
    """Return for a refund: asked within the window of natural days from receipt; and, once
    inspected, the product unused and complete or with a fault of its own, and no exclusion."""
    rule = policy.returns
    if rule is None or received_on is None:
        raise ValueError("return eligibility needs a policy return rule and the date the goods were received")
    day = days_between(received_on, asked_on)
    inputs: dict[str, str | int | bool | None] = {
        "goods_received": received_on.isoformat(),
        "asked_on": asked_on.isoformat(),
        "day": day,
        "window_days": rule.window_days,
    }
    if day > rule.window_days:
        return Decision(
            what="return",
            outcome="refused",
            reason=f"asked on day {day} after receipt; returns close after day {rule.window_days}",
            clause_ids=rule.late_clause_ids,
            inputs=inputs,
        )
    if findings is None:
        return Decision(
            what="return",
            outcome="eligible",
            reason=f"asked on day {day} of {rule.window_days}; condition to be inspected",
            clause_ids=rule.clause_ids,
            inputs=inputs,
        )
    inputs |= {"fault": findings.fault.value, "unused_and_complete": findings.unused_and_complete}
    as_new = findings.unused_and_complete and findings.fault in (Fault.NO_FAULT_FOUND, Fault.QUALITY_FAULT)
    own_fault = findings.fault is Fault.QUALITY_FAULT
    if findings.exclusions or not (as_new or own_fault):
        excluded = [policy.exclusion(e) for e in findings.exclusions]
        return Decision(
            what="return",
            outcome="refused",
            reason="product not returnable: "
            + ("; ".join(e.label for e in excluded) or "used, incomplete or damaged by use"),
            clause_ids=_unique([*rule.condition_clause_ids, *(c for e in excluded for c in e.clause_ids)]),
            inputs=inputs,
        )
    return Decision(
        what="return",
        outcome="eligible",
        reason=f"asked on day {day} of {rule.window_days}; "
        + ("fault of the product itself" if own_fault else "unused and complete"),
        clause_ids=rule.clause_ids,
        inputs=inputs,
    )


def warranty_status(policy: Policy, intake: ClaimIntake, on: date) -> Decision:
    """Covered or not on `on`, by the first warranty clock that applies (expiry day included)."""
    if _without_warranty(policy, intake, on) and (  # a Three Guarantees return counts it when it can
        policy.returns is not None or intake.kind is ClaimKind.SERVICE or _applicable_clock(policy, intake) is None
    ):
        return _warranty_not_counted(policy, intake, on)
    if not _clocks_open_to(policy, intake):  # every clock asks for a proof the customer lacks
        no_proof = policy.warranty.no_proof_clause_ids if as_written(policy) else []
        return Decision(
            what="warranty",
            outcome=NOT_COVERED,
            covered=False,
            reason="no valid proof of purchase: no warranty applies, service is paid",
            clause_ids=no_proof or _unique(c for clock in policy.warranty.clocks for c in clock.clause_ids),
            inputs={"proof_of_purchase": intake.proof_of_purchase, "on": on.isoformat()},
        )
    clock = _applicable_clock(policy, intake)
    if clock is None:
        raise ValueError("; ".join(intake_problems(policy, intake, on)))
    start = _clock_start(clock, intake)
    assert start is not None
    last_day, length = _last_covered_day(clock, intake, start)
    day = days_between(start, on)
    covered = on <= last_day
    return Decision(
        what="warranty",
        outcome=COVERED if covered else NOT_COVERED,
        covered=covered,
        reason=f"day {day} since {clock.counted_from.replace('_', ' ')} ({start}); warranty of {length}, "
        f"last covered day {last_day}",
        clause_ids=clock.clause_ids,
        inputs={
            "counted_from": clock.counted_from,
            "start": start.isoformat(),
            "proof_of_purchase": intake.proof_of_purchase,
            "on": on.isoformat(),
            "day": day,
            "last_covered_day": last_day.isoformat(),
        },
    )


def _warranty_not_counted(policy: Policy, intake: ClaimIntake, on: date) -> Decision:
    """Readings 2: the claim is decided without counting the warranty (see `_warranty_needed`)."""
    if intake.kind is ClaimKind.SERVICE:
        assert policy.service is not None
        why, clause_ids = "a service claim is not a warranty claim: the service is quoted", policy.service.clause_ids
    elif policy.returns is not None:
        why, clause_ids = "a return is decided by the return rule, not the warranty", policy.returns.clause_ids
    else:
        why = "a return within the Three Guarantees days is decided by the day since purchase"
        clause_ids = _unique(c for tier in policy.warranty.tiers for c in tier.clause_ids)
    return Decision(
        what="warranty",
        outcome="not_counted",
        covered=False,
        reason=why,
        clause_ids=clause_ids,
        inputs={"kind": intake.kind.value, "on": on.isoformat()},
    )


def _last_covered_day(clock: WarrantyClock, intake: ClaimIntake, start: date) -> tuple[date, str]:
    if clock.days is not None:
        return start + timedelta(days=clock.days), f"{clock.days} days"
    months = clock.months if clock.months is not None else intake.contract_warranty_months
    assert months is not None
    source = "" if clock.months is not None else " (sales contract)"
    return start + relativedelta(months=months), f"{months} months{source}"


def in_post_repair_window(on: date, post_repair_until: date | None) -> bool:
    return post_repair_until is not None and on <= post_repair_until


def is_covered(warranty: Decision, on: date, post_repair_until: date | None) -> bool:
    """The one definition of "covered": the warranty decision said so, or the fault was
    reported inside the window after a paid repair."""
    return bool(warranty.covered) or in_post_repair_window(on, post_repair_until)


FREE_REMEDIES = frozenset({Remedy.FREE_REPAIR, Remedy.REPLACEMENT, Remedy.REFUND})


def free_of_charge(remedy: Remedy) -> bool:
    """Whether the remedy costs the customer nothing (no service fees are due)."""
    return remedy in FREE_REMEDIES


def post_repair_warranty(policy: Policy, shipped_back_on: date, *, in_warranty: bool = False) -> Decision | None:
    """The extra window after a paid repair: its last covered day, counted from ship-back.
    None when the policy has none, or gives it only to products repaired out of warranty
    and this one was in warranty (a paid repair of man-made damage, 001 I.NOTE)."""
    rule = policy.post_repair_warranty
    if rule is None or (rule.only_after_warranty and in_warranty):
        return None
    last_day = shipped_back_on + timedelta(days=rule.days)
    return Decision(
        what="post_repair_warranty",
        outcome=last_day.isoformat(),
        until=last_day,
        reason=f"{rule.days} days of warranty after a paid repair, from ship-back on {shipped_back_on}; "
        f"last covered day {last_day}",
        clause_ids=rule.clause_ids,
        inputs={"shipped_back_on": shipped_back_on.isoformat(), "days": rule.days},
    )


def decide_remedy(
    policy: Policy,
    intake: ClaimIntake,
    findings: InspectionFindings,
    asked_on: date,
    warranty: Decision,
    post_repair_until: date | None,
) -> Decision:
    """Refund, replacement, free or paid repair, not repairable or rejected, from the
    inspection, the coverage and the policy's tiers, scope and conditions."""
    excluded = [
        e
        for e in (policy.exclusion(i) for i in _unique([*intake.conditions, *findings.exclusions]))
        if intake.kind in e.applies_to
    ]
    broken = [policy.non_repairable_condition(i) for i in findings.non_repairable]
    inputs: dict[str, str | int | bool | None] = {
        "kind": intake.kind.value,
        "fault": findings.fault.value,
        "exclusions": ",".join(e.id for e in excluded),
        "defect": findings.defect,
        "non_repairable": ",".join(c.id for c in broken),
        "warranty": warranty.outcome,
        "post_repair_warranty_until": post_repair_until.isoformat() if post_repair_until else None,
    }

    def remedy(outcome: Remedy, reason: str, clause_ids) -> Decision:
        return Decision(
            what="remedy",
            outcome=outcome.value,
            remedy=outcome,
            reason=reason,
            clause_ids=_unique(clause_ids),
            inputs=inputs,
        )

    refusing = [e for e in excluded if e.effect == "refuse"]
    if refusing:
        return remedy(
            Remedy.REJECTED, "no service: " + "; ".join(e.label for e in refusing), (c for e in refusing for c in e.clause_ids)
        )
    if intake.kind is ClaimKind.SERVICE and policy.service is not None:
        return remedy(
            Remedy.PAID_SERVICE,
            f"{policy.service.label}: quoted, done once the customer agrees",
            [*policy.service.clause_ids, *policy.fee_clause_ids],
        )
    if intake.kind is ClaimKind.RETURN and policy.returns is not None:
        # exclusions known at intake count as much as those found at inspection
        seen = findings.model_copy(update={"exclusions": [e.id for e in excluded]})
        ret = return_eligibility(policy, intake.goods_received_date, asked_on, seen)
        refund = ret.outcome == "eligible"
        return ret.model_copy(
            update={
                "what": "remedy",
                "outcome": (Remedy.REFUND if refund else Remedy.REJECTED).value,
                "remedy": Remedy.REFUND if refund else Remedy.REJECTED,
                "reason": ("refund: " if refund else "return refused: ") + ret.reason,
                "inputs": inputs | ret.inputs,
            }
        )
    quality = policy.warranty.quality_clause_ids
    if findings.fault is Fault.NO_FAULT_FOUND:
        return remedy(Remedy.REJECTED, "no fault found: nothing to repair, the product goes back as it came", quality)
    in_post_repair = in_post_repair_window(asked_on, post_repair_until)
    covered = is_covered(warranty, asked_on, post_repair_until)
    scope = policy.warranty.scope
    in_scope = not scope or findings.defect in {d.id for d in scope}
    own_fault = findings.fault is Fault.QUALITY_FAULT and not excluded
    tier = _guarantee_tier(policy, intake, asked_on)
    if as_written(policy) and own_fault and in_scope and tier is not None:
        # the Three Guarantees count from purchase alone; a tier may take product
        # information instead of a proof of purchase (its clauses say so)
        if intake.proof_of_purchase or not tier.requires_proof_of_purchase:
            day = days_between(intake.purchase_date, asked_on) if intake.purchase_date else None
            inputs |= {"day_since_purchase": day, "proof_of_purchase": intake.proof_of_purchase}
            return remedy(
                Remedy(tier.remedy),
                f"a fault of the product itself on day {day} after purchase: {tier.remedy.value} "
                f"(up to day {tier.up_to_day})",
                tier.clause_ids,
            )
    if own_fault and covered and in_scope:
        basis = post_repair_clause_ids(policy) if in_post_repair else warranty.clause_ids
        defect = [c for d in scope if d.id == findings.defect for c in d.clause_ids]
        if tier is not None and not as_written(policy):
            day = days_between(intake.purchase_date, asked_on) if intake.purchase_date else None
            inputs["day_since_purchase"] = day
            return remedy(
                Remedy(tier.remedy),
                f"a fault of the product itself on day {day} after purchase: {tier.remedy.value} "
                f"(up to day {tier.up_to_day})",
                tier.clause_ids,
            )
        replacement = policy.warranty.replacement_clause_ids
        if replacement and (broken or findings.replace):
            why = "cannot be repaired: " + "; ".join(c.label for c in broken) if broken else "the inspector replaces it"
            return remedy(
                Remedy.REPLACEMENT, f"covered, {why}", [*replacement, *(c for n in broken for c in n.clause_ids)]
            )
        if not broken:
            return remedy(
                Remedy.FREE_REPAIR,
                "fault of the product itself, "
                + ("inside the post-repair warranty" if in_post_repair else "within warranty"),
                [*basis, *defect, *quality],
            )
    if broken:
        return remedy(
            Remedy.NOT_REPAIRABLE,
            "cannot be repaired: " + "; ".join(c.label for c in broken),
            (c for n in broken for c in n.clause_ids),
        )
    if not covered:
        why, clauses = "out of warranty", warranty.clause_ids
    elif excluded:
        why, clauses = "excluded: " + "; ".join(e.label for e in excluded), [c for e in excluded for c in e.clause_ids]
    elif not in_scope:
        why, clauses = "outside the warranty's defect scope", [c for d in scope for c in d.clause_ids]
    else:
        why, clauses = "not a fault of the product itself", quality
    return remedy(Remedy.PAID_REPAIR, f"paid repair: {why}", [*clauses, *policy.warranty.paid_repair_clause_ids])


def _guarantee_tier(policy: Policy, intake: ClaimIntake, asked_on: date | None) -> GuaranteeTier | None:
    """The Three Guarantees tier of a product given back (kind return), by day since purchase."""
    if intake.kind is not ClaimKind.RETURN or intake.purchase_date is None or asked_on is None:
        return None
    day = days_between(intake.purchase_date, asked_on)
    return next((t for t in policy.warranty.tiers if day <= t.up_to_day), None)


def decide_channel(policy: Policy, requested: str | None = None) -> Decision:
    """The service channel: the policy's first when none is asked for, else the one asked
    for if the policy offers it."""
    kind = requested or policy.first_channel
    channel = policy.channel(kind)
    if channel is None and not (kind == "return_repair" and not policy.channels):
        offered = ", ".join(c.kind for c in policy.channels) or "return_repair"
        raise ValueError(f"policy {policy.name} offers no {kind} service; it offers: {offered}")
    return Decision(
        what="channel",
        outcome=kind,
        reason=("service starts with " if requested is None else "service moves to ") + kind.replace("_", " "),
        clause_ids=channel.clause_ids if channel else policy.deadlines.shipping.clause_ids,
        inputs={"requested": requested},
    )


def fees_due(policy: Policy, channel: str, covered: bool) -> list[str]:
    """The fee items a channel's repair quote must carry: none when covered; its listed
    ones when not, but for those owed whatever the quote's answer (readings 2)."""
    spec = policy.channel(channel)
    if covered or spec is None:
        return []
    owed = fees_owed(policy, channel, covered)
    return [fee for fee in spec.fees_if_not_covered if fee not in owed]


def fees_owed(policy: Policy, channel: str, covered: bool) -> list[str]:
    """Readings 2: the fee items owed once a visit is found not covered, whatever the
    customer answers to the repair quote (002 3.2.3 c: the engineer's travel)."""
    spec = policy.channel(channel)
    if covered or spec is None or not as_written(policy):
        return []
    return list(spec.fees_owed)


def decide_fees(policy: Policy, channel: str, covered: bool) -> Decision:
    """The fees decision: which items are charged for the channel, and the clauses why."""
    spec = policy.channel(channel)
    items = fees_due(policy, channel, covered)
    owed = fees_owed(policy, channel, covered)
    if owed:
        assert spec is not None
        quoted = f"; quoted with the repair: {', '.join(items)}" if items else ""
        return Decision(
            what="fees",
            outcome=", ".join([*owed, *items]),
            reason=f"not covered: owed whatever the answer to a quote: {', '.join(owed)}{quoted}",
            clause_ids=spec.fees_clause_ids,
            inputs={"channel": channel, "covered": covered},
        )
    if items:
        clause_ids = spec.fees_clause_ids  # the schema requires them wherever fees are listed
    elif spec is not None:
        clause_ids = spec.clause_ids
    else:
        clause_ids = policy.fee_clause_ids or policy.warranty.paid_repair_clause_ids
    return Decision(
        what="fees",
        outcome=", ".join(items) if items else "none",
        reason=("charged because the service is not covered: " + ", ".join(items))
        if items
        else "nothing charged for the visit",
        clause_ids=clause_ids,
        inputs={"channel": channel, "covered": covered},
    )


def decide_freight(
    policy: Policy, remedy: Remedy, fault: Fault, covered: bool, kind: ClaimKind | None = None
) -> Decision:
    """Who pays freight (and insurance, customs) each way: the first freight rule that matches."""
    rule = next(r for r in policy.freight if _freight_matches(r, remedy, fault, covered, kind))
    there, back = rule.leg("to_factory"), rule.leg("back_to_customer")
    assert there is not None
    if back is None:
        return Decision(
            what="freight",
            outcome=f"to the factory: {there.describe()}; nothing goes back",
            reason=f"to the factory: {there.describe()}; nothing goes back to the customer",
            clause_ids=rule.clause_ids,
            inputs={"remedy": remedy.value, "fault": fault.value, "covered": covered},
        )
    if there.insurance is there.customs is back.insurance is back.customs is None:
        a, b = there.freight.value, back.freight.value
        outcome = f"{a} pays both ways" if a == b else f"{a} pays to the factory, {b} pays back"
    else:
        outcome = f"to the factory: {there.describe()}; back: {back.describe()}"
    return Decision(
        what="freight",
        outcome=outcome,
        reason=f"to the factory: {there.describe()}; back to the customer: {back.describe()}",
        clause_ids=rule.clause_ids,
        inputs={"remedy": remedy.value, "fault": fault.value, "covered": covered},
    )


def _freight_matches(rule: FreightRule, remedy: Remedy, fault: Fault, covered: bool, kind: ClaimKind | None) -> bool:
    when = rule.when
    return (
        (when.kind is None or kind in when.kind)
        and (when.remedy is None or remedy in when.remedy)
        and (when.fault is None or fault in when.fault)
        and (when.covered is None or when.covered == covered)
    )


def post_repair_clause_ids(policy: Policy) -> list[str]:
    return policy.post_repair_warranty.clause_ids if policy.post_repair_warranty else []


def _clocks_open_to(policy: Policy, intake: ClaimIntake) -> list[WarrantyClock]:
    """The warranty clocks whose proof-of-purchase condition the claim meets."""
    return [c for c in policy.warranty.clocks if intake.proof_of_purchase or not c.requires_proof_of_purchase]


def _applicable_clock(policy: Policy, intake: ClaimIntake) -> WarrantyClock | None:
    """The first clock open to the claim whose dates (and contract period) are known."""
    for clock in _clocks_open_to(policy, intake):
        if clock.period_from_claim and intake.contract_warranty_months is None:
            continue
        if _clock_start(clock, intake) is not None:
            return clock
    return None


def _clock_start(clock: WarrantyClock, intake: ClaimIntake) -> date | None:
    return intake.purchase_date if clock.counted_from == "purchase" else intake.factory_shipment_date


def _clock_date_field(clock: WarrantyClock) -> str:
    field = "purchase_date" if clock.counted_from == "purchase" else "factory_shipment_date"
    return f"{field} and contract_warranty_months" if clock.period_from_claim else field


def _unique(ids) -> list[str]:
    return list(dict.fromkeys(ids))
