"""`claims policy list | show | check`: the policies in words, for agents and policy writers."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claimflow.claims import ClaimError
from claimflow.console import cli_errors, err, out, safe
from claimflow.policy_files import load_policy, load_policy_file, policy_names
from claimflow.settings import load_settings
from models.policy import FreightRule, Policy, PolicyError, WarrantyClock
from models.policy_lint import lint

policy_app = typer.Typer(
    help="Read and check the after-sales policies (the files in the policy directory).", no_args_is_help=True
)


def _words(value: str) -> str:
    return value.replace("_", " ")


def _clock_length(clock: WarrantyClock) -> str:
    if clock.days is not None:
        return f"{clock.days} days"
    if clock.months is not None:
        return f"{clock.months} months"
    return "per sales contract"


def warranty_in_short(policy: Policy) -> str:
    """"180 days from purchase with proof; 240 days from factory shipment without"."""
    parts, proof_before = [], False
    for clock in policy.warranty.clocks:
        text = f"{_clock_length(clock)} from {_words(clock.counted_from)}"
        if clock.requires_proof_of_purchase:
            text, proof_before = f"{text} with proof", True
        elif proof_before:
            text += " without"
        parts.append(text)
    return "; ".join(parts)


def _say(text: str, indent: int = 0, style: str | None = None) -> None:
    """One line of policy data: printed as it is (no rich markup, no highlighting)."""
    out.print(" " * indent + text, style=style, markup=False, highlight=False)


def _cite(policy: Policy, clause_ids: list[str], indent: int = 4) -> None:
    texts = {c.id: c.text for c in policy.clauses}
    for cid in clause_ids:
        _say(f"{cid}: {texts.get(cid, '(not defined)')}", indent, "dim")


def _heading(title: str) -> None:
    out.print()
    out.print(title, style="bold", markup=False, highlight=False)


def _freight_when(rule: FreightRule) -> str:
    when = rule.when
    parts = []
    if when.kind is not None:
        parts.append("claim is a " + " or a ".join(k.value for k in when.kind))
    if when.fault is not None:
        parts.append("fault is " + " or ".join(f.value for f in when.fault))
    if when.remedy is not None:
        parts.append("remedy is " + " or ".join(r.value for r in when.remedy))
    if when.covered is not None:
        parts.append("within warranty" if when.covered else "outside warranty")
    return "when " + ", ".join(parts) if parts else "otherwise (always matches)"


_DEADLINE_STARTS = {
    "shipping": "the RMA is issued",
    "quote": "the quote is sent",
    "payment": "the repair passes quality control",
    "repair_start": "the repair starts",
    "parcel_received": "the parcel is received",
}


def print_policy(policy: Policy) -> None:
    """The whole policy in words: every rule with the clauses it cites, and their texts."""
    out.print(f"[bold]{escape(policy.name)}[/bold] — {escape(policy.manufacturer)}", highlight=False)
    _say(f"source seed: {policy.source_seed}")
    holidays = f" (public holidays of {policy.holiday_country} are not working days)" if policy.holiday_country else ""
    _say(f"time zone: {policy.timezone}{holidays}")
    _say(f"currency: {policy.currency}")
    if policy.service_hours is None:
        _say("service hours: not stated")
    else:
        hours = policy.service_hours
        _say(f"service hours: {hours.opens}–{hours.closes} every day, local time")
        _cite(policy, hours.clause_ids)
    _say(f"warranty in short: {warranty_in_short(policy)}")
    _say(f"claims: {', '.join(k.value for k in policy.claim_kinds)}")
    _say(
        "readings: 2 — the seed read as written; claimflow's readings are the CF clauses"
        if policy.readings >= 2
        else "readings: 1 — the first reading (claims keep the readings they opened with)"
    )

    _heading("Service channels")
    if not policy.channels:
        _say("return repair only (no channels listed)", 2)
    for n, channel in enumerate(policy.channels, 1):
        _say(f"{n}. {_words(channel.kind)}" + (" — a claim starts here" if n == 1 else ""), 2)
        _cite(policy, channel.clause_ids, 6)
        if channel.documentation_required:
            _say("fault photos, videos and a list are required before anyone travels", 5)
            _cite(policy, channel.documentation_clause_ids, 7)
        if channel.fees_if_not_covered:
            _say(f"charged when not covered: {', '.join(channel.fees_if_not_covered)}", 5)
            if channel.fees_owed:
                _say(f"owed whatever the answer to the repair quote: {', '.join(channel.fees_owed)}", 5)
            _cite(policy, channel.fees_clause_ids, 7)
        if channel.determination_clause_ids:
            _say("after a visit found not covered, headquarters determines (record_determination)", 5)
            _cite(policy, channel.determination_clause_ids, 7)

    _heading("Returns (for a refund)")
    if policy.returns is None:
        _say("no return-for-refund rule", 2)
    else:
        ret = policy.returns
        _say(f"within {ret.window_days} natural days of receiving the goods", 2)
        _cite(policy, ret.clause_ids)
        _say("refused when asked after the window", 2)
        _cite(policy, ret.late_clause_ids)
        _say("refused when used, incomplete or damaged", 2)
        _cite(policy, ret.condition_clause_ids)
        if ret.proof_clause_ids:
            _say("refused without a proof of purchase", 2)
            _cite(policy, ret.proof_clause_ids)

    warranty = policy.warranty
    _heading("Warranty (the first clock that applies wins; the expiry day is included)")
    for n, clock in enumerate(warranty.clocks, 1):
        length = (
            "the months the sales contract gives (claims open --contract-months)"
            if clock.period_from_claim
            else _clock_length(clock)
        )
        proof = (
            "needs a valid proof of purchase"
            if clock.requires_proof_of_purchase
            else "with or without proof of purchase"
        )
        _say(f"{n}. {length}, counted from {_words(clock.counted_from)}; {proof}", 2)
        _cite(policy, clock.clause_ids, 6)
    _say("free service only for a fault of the product itself", 2)
    _cite(policy, warranty.quality_clause_ids)
    _say("a repair that is not free is quoted, and done once the customer agrees", 2)
    _cite(policy, warranty.paid_repair_clause_ids)
    if warranty.tiers:
        _say("Three Guarantees — a product given back with a fault of its own, by day since purchase:", 2)
        for tier in warranty.tiers:
            proof = "" if tier.requires_proof_of_purchase else " (no proof of purchase needed)"
            _say(f"up to day {tier.up_to_day}: {tier.remedy.value}{proof}", 4)
            _cite(policy, tier.clause_ids, 6)
    if warranty.scope:
        _say("only these defects are covered:", 2)
        for defect in warranty.scope:
            _say(f"{defect.id} — {defect.label}", 4)
            _cite(policy, defect.clause_ids, 6)
    else:
        _say("scope: any fault of the product itself", 2)
    if warranty.replacement_clause_ids:
        _say("covered but not repairable, or the inspector replaces it: replaced", 2)
        _cite(policy, warranty.replacement_clause_ids)
    if warranty.no_proof_clause_ids:
        _say("without a proof of purchase: no warranty", 2)
        _cite(policy, warranty.no_proof_clause_ids)

    _heading("Post-repair warranty")
    if policy.post_repair_warranty is None:
        _say("none", 2)
    else:
        only = " of a product out of warranty" if policy.post_repair_warranty.only_after_warranty else ""
        _say(f"{policy.post_repair_warranty.days} days after a paid repair{only}, counted from ship-back", 2)
        _cite(policy, policy.post_repair_warranty.clause_ids)

    _heading("Service claims (no fault to repair)")
    if policy.service is None:
        _say("none", 2)
    else:
        _say(f"{policy.service.label}: quoted, done once the customer agrees, paid before it goes back", 2)
        _cite(policy, policy.service.clause_ids)

    _heading("Exclusions (recorded at intake or inspection)")
    if not policy.exclusions:
        _say("none", 2)
    for exclusion in policy.exclusions:
        effect = "refused, no service at all" if exclusion.effect == "refuse" else "no free service"
        kinds = ", ".join(k.value for k in exclusion.applies_to)
        _say(f"{exclusion.id} — {exclusion.label}", 2)
        _say(f"effect: {effect}; applies to: {kinds}", 4)
        _cite(policy, exclusion.clause_ids, 6)

    _heading("Not repairable (found at inspection)")
    if not policy.non_repairable:
        _say("none listed", 2)
    for condition in policy.non_repairable:
        _say(f"{condition.id} — {condition.label}", 2)
        _cite(policy, condition.clause_ids)

    _heading("Freight (the first rule that matches decides)")
    for n, rule in enumerate(policy.freight, 1):
        _say(f"{n}. {_freight_when(rule)}:", 2)
        _say(f"to the factory: {rule.leg('to_factory').describe()}", 5)
        back = rule.leg("back_to_customer")
        _say(f"back to the customer: {back.describe() if back else 'nothing goes back'}", 5)
        _cite(policy, rule.clause_ids, 5)

    _heading("Fees")
    if policy.fee_items:
        _say(f"fee items: {', '.join(policy.fee_items)}", 2)
    else:
        _say("no fee items: quote lines are free text", 2)
    _cite(policy, policy.fee_clause_ids)

    _heading("Deadlines (ladder offsets in hours from the deadline; negative is before it)")
    for kind in ("shipping", "quote", "repair", "payment"):
        rule = getattr(policy.deadlines, kind)
        if rule is None:
            _say(f"{kind}: none (nothing is shipped to the factory)", 2)
            continue
        start = _DEADLINE_STARTS[rule.starts_at if kind == "repair" else kind]
        _say(f"{kind}: {rule.days} {rule.calendar} days from when {start}", 2)
        if kind != "repair" and rule.starts_at != "repair_start":
            _say(f"(starts_at = {rule.starts_at} applies to the repair deadline only)", 4)
        _cite(policy, rule.clause_ids)
        for step in rule.ladder:
            _say(f"{step.offset_hours:+5d}h  {step.level.value}, notify {step.notify.value}", 4)
        if not rule.ladder:
            _say("no escalation ladder", 4)

    cited = policy.cited_clause_ids()
    uncited = [c for c in policy.clauses if c.id not in cited]
    if uncited:
        _heading("Other clauses (cited by no rule)")
        _cite(policy, [c.id for c in uncited], 2)


def _policy_dir() -> Path:
    policy_dir = load_settings().policy_dir
    if not policy_dir.is_dir():
        raise ClaimError(f"the policy directory {policy_dir} does not exist (set CLAIMFLOW_POLICY_DIR)")
    return policy_dir


@policy_app.command("list")
@cli_errors
def policy_list() -> None:
    """One row per policy file: manufacturer, seed, channels, warranty in short."""
    policy_dir = _policy_dir()
    names = policy_names(policy_dir)
    if not names:
        out.print(f"no policy files in {policy_dir}", markup=False, highlight=False)
        return
    table = Table(
        "name", "manufacturer", "source seed", "channels", "warranty", caption="a claim starts in the first channel"
    )
    table.columns[0].no_wrap = table.columns[2].no_wrap = True
    table.columns[1].min_width = 12
    failed: list[PolicyError] = []
    for name in names:
        try:
            policy = load_policy_file(policy_dir / f"{name}.toml")
        except PolicyError as e:
            failed.append(e)
            table.add_row(escape(name), "[red]failed[/red] (see below)", "", "", "")
            continue
        channels = ", ".join(_words(c.kind) for c in policy.channels) or "return repair"
        row = (name, policy.manufacturer, policy.source_seed, channels, warranty_in_short(policy))
        table.add_row(*(escape(value) for value in row))
    out.print(table)
    if failed:
        err.print(f"[red]error:[/red] {len(failed)} of {len(names)} policy files failed to load:", highlight=False)
        for e in failed:
            err.print(str(e), markup=False, highlight=False)
        raise typer.Exit(1)


@policy_app.command("show")
@cli_errors
def policy_show(
    name: Annotated[str, typer.Argument(help="Policy name (see `claims policy list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the validated policy as JSON.")] = False,
) -> None:
    """The whole policy in words: each rule, the clause ids it cites and their texts."""
    policy = load_policy(load_settings().policy_dir, name)
    if as_json:
        print(policy.model_dump_json(indent=2))
        return
    print_policy(policy)


@policy_app.command("check")
@cli_errors
def policy_check(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Policy files to check (none: every file in the policy directory).")
    ] = None,
) -> None:
    """Validate and lint policy files: 'ok' per good file; every problem of a bad one as
    'FILE: field: reason' (it does not load) or 'FILE: clause ID: message' (models/policy_lint.py)."""
    if not files:
        policy_dir = _policy_dir()
        files = [policy_dir / f"{name}.toml" for name in policy_names(policy_dir)]
        if not files:
            out.print(f"no policy files in {policy_dir}", markup=False, highlight=False)
            return
    bad = 0
    for path in files:
        try:
            policy = load_policy_file(path)
        except PolicyError as e:
            bad += 1
            err.print(str(e), markup=False, highlight=False)
            continue
        problems = lint(policy)
        for problem in problems:
            err.print(safe(f"{path}: clause {problem.clause_id}: {problem.message}"), markup=False, highlight=False)
        if problems:
            bad += 1
            continue
        out.print(f"ok: {path} ({policy.name}, {len(policy.clauses)} clauses)", markup=False, highlight=False)
    if bad:
        raise typer.Exit(1)
