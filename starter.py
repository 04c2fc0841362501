"""`claims`: the command line of claimflow — open claims, act on them, show them, run the stack.

A thin client: it validates input with the same pydantic models the workflow uses,
talks to Temporal, and prints. Every failure is one clear message and exit code 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import typer
from pydantic import BaseModel, ValidationError
from typer.core import TyperGroup
from typer.exceptions import TyperException
from rich.markup import escape
from rich.table import Table

from claimflow.binaries import temporal_cli
from claimflow.console import InputError, cli_errors, explain_flags, out, safe
from claimflow.errors import ClaimError, TemporalUnreachable
from claimflow.read_cli import read_model, show_archived
from claimflow.settings import TASK_QUEUE, Settings, load_settings
from models import limits
from models.enums import ClaimKind

# temporalio, the claim and action models and the policies are imported in the commands
# that use them (their modules take most of a command's start-up): `claims list` needs none.
if TYPE_CHECKING:
    from temporalio.client import Client

    from claimflow.temporal import SearchAttributeStatus
    from models.actions import AgentAction
    from models.claim import ActionResult, ClaimView

T = TypeVar("T")

# Commands defined in modules of their own are imported only when they run (or when help
# lists them), so a command imports only what it uses: name -> (module, its command
# function, or its Typer for a group of subcommands). In the order `claims --help` lists them.
LAZY_COMMANDS = {
    "list": ("claimflow.read_cli", "list_command"),
    "reindex": ("claimflow.read_cli", "reindex_command"),
    "archive": ("claimflow.read_cli", "archive_command"),
    "audit": ("claimflow.audit_cli", "audit"),
    "replay": ("claimflow.replay_cli", "replay"),
    "what-if": ("claimflow.whatif_cli", "what_if"),
}
LAZY_GROUPS = {
    "policy": ("claimflow.policy_cli", "policy_app"),
    "user": ("claimflow.user_cli", "user_app"),
    "complaint": ("claimflow.complaint_cli", "complaint_app"),
    "mail": ("claimflow.mail_cli", "mail_app"),
}


def _lazy_command(name: str) -> click.Command:
    import importlib

    module, attribute = {**LAZY_COMMANDS, **LAZY_GROUPS}[name]
    target = getattr(importlib.import_module(module), attribute)
    if name in LAZY_GROUPS:
        command = typer.main.get_group(target)
        command.name = name
        return command
    single = typer.Typer(add_completion=False)
    single.command(name)(target)
    return typer.main.get_command(single)


class _LazyCommands(TyperGroup):
    """The `claims` group: the commands of LAZY_COMMANDS and LAZY_GROUPS are built when asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*LAZY_COMMANDS, *(n for n in self.commands if n not in LAZY_COMMANDS | LAZY_GROUPS), *LAZY_GROUPS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        wanted = [cmd_name] if cmd_name in LAZY_COMMANDS | LAZY_GROUPS else [*LAZY_COMMANDS, *LAZY_GROUPS]
        for name in wanted:  # an unknown name: all of them, for typer's "did you mean"
            if name not in self.commands:
                self.commands[name] = _lazy_command(name)
        return self.commands.get(cmd_name)


app = typer.Typer(
    cls=_LazyCommands, help="claimflow: after-sales claims as durable Temporal workflows.", no_args_is_help=True
)


async def connect(settings: Settings) -> Client:
    """A client of Temporal: claimflow.temporal.connect, imported when a command connects."""
    from claimflow.temporal import connect

    return await connect(settings)


