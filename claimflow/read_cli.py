"""`claims list`, `reindex` and `archive`, and the read-model side of `open` and `show`."""

import asyncio
import json
from datetime import datetime, timezone
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claimflow.console import cli_errors, err, out, safe
from claimflow.errors import ClaimError, DatabaseUnusable
from claimflow.settings import load_settings
from models.enums import ClaimState

# SQLAlchemy and the modules on it are imported in the functions that use the database, so
# that the commands that do not (`claims show` of a live claim, `claims act`) start faster;
# temporalio in those that talk to Temporal (`reindex`, `archive`), so `claims list` does not.


def read_model():
    """The read model's engine (DATABASE_URL), migrated to the newest schema."""
    from claimflow.db import engine_for, migrate

    engine = engine_for(load_settings().database_url)
    migrate(engine)
    return engine


def read_only_model():
    """The read model's engine for reading only: nothing is created or migrated (see
    claimflow.db.reading_engine); for the commands that only list or show."""
    from claimflow.db import reading_engine

    return reading_engine(load_settings().database_url)

MAX_LIMIT = 10_000


def show_archived(number: str, as_json: bool, print_view) -> bool:
    """`claims show` for a claim Temporal no longer knows: its archived final view. False
    when the archive does not hold it either."""
    from claimflow.archive import archived_claims, archived_view

    try:
        rows = archived_claims(read_only_model(), number)
    except DatabaseUnusable as e:
        raise ClaimError(f"claim {number} is not in Temporal, and the archive cannot be looked in: {e}") from None
    if not rows:
        return False
    row = rows[0]
    closed = row.close_time.strftime("%Y-%m-%d %H:%M UTC")
    view = archived_view(row)
    if as_json:
        print(row.final_view_json or "null")
        return True
    out.print(
        f"{number}: from the archive, closed {closed} ({row.close_status}); Temporal no longer keeps its workflow",
        highlight=False, markup=False,
    )  # fmt: skip
    if view is None:
        out.print("its final view could not be read when it was archived; its history is archived "
                  f"(sha256 {row.history_sha256})", highlight=False, markup=False)  # fmt: skip
    else:
        print_view(view, view.as_of)
    return True


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
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="At most this many rows.")] = 500,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """List claims from the read model, the next deadline first."""
    from claimflow.claim_lists import ClaimFilter, count_claims, list_claims

    where = ClaimFilter(
        state=state.value if state else None, policy=policy, overdue=overdue or None, escalated=escalated or None
    )
    engine = read_only_model()
    rows = list_claims(engine, where, limit)
    total = count_claims(engine, where) if len(rows) == limit else len(rows)
    truncated = f"showing {len(rows)} of {total} claims; --limit to see more (at most {MAX_LIMIT})"
    if as_json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        if total > len(rows):
            err.print(truncated, highlight=False, markup=False)
        return
    now = datetime.now(timezone.utc)
    table = Table("claim", "policy", "state", "next deadline", "left", "overdue", "escalation", "last by",
                  caption=truncated if total > len(rows) else f"{len(rows)} claim{'' if len(rows) == 1 else 's'}")  # fmt: skip
    table.columns[0].no_wrap = True
    for row in rows:
        cells = (row.claim_number, row.policy, row.state, row.due_kind or "-", _left(row.due_at, now),
                 "yes" if row.overdue else "", row.escalation_level or "", row.assignee or "")  # fmt: skip
        table.add_row(*(escape(safe(cell)) for cell in cells))
    out.print(table)


@cli_errors
def reindex_command(
    keep: Annotated[bool, typer.Option("--keep", hidden=True, help="Kept for old scripts: nothing is emptied.")] = False,
    where: Annotated[
        str | None, typer.Option(help='Only claims matching this visibility query, e.g. ClaimPolicy = "konjump".')
    ] = None,
) -> None:
    """Bring the read model up to date from Temporal and the archive; never deletes a row.

    A worker must be running to answer the claims' queries; a claim that does not answer
    keeps the rows it had (and is listed)."""
    from claimflow.claim_lists import reindex
    from claimflow.temporal import connect

    engine = read_model()

    async def run():
        return await reindex(await connect(load_settings()), engine, where)

    report = asyncio.run(run())
    noun = "claim" if report.claims == 1 else "claims"
    message = f"reindexed {report.claims} {noun} from Temporal"
    if report.from_archive:
        message += f" and {report.from_archive} from the archive"
    out.print(message, highlight=False)
    if report.unreadable:
        out.print(
            f"not readable, their rows left as they were: {', '.join(report.unreadable)}", markup=False, highlight=False
        )


@cli_errors
def archive_command(
    everything: Annotated[
        bool, typer.Option("--all", help="Look at every closed claim, not only those closed since the last pass.")
    ] = False,
) -> None:
    """Archive closed claims now (history, sha256, final view) into the read-model database.

    The archive Schedule does the same every CLAIMFLOW_ARCHIVE_EVERY_MINUTES; a worker
    must be running for the final view of a claim that did not complete."""
    from claimflow.archive import archive_closed_claims
    from claimflow.temporal import connect

    engine = read_model()

    async def run():
        return await archive_closed_claims(await connect(load_settings()), engine, everything=everything)

    report = asyncio.run(run())
    out.print(
        f"archived {report.archived} closed claim{'' if report.archived == 1 else 's'} "
        f"({report.already} archived before)", highlight=False,
    )  # fmt: skip
    if report.no_view:
        out.print(f"archived without a final view (no worker answered): {', '.join(report.no_view)}", markup=False)
    if report.failed:
        out.print(f"not archived (history unreadable), tried again next pass: {', '.join(report.failed)}", markup=False)
