"""`claims complaint open | act | show | list`: complaints from the command line.

Thin: the intake and the actions are validated by the pydantic models the workflow uses
(models/complaint.py), sent through claimflow/complaints.py, and printed; every failure is
one clear line naming what was typed (claimflow/console.py).
"""

import asyncio
import json
import shlex
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.markup import escape
from rich.table import Table

from claimflow.claims import ClaimError
from claimflow.console import InputError, cli_errors, explain_flags, out, safe
from claimflow.settings import load_settings
from models.complaint import COMPLAINT_ACTIONS, LEVEL_TITLES, ComplaintIntake, ComplaintView
from models.enums import ComplaintChannel

# Temporal's client, the workflow and SQLAlchemy are imported by the commands that use them.

T = TypeVar("T")
complaint_app = typer.Typer(
    help="Complaints: take one in, act on it, show it, list them (routed, answered, escalated by the policy).",
    no_args_is_help=True,
)


def _run(coro_fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    from claimflow.temporal import connect

    async def main() -> T:
        return await coro_fn(await connect(load_settings()), *args)

    return asyncio.run(main())


def _validated(model: type[BaseModel], data: dict[str, Any], flag_of: Callable[[tuple, Any, bool], str | None]):
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InputError(explain_flags(error, flag_of)) from None


def _json_object(text: str, where: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{where} is not JSON: {e.msg} at character {e.pos}") from None
    if not isinstance(data, dict):
        raise InputError(f"{where} must be a JSON object ({{\"field\": value, …}})")
    return data


# --- open ------------------------------------------------------------------------------

_OPEN_FLAGS = {
    ("complaint_number",): "--number", ("policy",): "--policy", ("channel",): "--channel",
    ("category",): "--category", ("description",): "--description", ("emergency",): "--emergency",
    ("customer", "name"): "--customer", ("customer", "contact"): "--contact", ("locale",): "--locale",
    ("claim_number",): "--claim", ("opened_by",): "--by",
}  # fmt: skip


@complaint_app.command("open")
@cli_errors
def open_command(
    policy: Annotated[str | None, typer.Option(help="Policy name (file in policies/).")] = None,
    category: Annotated[str | None, typer.Option(help="What it is about: one of the policy's complaint categories.")] = None,
    channel: Annotated[ComplaintChannel | None, typer.Option(help="How it came in.")] = None,
    customer: Annotated[str | None, typer.Option(help="Customer name.")] = None,
    contact: Annotated[str | None, typer.Option(help="Customer e-mail (then they are mailed) or phone.")] = None,
    description: Annotated[str | None, typer.Option(help="The complaint, as the customer puts it.")] = None,
    by: Annotated[str | None, typer.Option(help="Who takes it in.")] = None,
    number: Annotated[str | None, typer.Option(help="Complaint number CP-… (default: a new one).")] = None,
    emergency: Annotated[bool | None, typer.Option("--emergency/--no-emergency", help="Report it to the company leader at once.")] = None,
    claim: Annotated[str | None, typer.Option(help="The claim it is about, if any.")] = None,
    locale: Annotated[str | None, typer.Option(help="The customer's language: en or zh_Hans_CN.")] = None,
    file: Annotated[Path | None, typer.Option(help="The intake as a JSON object; the options above override it.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the complaint's view as JSON.")] = False,
) -> None:
    """Take a complaint in: it is routed by its category and its reply clock starts."""
    from claimflow import complaints as ops
    from claimflow.calendars import local_today
    from claimflow.policy_files import load_policy

    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = _json_object(file.read_text(encoding="utf-8"), f"--file {shlex.quote(str(file))}")
        except OSError as e:
            raise InputError(f"--file {shlex.quote(str(file))}: {e.strerror or e}") from None
    given = {"policy": policy, "category": category, "channel": channel, "description": description,
             "opened_by": by, "complaint_number": number, "emergency": emergency, "claim_number": claim,
             "locale": locale}  # fmt: skip
    data |= {key: value for key, value in given.items() if value is not None}
    if customer is not None or contact is not None:
        data["customer"] = (data.get("customer") if isinstance(data.get("customer"), dict) else {}) | {
            key: value for key, value in (("name", customer), ("contact", contact)) if value is not None
        }
    data.setdefault("complaint_number", ops.new_complaint_number())

    def flag_of(loc: tuple, value: Any, missing: bool) -> str | None:
        flag = next((f for path, f in _OPEN_FLAGS.items() if loc[: len(path)] == path), None)
        return flag if missing or flag is None else f"{flag} {shlex.quote(str(value))}"

    intake: ComplaintIntake = _validated(ComplaintIntake, data, flag_of)
    policy_ = load_policy(load_settings().policy_dir, intake.policy)
    complaint = ops.complaint_input(intake, policy_, local_today(policy_.timezone))

    def claim_taken(claim_number: str) -> str | None:
        from claimflow.claim_lists import claim_number_taken
        from claimflow.read_cli import read_model

        return claim_number_taken(read_model(), claim_number)

    async def open_and_view(client) -> ComplaintView:
        if intake.claim_number is not None:
            await ops.check_claim(client, intake.claim_number, claim_taken)
        await ops.open_complaint(client, complaint)
        return await ops.view(client, intake.complaint_number)

    view = _run(open_and_view)
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    zone, name = _zone(view, utc=False)
    reply = view.reply_clock
    say(f"complaint {view.complaint_number} taken: {view.category_title} → {view.department_name} ({view.department})")
    if reply is not None:
        unit = "service hours" if view.counting == "service_hours" else "hours, wall clock"
        say(f"reply due {_at(reply.due_at, zone)} {name} ({view.reply_hours} {unit}) [{', '.join(reply.clause_ids)}]")
    if view.emergency:
        say("emergency: reported to the company leader at once")
    say(f"next: {', '.join(view.allowed_actions) or 'nothing'}")


def say(text: str) -> None:
    out.print(safe(text), markup=False, highlight=False)


# --- act ---------------------------------------------------------------------------------


@complaint_app.command("act")
@cli_errors
def act_command(
    number: Annotated[str, typer.Argument(help="Complaint number.")],
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(COMPLAINT_ACTIONS)} (- or _).")],
    data: Annotated[str | None, typer.Argument(help='The action\'s fields as JSON, e.g. \'{"reply": "…"}\'.')] = None,
    by: Annotated[str | None, typer.Option(help="Who does it.")] = None,
    reply: Annotated[str | None, typer.Option(help="record_reply: the reply.")] = None,
    satisfied: Annotated[bool | None, typer.Option("--satisfied/--not-satisfied", help="record_satisfaction.")] = None,
    department: Annotated[str | None, typer.Option(help="reassign: the department.")] = None,
    reason: Annotated[str | None, typer.Option(help="close_complaint, cancel_complaint: why.")] = None,
    note: Annotated[str | None, typer.Option(help="A free-text note for the timeline.")] = None,
    wait: Annotated[int, typer.Option(min=1, max=3600, help="Seconds to wait for the complaint's answer.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Do an action on a complaint; refused at once, with the reason, when it does not fit."""
    from claimflow import complaints as ops
    from claimflow.claims import check_worker

    name = action.replace("-", "_")
    if name not in COMPLAINT_ACTIONS:
        raise ClaimError(f"unknown action {action!r}; known: {', '.join(COMPLAINT_ACTIONS)}")
    model = COMPLAINT_ACTIONS[name]
    fields = _json_object(data, f"the JSON {shlex.quote(data)}") if data is not None else {}
    options = {"by": by, "reply": reply, "satisfied": satisfied, "department": department, "reason": reason, "note": note}
    flags = {"satisfied": "--satisfied/--not-satisfied"}
    for key, value in options.items():
        if value is None:
            continue
        if key not in model.model_fields:
            takes = [f"--{f}" for f in model.model_fields if f not in ("by", "note")]
            raise InputError(f"{name} takes no {flags.get(key, '--' + key)}; it takes --by, --note"
                             + (f", {', '.join(takes)}" if takes else ""))  # fmt: skip
        fields[key] = value

    def flag_of(loc: tuple, value: Any, missing: bool) -> str | None:
        flag = flags.get(loc[0], f"--{loc[0]}") if loc else None
        return flag if missing or flag is None else f"{flag} {shlex.quote(str(value))}"

    payload = _validated(model, fields, flag_of)
    complaint = number.upper()

    async def check_and_act(client):
        await _check_open(client, complaint)
        await check_worker(client, complaint)
        return await ops.act(client, complaint, payload, request_id=uuid.uuid4().hex, wait=wait)

    result = _run(check_and_act)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    say(f"{result.complaint_number}: {result.message}")
    say(f"next: {', '.join(result.allowed_actions) or 'nothing'}")


async def _complaint(client, number: str):
    """The description of complaint `number`'s workflow; ClaimError when there is none."""
    from temporalio.service import RPCError, RPCStatusCode

    from workflows.names import COMPLAINT

    try:
        description = await client.get_workflow_handle(number).describe()
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise ClaimError(f"no complaint {number}") from None
        raise
    if description.workflow_type != COMPLAINT:
        raise ClaimError(f"{number} is a {description.workflow_type} workflow, not a complaint")
    return description


async def _check_open(client, number: str) -> None:
    """A complaint that is not running any more (closed, cancelled) takes no action."""
    from temporalio.client import WorkflowExecutionStatus

    description = await _complaint(client, number)
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise ClaimError(f"complaint {number} is over ({description.status.name.lower()}); nothing was done")


# --- show ----------------------------------------------------------------------------------


@complaint_app.command("show")
@cli_errors
def show_command(
    number: Annotated[str, typer.Argument(help="Complaint number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the live view as JSON.")] = False,
    utc: Annotated[bool, typer.Option("--utc", help="Times in UTC, not in the policy's timezone.")] = False,
) -> None:
    """Show a complaint: state, department, clocks and the ladder, escalations, replies, timeline."""
    from claimflow import complaints as ops

    async def look(client) -> ComplaintView:
        from temporalio.client import WorkflowQueryFailedError

        await _complaint(client, number.upper())
        try:
            return await ops.view(client, number.upper())
        except WorkflowQueryFailedError as e:  # a complaint refused at intake
            raise ClaimError(f"{number.upper()}: {e.message}") from None

    view = _run(look)
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    print_complaint(view, datetime.now(timezone.utc), utc)


def _zone(view: ComplaintView, utc: bool):
    """Where times are read: the policy's timezone, or UTC; and its name."""
    from zoneinfo import ZoneInfo

    return (timezone.utc, "UTC") if utc else (ZoneInfo(view.timezone), view.timezone)


def _at(moment: datetime, zone) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def print_complaint(view: ComplaintView, now: datetime, utc: bool = False) -> None:
    """A complaint's view for a terminal; stored text goes through `safe`."""
    zone, name = _zone(view, utc)
    emergency = "  EMERGENCY" if view.emergency else ""
    say(f"{view.complaint_number}  policy {view.policy}  state {view.state.value}{emergency}")
    say(f"{view.channel.value}: {view.category_title} → {view.department_name} ({view.department})")
    say(f"customer {view.customer.name} <{view.customer.contact}>" + (f"  claim {view.claim_number}" if view.claim_number else ""))
    say(f"complaint: {view.description}")
    unit = "service hours" if view.counting == "service_hours" else "wall-clock hours"
    say(f"taken {_at(view.opened_at, zone)} {name} by {view.opened_by}; reply within {view.reply_hours} {unit}")
    if view.open_deadlines:
        table = Table("clock", f"started ({name})", f"due ({name})", "left", "clauses", title="Clocks")
        for d in view.open_deadlines:
            left = (d.due_at - now).total_seconds() / 3600
            table.add_row(f"{d.kind.value} #{d.cycle}", _at(d.started_at, zone), _at(d.due_at, zone),
                          "passed" if d.due_passed else f"{left:.1f} h", ", ".join(d.clause_ids))  # fmt: skip
        out.print(table)
    if view.ladder:
        table = Table("level", f"escalated at ({name})", "its time ends", "", title="Ladder of the reply clock")
        for step in view.ladder:
            table.add_row(LEVEL_TITLES[step.level], _at(step.at, zone), _at(step.until, zone), "fired" if step.fired else "")
        out.print(table)
    if view.escalations:
        table = Table(f"at ({name})", "level", "to", "", title="Escalations")
        for e in view.escalations:
            what = "emergency" if e.emergency else f"reply #{e.cycle}" + (" (urgent)" if e.urgent else "")
            table.add_row(_at(e.at, zone), LEVEL_TITLES[e.level], escape(safe(", ".join(e.to))), what)
        out.print(table)
    for r in view.replies:
        say(f"reply #{r.cycle} by {r.by} at {_at(r.at, zone)} {name}{' (late)' if r.late else ''}: {r.reply}")
    say(f"allowed now: {', '.join(view.allowed_actions) or 'nothing'}")
    table = Table(f"at ({name})", "what", "by", "", title="Timeline")
    for entry in view.timeline:
        table.add_row(_at(entry.at, zone), entry.kind, escape(safe(entry.by or "")), escape(safe(entry.summary)))
    out.print(table)


# --- list ------------------------------------------------------------------------------------


@complaint_app.command("list")
@cli_errors
def list_command(
    open_: Annotated[bool | None, typer.Option("--open/--closed", help="Only open (or only closed) complaints.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only complaints whose reply time ran out.")] = False,
    department: Annotated[str | None, typer.Option(help="Only this department's.")] = None,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    policy: Annotated[str | None, typer.Option(help="Only under this policy.")] = None,
    claim: Annotated[str | None, typer.Option(help="Only those about this claim.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """List complaints from the read model, the one chased soonest first."""
    from claimflow.complaint_lists import ComplaintFilter, list_complaints
    from claimflow.read_cli import read_only_model

    where = ComplaintFilter(open=open_, overdue=overdue or None, department=department, category=category,
                            policy=policy, claim_number=claim.upper() if claim else None)  # fmt: skip
    rows = list_complaints(read_only_model(), where, limit)
    if as_json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    table = Table("complaint", "policy", "category", "department", "state", "due", "overdue", "level",
                  caption=f"{len(rows)} complaint{'' if len(rows) == 1 else 's'}")  # fmt: skip
    table.columns[0].no_wrap = True
    for row in rows:
        due = f"{row.due_what} {row.due_at:%Y-%m-%d %H:%M} UTC" if row.due_at else "-"
        cells = (row.complaint_number, row.policy, row.category, row.department, row.state, due,
                 "yes" if row.overdue else "", row.escalation_level or "")  # fmt: skip
        table.add_row(*(escape(safe(cell)) for cell in cells))
    out.print(table)