def run(coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    async def main() -> T:
        client = await connect(load_settings())
        return await coro_fn(client, *args)

    return asyncio.run(main())


# --- open, act, show -------------------------------------------------------------------


@app.command("open")
@cli_errors
def open_claim(
    number: Annotated[str, typer.Option(help="Claim number; also the workflow id.")],
    policy: Annotated[str, typer.Option(help="Policy name (file in policies/).")],
    customer: Annotated[str, typer.Option(help="Customer name.")],
    contact: Annotated[str, typer.Option(help="Customer e-mail or phone.")],
    model: Annotated[str, typer.Option(help="Product model.")],
    serial: Annotated[str, typer.Option(help="Product serial number.")],
    fault: Annotated[str, typer.Option(help="The fault as the customer describes it.")],
    by: Annotated[str, typer.Option(help="Who opens the claim.")],
    kind: Annotated[
        ClaimKind, typer.Option(help="return (refund), repair, or service (maintenance, an upgrade: quoted).")
    ] = ClaimKind.REPAIR,
    barcode: Annotated[str | None, typer.Option(help="Product barcode.")] = None,
    proof: Annotated[bool, typer.Option("--proof/--no-proof", help="Valid proof of purchase?")] = True,
    purchased: Annotated[str | None, typer.Option(help="Purchase date, YYYY-MM-DD.")] = None,
    received: Annotated[str | None, typer.Option(help="Date the goods were received.")] = None,
    shipped_from_factory: Annotated[str | None, typer.Option(help="Factory shipment date.")] = None,
    contract_months: Annotated[
        int | None, typer.Option(help="Warranty months the sales contract gives (policies whose period comes from it).")
    ] = None,
    condition: Annotated[list[str], typer.Option(help="Exclusion id known at intake (repeatable).")] = [],
) -> None:
    """Open a claim: checks it against its policy and starts its workflow."""
    from claimflow import claims as claim_ops
    from claimflow.policy_files import load_policy
    from models.claim import ClaimIntake

    intake = _validated(ClaimIntake, _open_flag, {
            "claim_number": number,
            "policy": policy,
            "kind": kind,
            "customer": {"name": customer, "contact": contact},
            "product": {"model": model, "serial_number": serial, "barcode": barcode},
            "proof_of_purchase": proof,
            "purchase_date": purchased,
            "goods_received_date": received,
            "factory_shipment_date": shipped_from_factory,
            "contract_warranty_months": contract_months,
            "fault_description": fault,
            "conditions": condition,
            "opened_by": by,
        })  # fmt: skip
    from claimflow.calendars import local_today

    policy_ = load_policy(load_settings().policy_dir, intake.policy)
    claim = claim_ops.claim_input(intake, policy_, local_today(policy_.timezone))
    from claimflow.claim_lists import claim_number_taken  # (SQLAlchemy only for the commands that need it)

    if held_by := claim_number_taken(read_model(), intake.claim_number):
        raise claim_ops.ClaimExists(
            f"claim {intake.claim_number} already exists ({held_by}); a claim number is never used twice"
        )

    async def open_and_view(client: Client) -> ClaimView:
        await claim_ops.open_claim(client, claim)
        return await claim_ops.view(client, intake.claim_number)

    view = run(open_and_view)
    out.print(f"claim [bold]{escape(view.claim_number)}[/bold] opened: {view.state.value}", highlight=False)
    _print_decisions(view)
    out.print(f"next: {', '.join(view.allowed_actions) or 'nothing (claim is closed)'}", highlight=False)


_OPEN_FLAGS = {
    ("claim_number",): "--number", ("policy",): "--policy", ("kind",): "--kind", ("customer", "name"): "--customer",
    ("customer", "contact"): "--contact", ("product", "model"): "--model", ("product", "serial_number"): "--serial",
    ("product", "barcode"): "--barcode", ("proof_of_purchase",): "--proof", ("purchase_date",): "--purchased",
    ("goods_received_date",): "--received", ("factory_shipment_date",): "--shipped-from-factory",
    ("contract_warranty_months",): "--contract-months", ("fault_description",): "--fault",
    ("conditions",): "--condition", ("opened_by",): "--by",
}  # fmt: skip


def _open_flag(loc: tuple, value: Any, missing: bool) -> str | None:
    """`claims open`'s flag for a field path of the intake, with what was typed."""
    for path, flag in _OPEN_FLAGS.items():
        if loc[: len(path)] == path:
            return flag if missing else f"{flag} {shlex.quote(str(value))}"
    return ".".join(map(str, loc)) or None


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], flag_of: Callable[[tuple, Any, bool], str | None], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(explain_flags(error, flag_of)) from None


def _takes_json(annotation: Any) -> bool:
    """A field whose values are lists or mappings: its `-f` value is JSON."""
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_takes_json(a) for a in get_args(annotation) if a is not type(None))
    return get_origin(annotation) in (list, dict, set, tuple) or annotation in (list, dict, set, tuple)


