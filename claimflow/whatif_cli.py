"""`claims what-if --policy FILE`: which decisions of past claims a changed policy would change.

Read-only: it lists workflows and fetches histories (Temporal), reads the archive (the read
model's claim_archive), and changes nothing. The comparison itself is claimflow/whatif.py.
"""

import asyncio
import html
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from temporalio.client import Client, WorkflowHistory

from claimflow.console import InputError, cli_errors, err, out, safe
from claimflow.errors import DatabaseUnusable
from claimflow.settings import load_settings
from claimflow.temporal import connect
from claimflow.policy_files import load_policy_file
from claimflow.whatif import WhatIfReport
from claimflow.whatif import what_if as compare_under
from models.calendar import start_of_day
from workflows.names import claim_types_query

FETCH_AT_ONCE = 8


def claims_query(policy_name: str, since: datetime | None = None, where: str | None = None) -> str:
    """The visibility query of the claims opened under `policy_name` (since a moment)."""
    query = f'{claim_types_query()} AND ClaimPolicy = "{policy_name}"'
    if since is not None:
        query += f' AND StartTime >= "{since.strftime("%Y-%m-%dT%H:%M:%SZ")}"'
    return query + (f" AND ({where})" if where else "")


async def temporal_histories(client: Client, query: str) -> list[WorkflowHistory]:
    """The histories of every run the query lists, fetched a few at a time."""
    executions = [e async for e in client.list_workflows(query)]
    gate = asyncio.Semaphore(FETCH_AT_ONCE)

    async def fetch(execution) -> WorkflowHistory:
        async with gate:
            return await client.get_workflow_handle(execution.id, run_id=execution.run_id).fetch_history()

    return list(await asyncio.gather(*(fetch(e) for e in executions)))


def archive_histories(engine, since: datetime | None, leave_out: set[tuple[str, str]]) -> list[WorkflowHistory]:
    """The archived histories (of runs not in `leave_out`, started since `since`)."""
    from claimflow.archive import archived_claims

    histories = []
    for row in archived_claims(engine):
        if (row.workflow_id, row.run_id) in leave_out:
            continue
        history = WorkflowHistory.from_json(row.workflow_id, row.history_json)
        if since is not None and history.events and history.events[0].event_time.ToDatetime(timezone.utc) < since:
            continue
        histories.append(history)
    return histories


def _run_key(history: WorkflowHistory) -> tuple[str, str]:
    started = history.events[0].workflow_execution_started_event_attributes
    return history.workflow_id, started.original_execution_run_id


async def collect(client: Client | None, engine, policy_name: str, since: datetime | None, where: str | None,
                  archive_only: bool) -> list[WorkflowHistory]:  # fmt: skip
    """Histories from Temporal (unless `archive_only`) and from the archive (`engine`, when
    given): with `archive_only` the whole archive, else the runs Temporal no longer keeps."""
    histories: list[WorkflowHistory] = []
    if not archive_only:
        assert client is not None
        histories = await temporal_histories(client, claims_query(policy_name, since, where))
    if engine is not None:
        seen = {_run_key(h) for h in histories if h.events}
        histories += await asyncio.to_thread(archive_histories, engine, since, seen)
    return histories


# --- output -----------------------------------------------------------------------------


def _clauses(ids: Iterable[str]) -> str:
    return ", ".join(ids) or "-"


def print_report(report: WhatIfReport) -> None:
    examined = f"{report.claims} claim{'' if report.claims == 1 else 's'} of policy {report.policy} examined"
    if not report.changes:
        out.print(f"{examined}: no decision would change", highlight=False, markup=False)
    else:
        table = Table("claim", "decision", "day", "now", "clauses", "would be", "clauses",
                      title=f"{examined}; {len(report.changed_claims)} would change")  # fmt: skip
        table.columns[0].no_wrap = True
        for c in report.changes:
            cells = (c.claim, c.decision if c.nth == 1 else f"{c.decision} #{c.nth}", c.old.on or c.new.on or "-",
                     c.old.outcome or "(not decided)", _clauses(c.old.clause_ids), c.new.outcome or "(not decided)",
                     _clauses(c.new.clause_ids))  # fmt: skip
            table.add_row(*(escape(safe(cell)) for cell in cells))
        out.print(table)
        totals = Table("decision", "would change", title="totals")
        for kind, count in report.totals.items():
            totals.add_row(kind, str(count))
        out.print(totals)
    if report.money:
        caption = "; ".join(f"{what.replace('_', ' ')}: {amount} {currency}"
                            for currency, sums in report.money_totals.items() for what, amount in sums.items())  # fmt: skip
        money = Table("claim", "remedy now", "would be", "paid by the customer", "refunded", title="money at stake",
                      caption=caption)  # fmt: skip
        for m in report.money:
            cells = (m.claim, m.old_remedy or "-", m.new_remedy or "-", f"{m.paid} {m.currency}",
                     f"{m.refunded} {m.currency}")  # fmt: skip
            money.add_row(*(escape(safe(cell)) for cell in cells))
        out.print(money)
    for s in report.skipped:
        out.print(f"skipped {safe(s.claim)}: {safe(s.reason)}", highlight=False, markup=False)


