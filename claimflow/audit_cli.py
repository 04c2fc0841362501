"""`claims audit CLAIM [--json] [--html FILE]`: see claimflow/audit.py."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claimflow.claims import ClaimError
from claimflow.console import cli_errors, err, out, safe
from claimflow.errors import DatabaseUnusable
from claimflow.settings import load_settings
from claimflow.temporal import TemporalUnreachable, connect

if TYPE_CHECKING:  # claimflow.audit (SQLAlchemy, the Replayer) is imported when a claim is audited
    from claimflow.audit import Audit


def _engine():
    from claimflow.db import reading_engine

    try:
        return reading_engine(load_settings().database_url)
    except DatabaseUnusable:
        return None


async def _audit(number: str) -> Audit:
    from claimflow.audit import AuditError, audit_claim

    engine = _engine()
    try:
        client = await connect(load_settings())
    except TemporalUnreachable as e:
        if engine is None:
            raise
        err.print(f"Temporal not reachable ({safe(e)}): auditing from the archive", highlight=False, markup=False)
        client = None
    try:
        return await audit_claim(client, engine, number)
    except AuditError as e:
        raise ClaimError(str(e)) from None


@cli_errors
def audit(
    claim: Annotated[str, typer.Argument(help="Claim number.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the audit as one JSON object.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write the audit as one self-contained HTML page.")] = None,
) -> None:
    """Audit a claim: replay its recorded history (from Temporal, or from the archive once
    retention removed it) against the current code, its decision trail with the clauses'
    texts and a recomputation of each decision, the human timeline, a clock ledger per
    deadline, and sha256 of the history and policy snapshot. Exit 1 when the replay or the
    recomputation fails."""
    result = asyncio.run(_audit(claim.strip().upper()))
    if html is not None:
        from claimflow.audit_html import audit_html

        html.write_text(audit_html(result), encoding="utf-8")
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_audit(result)
        if html is not None:
            out.print(f"HTML report written to {safe(html)}", highlight=False, markup=False)
    if not result.ok:
        raise typer.Exit(1)


def _t(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _s(text: object) -> str:
    return escape(safe(text))


def print_audit(a: Audit) -> None:
    out.print(
        f"[bold]Audit of claim {_s(a.claim_number)}[/bold] — policy {_s(a.policy)}, {_s(a.workflow_type)}, "
        f"state {_s(a.state)}, from {a.source}, {len(a.integrity.runs)} run(s); times in UTC",
        highlight=False,
    )
    colour = "green" if a.verdict.clean else "red"
    out.print(f"verdict: [{colour}]{_s(a.verdict.text)}[/{colour}]", highlight=False)
    mismatches = sum(1 for r in a.recomputation if r.status == "mismatch")
    matched = sum(1 for r in a.recomputation if r.status == "match")
    colour = "green" if not mismatches else "red"
    out.print(f"recomputation: [{colour}]{matched} match, {mismatches} mismatch[/{colour}]", highlight=False)

    trail = Table("#", "time", "decision", "outcome", "reason, inputs, clauses", title="Decision trail")
    for i, d in enumerate(a.trail):
        inputs = ", ".join(f"{k}={v}" for k, v in d.inputs.items())
        clauses = "\n".join(f"[bold]{_s(cid)}[/bold]: {_s(text)}" for cid, text in d.clauses.items())
        trail.add_row(str(i), _t(d.at), _s(d.what), _s(d.outcome),
                      "\n".join(p for p in (_s(d.reason), f"[dim]{_s(inputs)}[/dim]" if inputs else "", clauses) if p))  # fmt: skip
    out.print(trail)

    checks = Table("#", "decision", "result", "recorded", "recomputed", "note", title="Recomputation check")
    for r in a.recomputation:
        style = {"match": "green", "mismatch": "red"}.get(r.status, "dim")
        recomputed = f"{r.recomputed_outcome} [{', '.join(r.recomputed_clause_ids or [])}]" if r.recomputed_outcome is not None else ""
        checks.add_row(str(r.index), _s(r.what), f"[{style}]{r.status}[/{style}]",
                       _s(f"{r.recorded_outcome} [{', '.join(r.recorded_clause_ids)}]"), _s(recomputed), _s(r.note))  # fmt: skip
    out.print(checks)

    for ledger in a.ledger:
        table = Table("time", "event", "detail", "by",
                      title=f"Clock {ledger.kind} #{ledger.cycle}: {ledger.status}; started {_t(ledger.started_at)}, "
                      f"due {_t(ledger.due_at)} [{', '.join(ledger.clause_ids)}]")  # fmt: skip
        for e in ledger.entries:
            table.add_row(_t(e.at), _s(e.event), _s(e.detail), _s(e.by or ""))
        out.print(table)

    timeline = Table("time", "kind", "by", "what", title="Timeline" + ("" if a.timeline_complete else " (newest entries only)"))
    for e in a.timeline:
        timeline.add_row(_t(e.at), e.kind, _s(e.by or ""), _s(e.summary))
    out.print(timeline)
    if a.refused:
        refused = Table("time", "by", "action", "reason", title="Refused attempts")
        for r in a.refused:
            refused.add_row(_t(r.at), _s(r.by), _s(r.action), _s(r.reason))
        out.print(refused)
    else:
        out.print("refused attempts: " + (_s(a.refused_note) or "none recorded"), highlight=False)
    if a.notifications:
        sent = Table("time", "kind", "what", title="Notifications and delivery")
        for e in a.notifications:
            sent.add_row(_t(e.at), e.kind, _s(e.summary))
        out.print(sent)

    out.print("[bold]Integrity[/bold]", highlight=False)
    out.print(f"  history sha256 {a.integrity.history_sha256} (as stored; canonical JSON: "
              f"{a.integrity.history_canonical_sha256})", highlight=False, markup=False)  # fmt: skip
    out.print(f"  policy snapshot sha256 {a.integrity.policy_sha256 or 'none'}", highlight=False, markup=False)
    out.print(f"  replayed by {a.integrity.code_version}", highlight=False, markup=False)
    for run in a.integrity.runs:
        archived = run["archive_sha256_matches"]
        note = "" if archived is None else ("; archive's sha256 matches" if archived else "; archive's sha256 DOES NOT MATCH")
        out.print(f"  run {run['run_id']}: {run['workflow_type']}, {run['events']} events, sha256 {run['sha256']} (canonical {run['canonical_sha256']}){note}",
                  highlight=False, markup=False)  # fmt: skip