def parse_fields(
    action: type[AgentAction], fields: list[str], lines: list[str], owed: list[str] = []
) -> dict[str, Any]:
    """`-f key=value` pairs typed by the action's field (strings stay strings; booleans,
    numbers and money are parsed by the model; lists are JSON), `--line item=amount` (a
    quote's lines) and `--owed item=amount` (a visit's owed fees)."""
    from models.actions import ACTION_NAMES

    data: dict[str, Any] = {}
    known = [name for name in action.model_fields if name not in ("by", "note")]
    for field in fields:
        key, sep, raw = field.partition("=")
        if not sep or not key:
            raise InputError(f"-f {shlex.quote(field)} must look like key=value")
        if key in ("by", "note"):
            what = "who did it" if key == "by" else "the note"
            raise InputError(f"-f {shlex.quote(field)}: use --{key} to give {what}, not -f")
        if key not in action.model_fields:
            raise InputError(
                f"-f {shlex.quote(field)}: {ACTION_NAMES[action]} has no field {key!r}; "
                f"its fields: {', '.join(known) or 'none'}"
            )
        if key in data:
            raise InputError(f"-f {key}=… is given twice")
        if _takes_json(action.model_fields[key].annotation):
            try:
                data[key] = json.loads(raw)
            except json.JSONDecodeError:
                raise InputError(
                    f"-f {shlex.quote(field)}: {key} is a list, written as JSON, e.g. -f '{key}=[\"a\", \"b\"]'"
                ) from None
        else:
            data[key] = raw
    for flag, key, given in (("--line", "lines", lines), ("--owed", "owed", owed)):
        if given:
            data[key] = _fee_lines(flag, given)
    return data


def _fee_lines(flag: str, given: list[str]) -> list[dict[str, str]]:
    """`item=amount` values of a repeatable flag as fee lines."""
    lines = []
    for line in given:
        item, sep, amount = line.rpartition("=")
        if not sep or not item:
            raise InputError(f"{flag} {shlex.quote(line)} must look like 'item=amount'")
        lines.append({"item": item, "amount": amount})
    return lines


@app.command()
@cli_errors
def act(
    claim: Annotated[str, typer.Argument(help="Claim number.")],
    action: Annotated[str, typer.Argument(help="Action name (see `claims actions`).")],
    by: Annotated[str, typer.Option(help="Who does it.")],
    field: Annotated[list[str], typer.Option("-f", "--field", help="key=value (repeatable).")] = [],
    line: Annotated[list[str], typer.Option(help="Quote line 'item=amount' (repeatable).")] = [],
    owed: Annotated[
        list[str], typer.Option(help="A visit's owed fee 'item=amount', e.g. travel=300 (repeatable).")
    ] = [],
    note: Annotated[str, typer.Option(help="Free-text note for the timeline.")] = "",
    wait: Annotated[
        int | None,
        typer.Option(min=1, max=3600, help="Seconds to wait for the claim's answer [default: CLAIMFLOW_ACT_TIMEOUT or 30]."),
    ] = None,
    request_id: Annotated[
        str | None,
        typer.Option(help="Id of this request (default: a new one); the same id again is the same action, done once."),
    ] = None,
) -> None:
    """Do an agent action on a claim; refused at once if it does not fit the claim's state.

    Nothing is sent when no worker polls the claim's task queue. The action is sent as one
    workflow update whose id comes from --request-id: when the claim does not answer within
    --wait seconds, the command says so and prints the id to retry with."""
    from claimflow import claims as claim_ops
    from models.actions import ACTIONS

    name = action.replace("-", "_")
    if name not in ACTIONS:
        raise ClaimError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    data = parse_fields(ACTIONS[name], field, line, owed)
    typed = {f.partition("=")[0]: f for f in field}

    def flag_of(loc: tuple, value: Any, missing: bool) -> str | None:
        if not loc:
            return None
        key = loc[0]
        if key in ("by", "note"):
            return f"--{key}" if missing else f"--{key} {shlex.quote(by if key == 'by' else note)}"
        if key in ("lines", "owed"):
            flag, given = ("--line", line) if key == "lines" else ("--owed", owed)
            if missing or len(loc) < 2 or not isinstance(loc[1], int):
                return f"{flag} item=amount"
            return f"{flag} {shlex.quote(given[loc[1]])}"
        return f"-f {key}=…" if missing or key not in typed else f"-f {shlex.quote(typed[key])}"

    payload = _validated(ACTIONS[name], flag_of, {"by": by, "note": note} | data)
    number = claim.upper()
    request_id = request_id or uuid.uuid4().hex
    seconds = wait or load_settings().act_timeout

    async def check_and_act(client: Client) -> ActionResult:
        await claim_ops.check_worker(client, number)
        return await claim_ops.act(client, number, payload, request_id=request_id, wait=seconds)

    try:
        result = run(check_and_act)
    except claim_ops.NoAnswer as e:
        retry = ["claims", "act", claim, action, "--by", by, *(a for f in field for a in ("-f", f))]
        retry += [*(a for q in line for a in ("--line", q)), *(a for q in owed for a in ("--owed", q))]
        retry += ["--note", note] if note else []
        retry = shlex.join([*retry, "--request-id", request_id])
        raise ClaimError(
            f"{e}: it may still be done when a worker takes it up. Check with `claims show {number}`; "
            f"to retry without doing it twice: {retry}"
        ) from None
    out.print(f"{safe(result.claim_number)}: {safe(result.message)}", markup=False, highlight=False)
    out.print(f"next: {', '.join(result.allowed_actions) or 'nothing'}", highlight=False)