def html_report(report: WhatIfReport) -> str:
    """One self-contained page (no external assets)."""
    e = html.escape

    def table(head: list[str], rows: list[list[str]]) -> str:
        cells = "".join(f"<th>{e(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"

    changes = [
        [c.claim, c.decision if c.nth == 1 else f"{c.decision} #{c.nth}", c.old.on or c.new.on or "-",
         c.old.outcome or "(not decided)", _clauses(c.old.clause_ids), c.old.reason,
         c.new.outcome or "(not decided)", _clauses(c.new.clause_ids), c.new.reason]
        for c in report.changes
    ]  # fmt: skip
    money = [[m.claim, m.old_remedy or "-", m.new_remedy or "-", f"{m.paid} {m.currency}", f"{m.refunded} {m.currency}"]
             for m in report.money]  # fmt: skip
    parts = [
        f"<h1>What-if: policy {e(report.policy)}</h1>",
        f"<p>{report.claims} claims examined; {len(report.changed_claims)} would change: "
        f"{e(', '.join(report.changed_claims)) or 'none'}. No claim was changed.</p>",
        "<h2>Decisions that would differ</h2>",
        table(["claim", "decision", "day", "now", "clauses", "why", "would be", "clauses", "why"], changes)
        if changes else "<p>No decision would change.</p>",
        "<h2>Totals</h2>", table(["decision", "would change"], [[k, str(v)] for k, v in report.totals.items()]),
    ]  # fmt: skip
    if money:
        parts += ["<h2>Money at stake</h2>",
                  table(["claim", "remedy now", "would be", "paid by the customer", "refunded"], money)]  # fmt: skip
    if report.skipped:
        parts += ["<h2>Skipped</h2>", table(["claim", "why"], [[s.claim, s.reason] for s in report.skipped])]
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #999;padding:.3em .6em;text-align:left;vertical-align:top}th{background:#eee}"
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>What-if: {e(report.policy)}</title>'
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


# --- the command ------------------------------------------------------------------------


def _archive_engine(required: bool):
    from claimflow.read_cli import read_only_model

    try:
        return read_only_model()
    except DatabaseUnusable:
        if required:
            raise
        return None  # no read model: Temporal's claims only


@cli_errors
def what_if(
    policy_file: Annotated[
        Path,
        typer.Option(
            "--policy", help="The changed policy file, named as its policy (changkong.toml): its name picks the claims."
        ),
    ],
    since: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Only claims opened on or after this day (YYYY-MM-DD)."),
    ] = None,
    where: Annotated[
        str | None, typer.Option(help='Only claims matching this visibility query, e.g. ClaimState = "completed".')
    ] = None,
    archive: Annotated[bool, typer.Option("--archive", help="Read the archive of closed claims only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")] = None,
) -> None:
    """Which decisions of past claims a changed policy would change (nothing is changed).

    The claims of the policy's name are read from Temporal and, for those Temporal no longer
    keeps, from the archive; their recorded inputs are decided again under their own policy
    snapshot and under FILE, and the decisions that differ are listed."""
    policy = load_policy_file(policy_file)
    if archive and where:
        raise InputError("--where filters Temporal's visibility; it cannot filter the archive (--archive)")
    from_moment = start_of_day(since.date(), policy.timezone) if since else None

    async def gather() -> list[WorkflowHistory]:
        client = None if archive else await connect(load_settings())
        engine = _archive_engine(required=archive) if archive or not where else None
        return await collect(client, engine, policy.name, from_moment, where, archive)

    report = compare_under(asyncio.run(gather()), policy)
    if html_file is not None:
        try:
            html_file.write_text(html_report(report), encoding="utf-8")
        except OSError as e:
            raise InputError(f"--html {html_file}: {e.strerror or e}") from None
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    print_report(report)
    if html_file is not None:
        err.print(f"report written to {html_file}", highlight=False, markup=False)
