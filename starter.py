"""`claims`: the command line of claimflow — open claims, act on them, show them, run the stack.

A thin client: it validates input with the same pydantic models the workflow uses,
talks to Temporal, and prints. Every failure is one clear message and exit code 1.
"""

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client

from claimflow import claims as claim_ops
from claimflow.binaries import temporal_cli
from claimflow.claims import ClaimError
from claimflow.console import cli_errors, out
from claimflow.policy_cli import policy_app
from claimflow.policy_files import load_policy
from claimflow.settings import Settings, load_settings
from claimflow.temporal import TemporalUnreachable, connect
from models.actions import ACTIONS
from models.calendar import local_today
from models.claim import ClaimIntake, ClaimView
from models.enums import ClaimKind

T = TypeVar("T")
app = typer.Typer(help="claimflow: after-sales claims as durable Temporal workflows.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


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
    kind: Annotated[ClaimKind, typer.Option(help="return (refund) or repair.")] = ClaimKind.REPAIR,
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
    intake = ClaimIntake.model_validate(
        {
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
        }
    )
    policy_ = load_policy(load_settings().policy_dir, intake.policy)
    claim = claim_ops.claim_input(intake, policy_, local_today(policy_.timezone))

    async def open_and_view(client: Client) -> ClaimView:
        await claim_ops.open_claim(client, claim)
        return await claim_ops.view(client, intake.claim_number)

    view = run(open_and_view)
    out.print(f"claim [bold]{escape(view.claim_number)}[/bold] opened: {view.state.value}", highlight=False)
    _print_decisions(view)
    out.print(f"next: {', '.join(view.allowed_actions) or 'nothing (claim is closed)'}", highlight=False)


def parse_fields(fields: list[str], lines: list[str]) -> dict[str, Any]:
    """`-f key=value` pairs (values read as JSON when they parse) and `--line item=amount`."""
    data: dict[str, Any] = {}
    for field in fields:
        key, sep, raw = field.partition("=")
        if not sep or not key:
            raise ClaimError(f"field {field!r} must look like key=value")
        try:
            data[key] = json.loads(raw)
        except json.JSONDecodeError:
            data[key] = raw
    if lines:
        data["lines"] = []
        for line in lines:
            item, sep, amount = line.rpartition("=")
            if not sep or not item:
                raise ClaimError(f"line {line!r} must look like 'item=amount'")
            data["lines"].append({"item": item, "amount": amount})
    return data


@app.command()
@cli_errors
def act(
    claim: Annotated[str, typer.Argument(help="Claim number.")],
    action: Annotated[str, typer.Argument(help="Action name (see `claims actions`).")],
    by: Annotated[str, typer.Option(help="Who does it.")],
    field: Annotated[list[str], typer.Option("-f", "--field", help="key=value (repeatable).")] = [],
    line: Annotated[list[str], typer.Option(help="Quote line 'item=amount' (repeatable).")] = [],
    note: Annotated[str, typer.Option(help="Free-text note for the timeline.")] = "",
) -> None:
    """Do an agent action on a claim; refused at once if it does not fit the claim's state."""
    name = action.replace("-", "_")
    if name not in ACTIONS:
        raise ClaimError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    payload = ACTIONS[name].model_validate({"by": by, "note": note} | parse_fields(field, line))
    result = run(claim_ops.act, claim.upper(), payload)
    out.print(f"{result.claim_number}: {result.message}", markup=False, highlight=False)
    out.print(f"next: {', '.join(result.allowed_actions) or 'nothing'}", highlight=False)


@app.command()
def actions() -> None:
    """List the agent actions and their fields."""
    table = Table("action", "fields", "what it does")
    for name, model in ACTIONS.items():
        fields = [
            f"{f}{'' if info.is_required() else '?'}" for f, info in model.model_fields.items() if f not in ("by", "note")
        ]
        table.add_row(name, ", ".join(fields), (model.__doc__ or "").strip().splitlines()[0])
    out.print(table)


@app.command()
@cli_errors
def show(
    claim: Annotated[str, typer.Argument(help="Claim number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the live view as JSON.")] = False,
) -> None:
    """Show a claim's live state: deadlines and time left, decisions with their clauses, timeline."""
    view = run(claim_ops.view, claim.upper())
    if as_json:
        print(view.model_dump_json(indent=2))
        return
    print_view(view, datetime.now(timezone.utc))


def _time_left(due: datetime, now: datetime) -> str:
    seconds = int((due - now).total_seconds())
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    days, rest = divmod(seconds, 86400)
    return f"{sign}{days}d {rest // 3600}h" if days else f"{sign}{rest // 3600}h {rest % 3600 // 60}m"


def _print_decisions(view: ClaimView) -> None:
    for d in view.decisions:
        out.print(f"  [bold]{d.what}[/bold]: {escape(d.outcome)} — {escape(d.reason)}", highlight=False)
        for cid in d.clause_ids:
            out.print(f"      {cid}: {view.clauses.get(cid, '')}", style="dim", markup=False, highlight=False)


def print_view(view: ClaimView, now: datetime) -> None:
    out.print(
        f"[bold]{view.claim_number}[/bold]  policy {view.policy}  {view.kind.value}  "
        f"state [bold]{view.state.value}[/bold]  channel {view.channel}  "
        f"remedy {view.remedy.value if view.remedy else '-'}  "
        f"RMA {view.rma_number or '-'}",
        highlight=False,
    )
    if view.service_hours:
        hours = view.service_hours
        state = "open now" if hours.is_open(now, view.timezone) else "closed now"
        out.print(f"service desk {hours.opens}–{hours.closes} ({view.timezone}), {state}", highlight=False)
    if view.post_repair_warranty_until:
        out.print(f"post-repair warranty until {view.post_repair_warranty_until}", highlight=False)
    if view.open_deadlines:
        table = Table("deadline", "due (UTC)", "time left", "escalation", "clauses", title="Deadlines")
        for d in view.open_deadlines:
            steps = [e for e in view.escalations if e.deadline == d.kind and e.cycle == d.cycle]
            level = steps[-1].level.value if steps else "-"
            if d.acknowledged_by:
                level += f" (ack {d.acknowledged_by})"
            table.add_row(
                f"{d.kind.value} #{d.cycle}",
                d.due_at.strftime("%Y-%m-%d %H:%M"),
                _time_left(d.due_at, now),
                level,
                ", ".join(d.clause_ids),
            )
        out.print(table)
    out.print("[bold]Decisions[/bold]")
    _print_decisions(view)
    out.print(f"[bold]Allowed now:[/bold] {', '.join(view.allowed_actions) or 'nothing'}", highlight=False)
    table = Table("at (UTC)", "what", "by", "", title="Timeline")
    for entry in view.timeline:
        table.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.kind, escape(entry.by or ""), escape(entry.summary)
        )
    out.print(table)