@app.command()
def actions() -> None:
    """List the agent actions and their fields."""
    from models.actions import ACTIONS

    table = Table("action", "fields", "what it does")
    for name, model in ACTIONS.items():
        fields = [
            f"{f}{'' if info.is_required() else '?'}" for f, info in model.model_fields.items() if f not in ("by", "note")
        ]
        summary = next(iter((model.__doc__ or "").strip().splitlines()), "")
        table.add_row(name, ", ".join(fields), summary)
    out.print(table)
    out.print(
        f"Limits: --by, names, carriers, tracking numbers, references and fee items {limits.NAME_MAX} characters; "
        f"descriptions, reasons, summaries, work done and documentation items {limits.TEXT_MAX}; "
        f"--note {limits.NOTE_MAX}; lists (--line, items, exclusions) {limits.LIST_MAX} entries; "
        f"a fee line at most {limits.LINE_AMOUNT_MAX:,}, a payment or refund {limits.AMOUNT_MAX:,}; "
        f"no control characters. Per claim: {limits.QUOTES_MAX} quotes, {limits.REPAIR_ATTEMPTS_MAX} failed "
        f"quality checks, {limits.FAULT_REPORTS_MAX} new faults, {limits.EXTENSIONS_MAX} extensions of a "
        f"deadline, {limits.REOPENS_MAX} reopenings.",
        highlight=False,
    )


@app.command()
@cli_errors
def show(
    claim: Annotated[str, typer.Argument(help="Claim number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the live view as JSON.")] = False,
    utc: Annotated[bool, typer.Option("--utc", help="Times in UTC, not in the policy's timezone.")] = False,
) -> None:
    """Show a claim's live state: customer and fault, deadlines and time left, decisions with
    their clauses, the quote, the timeline. Times are in the policy's timezone (--utc: UTC).

    A claim Temporal no longer knows (its retention passed) is shown from the archive."""
    from temporalio.service import RPCError, RPCStatusCode

    from claimflow import claims as claim_ops

    printer = functools.partial(print_view, utc=utc)
    try:
        view, ended_outside = run(claim_ops.view_and_end, claim.upper())
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND or not show_archived(claim.upper(), as_json, printer):
            raise
        return
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    printer(view, datetime.now(timezone.utc))
    if ended_outside:
        out.print(f"[bold]{escape(safe(ended_outside))}[/bold] — its last state is shown as it was", highlight=False)


