"""`claims list` and `claims reindex`: the read model from the command line."""

import asyncio
import json
from datetime import datetime, timezone
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claimflow.claim_lists import ClaimFilter, list_claims, reindex, wipe
from claimflow.console import cli_errors, out
from claimflow.db import engine_for, migrate
from claimflow.settings import load_settings
from claimflow.temporal import connect
from models.enums import ClaimState


def _engine():
    engine = engine_for(load_settings().database_url)
    migrate(engine)
    return engine


def _left(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    hours = int((moment - now).total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 0 else f"{hours}h"


@cli_errors
def list_command(
    state: Annotated[ClaimState | None, typer.Option(help="Only claims in this state.")] = None,
    policy: Annotated[str | None, typer.Option(help="Only claims under this policy.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only claims with a deadline passed.")] = False,
    escalated: Annotated[bool, typer.Option("--escalated", help="Only claims whose escalation is open.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """List claims from the read model, the next deadline first."""
    where = ClaimFilter(
        state=state.value if state else None, policy=policy, overdue=overdue or None, escalated=escalated or None
    )
    rows = list_claims(_engine(), where, limit)
    if as_json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    now = datetime.now(timezone.utc)
    table = Table("claim", "policy", "state", "next deadline", "left", "overdue", "escalation", "last by",
                  caption=f"{len(rows)} claim{'' if len(rows) == 1 else 's'}")  # fmt: skip
    table.columns[0].no_wrap = True
    for row in rows:
        table.add_row(
            row.claim_number, row.policy, row.state, row.next_deadline_kind or "-", _left(row.next_deadline_at, now),
            "yes" if row.overdue else "", row.escalation_level or "", escape(row.assignee or ""),
        )  # fmt: skip
    out.print(table)


@cli_errors
def reindex_command(
    keep: Annotated[bool, typer.Option("--keep", help="Do not empty the read model first.")] = False,
    where: Annotated[
        str | None, typer.Option(help='Only claims matching this visibility query, e.g. ClaimPolicy = "konjump".')
    ] = None,
) -> None:
    """Rebuild the read model from Temporal alone (a worker must be running to answer queries)."""
    engine = _engine()

    async def run():
        return await reindex(await connect(load_settings()), engine, where)

    if not keep:
        wipe(engine)
    report = asyncio.run(run())
    out.print(f"reindexed {report.claims} claims from Temporal", highlight=False)
    if report.unreadable:
        out.print(f"not answering (no worker, or failed before opening): {', '.join(report.unreadable)}", markup=False)
