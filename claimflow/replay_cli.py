"""`claims replay`: replay many claim histories against today's workflow code (see
claimflow/replay.py), with a progress bar on stderr, then a table of verdicts and totals;
exit code 1 when any history does not replay cleanly."""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from claimflow.console import InputError, cli_errors, err, out, safe


def _sources(directory: Path | None, archive: bool, everything: bool, where: str | None):
    from claimflow import replay

    if sum((directory is not None, archive, everything)) != 1:
        raise InputError("give exactly one of --dir DIR, --archive or --all")
    if where is not None and not everything:
        raise InputError("--where narrows --all only")
    if directory is not None:
        if not directory.is_dir():
            raise InputError(f"--dir {directory}: not a directory")
        found = replay.from_directory(directory)
        if not found:
            raise InputError(f"--dir {directory}: no *.json histories in it")
        return found
    if archive:
        from claimflow.read_cli import read_only_model

        return replay.from_archive(read_only_model())

    async def listed():
        from claimflow.settings import load_settings
        from claimflow.temporal import connect

        return await replay.from_temporal(await connect(load_settings()), where)

    return listed


@cli_errors
def replay(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Replay every *.json history in this directory (tests/histories/).")
    ] = None,
    archive: Annotated[
        bool, typer.Option("--archive", help="Replay every history in the archive of closed claims.")
    ] = False,
    everything: Annotated[bool, typer.Option("--all", help="Replay every claim workflow Temporal lists.")] = False,
    where: Annotated[
        str | None,
        typer.Option(help='With --all: only claims matching this visibility query, e.g. ClaimPolicy = "konjump".'),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="Replay processes side by side (default: one per CPU, at most 8).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdicts as JSON.")] = False,
) -> None:
    """Replay claim histories against the current workflow code, in parallel.

    Each history gets a verdict: clean, or the non-determinism (event and detail) that a
    change to the workflow code would cause a running claim; exit code 1 if any fails."""
    from claimflow.replay import default_workers, replay_all

    sources = _sources(directory, archive, everything, where)

    async def run():
        listed = await sources() if callable(sources) else sources
        progress = Progress(
            TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err, transient=True, disable=not listed,
        )  # fmt: skip
        with progress:
            task = progress.add_task("replay", total=len(listed))
            return await replay_all(listed, workers or default_workers(), on_done=lambda _: progress.advance(task))

    verdicts = asyncio.run(run())
    failed = [v for v in verdicts if not v.clean]
    if as_json:
        print(json.dumps({"histories": [v.as_dict() for v in verdicts],
                          "total": len(verdicts), "clean": len(verdicts) - len(failed), "failed": len(failed)},
                         indent=2))  # fmt: skip
    else:
        _print_table(verdicts, failed)
    if failed:
        raise typer.Exit(1)


def _print_table(verdicts, failed) -> None:
    if not verdicts:
        out.print("no histories to replay", highlight=False)
        return
    table = Table("history", "workflow type", "events", Column("verdict", min_width=16, overflow="fold"))
    table.columns[0].no_wrap = table.columns[1].no_wrap = True
    for v in verdicts:
        style = "green" if v.clean else "red"
        cells = (escape(safe(v.history)), escape(safe(v.workflow_type)), str(v.events),
                 f"[{style}]{escape(safe(v.describe()))}[/{style}]")  # fmt: skip
        table.add_row(*cells)
    out.print(table)
    out.print(
        f"{len(verdicts)} histor{'y' if len(verdicts) == 1 else 'ies'}: {len(verdicts) - len(failed)} clean, "
        f"{len(failed)} failed", highlight=False,
    )  # fmt: skip