def _time_left(due: datetime, now: datetime) -> str:
    seconds = int((due - now).total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    return f"{sign}{days}d {rest // 3600}h" if days else f"{sign}{rest // 3600}h {rest % 3600 // 60}m"


def _print_decisions(view: ClaimView) -> None:
    for d in view.decisions:
        out.print(f"  [bold]{escape(safe(d.what))}[/bold]: {escape(safe(d.outcome))} — {escape(safe(d.reason))}",
                  highlight=False)  # fmt: skip
        for cid in d.clause_ids:
            out.print(f"      {safe(cid)}: {safe(view.clauses.get(cid, ''))}", style="dim", markup=False, highlight=False)


def _zone(view: ClaimView, utc: bool) -> tuple[tzinfo, str]:
    """Where `claims show` reads its times: the policy's timezone, or UTC."""
    if not utc:
        with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(view.timezone), view.timezone
    return timezone.utc, "UTC"


def print_view(view: ClaimView, now: datetime, utc: bool = False) -> None:
    """A claim's view for a terminal; every stored text goes through `safe` (no control
    characters reach the terminal raw)."""
    zone, zone_name = _zone(view, utc)

    def at(moment: datetime, seconds: bool = False) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))

    def say(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    out.print(
        f"[bold]{escape(safe(view.claim_number))}[/bold]  policy {escape(safe(view.policy))}  {view.kind.value}  "
        f"state [bold]{view.state.value}[/bold]  channel {escape(safe(view.channel))}  "
        f"remedy {view.remedy.value if view.remedy else '-'}  "
        f"RMA {escape(safe(view.rma_number or '-'))}",
        highlight=False,
    )
    if view.customer is not None:
        say(f"customer {safe(view.customer.name)} <{safe(view.customer.contact)}>")
    if view.product is not None:
        serial = f", serial {safe(view.product.serial_number)}" if view.product.serial_number else ""
        say(f"product {safe(view.product.model)}{serial}")
    if view.fault_description is not None:
        say(f"reported fault: {safe(view.fault_description)}")
    say(f"opened {at(view.opened_at)} {zone_name}")
    if view.service_hours:
        hours = view.service_hours
        state = "open now" if hours.is_open(now, view.timezone) else "closed now"
        say(f"service desk {hours.opens}–{hours.closes} ({safe(view.timezone)}), {state}")
    if view.post_repair_warranty_until:
        say(f"post-repair warranty until {view.post_repair_warranty_until}")
    if view.open_deadlines:
        table = Table("deadline", f"due ({zone_name})", "time left", "escalation", "clauses", title="Deadlines")
        for d in view.open_deadlines:
            steps = [e for e in view.escalations if e.deadline == d.kind and e.cycle == d.cycle]
            level = steps[-1].level.value if steps else "-"
            if d.acknowledged_by:
                level += f" (ack {d.acknowledged_by})"
            if d.paused_at is not None:  # the clock stopped: the time left when it did
                left = f"{_time_left(d.due_at, d.paused_at)} (paused)"
            else:
                left = _time_left(d.due_at, now) + (f" (extended {d.extensions}x)" if d.extensions else "")
            table.add_row(
                f"{d.kind.value} #{d.cycle}", at(d.due_at), left, escape(safe(level)), escape(safe(", ".join(d.clause_ids)))
            )
        out.print(table)
    if view.quote is not None:
        quote = view.quote
        table = Table("item", f"amount ({safe(quote.currency)})", title="Quote")
        for fee in quote.lines:
            table.add_row(escape(safe(fee.item)), f"{fee.amount:.2f}")
        table.add_row("[bold]total[/bold]", f"[bold]{quote.total:.2f}[/bold]")
        table.caption = (
            f"sent {at(quote.sent_at)}, valid until {at(quote.valid_until)} {zone_name}; {quote.answer or 'no answer yet'}"
        )
        out.print(table)
    if view.fees_owed:
        table = Table("item", f"amount ({safe(view.currency)})", title="Owed for the visit")
        for fee in view.fees_owed:
            table.add_row(escape(safe(fee.item)), f"{fee.amount:.2f}")
        table.caption = "owed whatever the answer to a repair quote"
        out.print(table)
    out.print("[bold]Decisions[/bold]")
    _print_decisions(view)
    out.print(f"[bold]Allowed now:[/bold] {escape(', '.join(view.allowed_actions) or 'nothing')}", highlight=False)
    table = Table(f"at ({zone_name})", "what", "by", "", title="Timeline")
    for entry in view.timeline:
        table.add_row(at(entry.at, seconds=True), entry.kind, escape(safe(entry.by or "")), escape(safe(entry.summary)))
    out.print(table)


@app.command()
@cli_errors
def demo(
    count: Annotated[int, typer.Option(help="How many claims to open.")] = 50,
    seed: Annotated[int, typer.Option(help="Same seed, same claims: a second run skips them.")] = 0,
    prefix: Annotated[str, typer.Option(help="Claim numbers are PREFIX-<policy>-<n>.")] = "DEMO",
) -> None:
    """Open a realistic mix of claims under every policy, in a spread of states (a worker must run)."""
    from claimflow.demo import open_demo_claims, print_report

    policy_dir = load_settings().policy_dir

    async def open_them(client: Client):
        return await open_demo_claims(client, count, policy_dir=policy_dir, seed=seed, prefix=prefix)

    print_report(run(open_them), out)


# --- running the stack -----------------------------------------------------------------


@app.command()
@cli_errors
def worker() -> None:
    """Run a worker against TEMPORAL_ADDRESS (several may share the task queue `claims`). Ctrl-C stops it."""
    from worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_until_signalled(run_worker))