# --- running the stack -----------------------------------------------------------------


@app.command()
def worker() -> None:
    """Run a worker against TEMPORAL_ADDRESS (several may share the task queue)."""
    from worker import run_worker

    asyncio.run(_until_signalled(run_worker))


async def _until_signalled(runner: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner(stop)


def _dev_server_command(settings: Settings, ui_port: int) -> list[str]:
    host, _, port = settings.temporal_address.rpartition(":")
    return [
        temporal_cli(),
        "server",
        "start-dev",
        "--db-filename",
        str(settings.temporal_db),
        "--ip",
        "127.0.0.1" if host in ("localhost", "127.0.0.1", "") else host,
        "--port",
        port,
        "--ui-port",
        str(ui_port),
        "--namespace",
        settings.temporal_namespace,
        "--log-level",
        "warn",
    ]


async def _wait_for_server(settings: Settings, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise ClaimError(f"the Temporal dev server exited with code {server.returncode}; see its log")
        try:
            await connect(settings)
            return
        except TemporalUnreachable:
            if time.monotonic() > deadline:
                raise ClaimError(f"the Temporal dev server did not answer on {settings.temporal_address}")
            await asyncio.sleep(0.5)


@app.command()
@cli_errors
def dev(ui_port: Annotated[int, typer.Option(help="Port of the Temporal Web UI.")] = 8233) -> None:
    """Run the Temporal dev server (persistent, under the data directory) and a worker.

    Claims and their timers survive a restart. Ctrl-C stops both.
    """
    from worker import run_worker

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "temporal-dev-server.log"
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            _dev_server_command(settings, ui_port), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        asyncio.run(_wait_for_server(settings, server))
        out.print(
            f"Temporal dev server on {settings.temporal_address} (namespace {settings.temporal_namespace}), "
            f"Web UI http://localhost:{ui_port}\n"
            f"data: {settings.data_dir} (database {settings.temporal_db.name}, outbox {settings.outbox.name}, "
            f"server log {log_path.name})\n"
            "worker running on task queue 'claims'. Ctrl-C stops everything.",
            highlight=False,
        )
        asyncio.run(_until_signalled(run_worker))
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        out.print("stopped.")


if __name__ == "__main__":
    app()