@app.command()
@cli_errors
def web() -> None:
    """Run the agent web UI alone (CLAIMFLOW_WEB_HOST:CLAIMFLOW_WEB_PORT), for a cluster. Ctrl-C stops it.

    It connects to TEMPORAL_ADDRESS and the read model (DATABASE_URL); on a first start
    with no user it creates `admin` and prints its password once."""
    from web.serve import first_admin_password, serve_web

    settings = load_settings()
    if password := first_admin_password(settings):
        out.print(f"web UI user 'admin' created with password {password} — shown once", highlight=False, markup=False)
    out.print(f"agent web UI on {settings.public_url}. Ctrl-C stops it.", highlight=False, markup=False)
    asyncio.run(_until_signalled(lambda stop: serve_web(settings, stop)))


@app.command()
@cli_errors
def setup() -> None:
    """Prepare a namespace (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE): search attributes, retention, archive schedule.

    Registers claimflow's search attributes, sets the namespace's retention of closed
    workflows to CLAIMFLOW_RETENTION_DAYS and creates (or updates) the Schedule that archives
    closed claims every CLAIMFLOW_ARCHIVE_EVERY_MINUTES. Safe to run again. (`claims up`
    does this by itself on its dev server.)
    """
    from claimflow.archive import ensure_archive_schedule
    from claimflow.temporal import register_search_attributes, set_retention

    settings = load_settings()

    async def register(client: Client) -> tuple[list[SearchAttributeStatus], bool, str]:
        statuses = await register_search_attributes(client, settings.temporal_namespace)
        retention = await set_retention(client, settings.temporal_namespace, settings.retention_days)
        schedule = await ensure_archive_schedule(client, timedelta(minutes=settings.archive_every_minutes))
        return statuses, retention, schedule

    statuses, retention, schedule = run(register)
    out.print(f"Temporal at {settings.temporal_address}, namespace {settings.temporal_namespace}:", highlight=False)
    for status in statuses:
        done = "registered" if status.added else "already registered"
        out.print(f"  search attribute {status.name} ({status.type}): {done}", highlight=False)
    out.print(
        f"  retention of closed claims: {settings.retention_days} days ({'set' if retention else 'already set'})",
        highlight=False,
    )
    out.print(
        f"  archive of closed claims: every {settings.archive_every_minutes} minutes (schedule {schedule})",
        highlight=False,
    )
    out.print(f"ready: start workers with `claims worker`; they poll task queue '{TASK_QUEUE}'.", highlight=False)


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT (Ctrl-C) or SIGTERM; call inside the running event loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until_signalled(runner: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    await runner(_stop_on_signals())


def _dev_server_command(settings: Settings, ui_port: int) -> list[str]:
    from claimflow.temporal import search_attribute_flags

    host, _, port = settings.temporal_address.rpartition(":")
    return [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.temporal_db),
        "--ip",
        _bind_ip(host),
        "--port",
        port,
        "--ui-port",
        str(ui_port),
        "--namespace",
        settings.temporal_namespace,
        *search_attribute_flags(),  # registered when the database is new; see _serve for older ones
        "--ui-codec-endpoint",  # the Web UI decrypts payloads through the web UI, for signed-in staff
        settings.public_url.replace("://127.0.0.1:", "://localhost:", 1) + "/codec",  # same site as the UI
        "--log-level",
        "warn",
    ]


def _bind_ip(host: str) -> str:
    return "127.0.0.1" if host in ("localhost", "127.0.0.1", "") else host


def _check_local(settings: Settings, ui_port: int) -> None:
    """`claims up` runs its own dev server: refuse settings meant for a cluster, and busy ports."""
    from claimflow.temporal import ConfigError, check_address

    if settings.is_cluster:
        raise ConfigError(
            "`claims up` runs a local Temporal dev server, which speaks neither TLS nor API keys; "
            "unset TEMPORAL_TLS*/TEMPORAL_API_KEY, or run `claims worker` against your cluster"
        )
    check_address(settings.temporal_address)
    host, _, port = settings.temporal_address.rpartition(":")
    ports = (("Temporal", int(port)), ("the Web UI", ui_port), ("the agent web UI", settings.web_port),
             ("the mail catcher", settings.mail_port))  # fmt: skip
    for what, number in ports:
        with socket.socket() as probe:
            if probe.connect_ex((_bind_ip(host), number)) == 0:
                raise ClaimError(
                    f"port {number} for {what} is already in use (another `claims up`?); stop it, "
                    "or pick other ports with TEMPORAL_ADDRESS / --ui-port / CLAIMFLOW_WEB_PORT / CLAIMFLOW_MAIL_PORT"
                )


async def _wait_for_server(
    settings: Settings, server: subprocess.Popen, stop: asyncio.Event, timeout: float = 60
) -> Client | None:
    """A client of the dev server once it answers; None when stopped (Ctrl-C) before that."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        if server.poll() is not None:
            raise ClaimError(f"the Temporal dev server exited with code {server.returncode}; see its log")
        try:
            return await connect(settings)
        except TemporalUnreachable:
            if time.monotonic() > deadline:
                raise ClaimError(f"the Temporal dev server did not answer on {settings.temporal_address}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    return None


def _encryption_keys(settings: Settings) -> str:
    """Where the payload encryption keys come from (never a key), creating the key file on first start."""
    from claimflow.codec import KeyConfigError, configured_keyring, create_key_file

    try:
        keyring = configured_keyring(settings)
    except KeyConfigError as err:
        raise ClaimError(str(err)) from None
    if keyring is not None:
        return f"AES-GCM, current key {keyring.current!r} from {keyring.source}"
    keyring = create_key_file(settings.key_file)
    return (
        f"AES-GCM, key file {settings.key_file} created now (key {keyring.current!r}): back it up — "
        "without it no claim's history can be read; Temporal's Web UI decodes through the web UI's /codec"
    )


async def _watch_server(server: subprocess.Popen, log_path: Path, stop: asyncio.Event) -> None:
    """Stop the stack, with a clear error, if the dev server dies under it."""
    while not stop.is_set():
        if server.poll() is not None:
            stop.set()
            raise ClaimError(f"the Temporal dev server exited with code {server.returncode}; see {log_path}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1)


async def _serve(settings: Settings, server: subprocess.Popen, ui_port: int, log_path: Path) -> None:
    from claimflow.archive import ensure_archive_schedule
    from claimflow.mail import parse_smtp_url
    from claimflow.mailcatcher import serve_catcher
    from claimflow.temporal import register_search_attributes, set_retention
    from web.serve import first_admin_password, serve_web
    from worker import run_worker

    stop = _stop_on_signals()
    keys = _encryption_keys(settings)  # before connecting: connect() would create the key file silently
    client = await _wait_for_server(settings, server, stop)
    if client is None:
        return
    # A database made before claimflow had search attributes (or by an older `claims dev`)
    # keeps its namespace, and start-dev registers --search-attribute only for a new one.
    registered = await register_search_attributes(client, settings.temporal_namespace)
    await set_retention(client, settings.temporal_namespace, settings.retention_days)
    await ensure_archive_schedule(client, timedelta(minutes=settings.archive_every_minutes))
    host = settings.temporal_address.rpartition(":")[0]
    ui_host = "localhost" if _bind_ip(host) == "127.0.0.1" else host
    rows = [
        ("Temporal gRPC", f"{settings.temporal_address} (namespace {settings.temporal_namespace})"),
        ("Temporal Web UI", f"http://{ui_host}:{ui_port}"),
        ("agent web UI", settings.public_url),
        ("data directory", f"{settings.data_dir}"),
        ("  Temporal database", f"{settings.temporal_db.name}, server log {log_path.name}"),
        ("  outbox", settings.outbox.name),
        ("  mailbox", f"{settings.mailbox_dir.name}/ (claims mail; the web UI's mailbox)"),
        ("mail catcher", f"smtp://127.0.0.1:{settings.mail_port}" + (
            f"; e-mail goes to {parse_smtp_url(settings.smtp_url)} (SMTP_URL)" if settings.smtp_url
            else "; the worker e-mails here (SMTP_URL is not set)")),
        ("read model", settings.database_url_for_display),
        ("payload encryption", keys),
        ("search attributes", ", ".join(f"{s.name} ({s.type})" for s in registered)),
        ("retention", f"{settings.retention_days} days; closed claims archived every "
                      f"{settings.archive_every_minutes} minutes into the read model"),
    ]
    width = max(len(label) for label, _ in rows)
    out.print("\n".join(f"{label.ljust(width)}  {value}" for label, value in rows), highlight=False, markup=False)
    if password := first_admin_password(settings):
        out.print(
            f"first start: web UI user 'admin' created with password {password} — shown once; "
            "sign in and add your users (claims user add NAME --role agent)",
            highlight=False,
            markup=False,
        )
    out.print(f"worker running on task queue '{TASK_QUEUE}'. Ctrl-C stops everything.", highlight=False)

    # The services of the stack, stopped together by Ctrl-C, or when any of them ends or fails.
    # The dev server runs beside them as a child process (see up).
    # Without SMTP_URL the worker e-mails the catcher: the mailbox shows what a real install would send.
    mail_to = settings if settings.smtp_url else replace(settings, smtp_url=f"smtp://127.0.0.1:{settings.mail_port}")
    services = [
        serve_catcher(settings.mailbox_dir, settings.mail_port, stop),
        run_worker(stop, mail_to),
        _watch_server(server, log_path, stop),
        serve_web(settings, stop, client),
    ]
    results = await asyncio.gather(*(_stops_all(service, stop) for service in services), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def _stops_all(service: Awaitable[None], stop: asyncio.Event) -> None:
    try:
        await service
    finally:
        stop.set()


def _die_with_parent() -> None:
    """In the dev server's process, before exec: on Linux, have it sent SIGTERM should `claims up`
    die without stopping it (kill -9), so no server is left behind holding the port and database."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


@app.command("dev", hidden=True)  # the old name, kept so scripts keep working
@app.command("up")
@cli_errors
def up(ui_port: Annotated[int, typer.Option(help="Port of the Temporal Web UI.")] = 8233) -> None:
    """Run the whole stack: Temporal dev server with its Web UI, and a worker.

    The dev server keeps its database in the data directory, so claims and their timers
    survive a restart. Ctrl-C stops everything.
    """
    settings = load_settings()
    _check_local(settings, ui_port)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "temporal-dev-server.log"
    with open(log_path, "ab") as log:
        # Its own session, so a terminal's Ctrl-C reaches only us and we stop it in order.
        server = subprocess.Popen(
            _dev_server_command(settings, ui_port),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    try:
        asyncio.run(_serve(settings, server, ui_port, log_path))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        out.print("stopped.")


def main(args: list[str] | None = None) -> None:
    """The `claims` console script: run the command, flush what it printed, and leave with
    its exit code at once (os._exit). Leaving through the interpreter's shutdown is not
    safe once temporalio has run: its runtime's threads can crash the finalizing
    interpreter (Fatal Python error: PyGILState_Release), which turned a command that had
    done its work into exit code 134 or 139."""
    code = _exit_code(args)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _exit_code(args: list[str] | None) -> int:
    """Run the typer app as its standalone mode would (same messages), returning the exit code."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="claims", standalone_mode=False)
    except TyperException as e:  # a usage error: typer's own message
        from typer import rich_utils

        rich_utils.rich_format_error(e)
        return e.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("Aborted.", file=sys.stderr)
        return 130
    except SystemExit as e:  # sys.exit() somewhere: its code, as Python would map it
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:  # a bug: the traceback, and failure
        import traceback

        traceback.print_exc()
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    main()
