"""Projection writes: claims per second through `claimflow.projection.apply_snapshot`, on
SQLite (a temp file) and on PostgreSQL, against the old per-row `Session.merge` of the
timeline measured in the same run.

    python -m bench.projection [--claims 300] [--entries 30] [--rounds 3] [--postgres URL | --no-postgres]

Two workloads, each claim in transactions of its own as the worker's projection writes it:
* lifecycle: a claim's life as the worker projects it, one snapshot per action (the
  opening with 3 timeline entries, then 9 actions adding 3 each: 10 snapshots, 30 rows);
* reindex: one snapshot with the whole timeline (`--entries` rows) per claim, then the
  same snapshot again (every row there already; the compare-and-set refuses it).
The baseline is `merge_apply_snapshot` below: the same compare-and-set on the claim row,
then each timeline entry and escalation through `Session.merge` (a SELECT, then an INSERT,
per row), as apply_snapshot wrote them before. Rounds alternate baseline and bulk, each on
fresh claims; the figure is the median round. Both must leave the same rows: checked.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from bench.list_latency import postgres
from claimflow.db import engine_for, migrate
from claimflow.projection import CLAIMS, apply_snapshot, write_claim_row
from models.claim import ClaimSnapshot, ClaimView, TimelineEntry, snapshot_of
from models.read_model import ClaimEventRow, EscalationRow

AT = datetime(2026, 3, 11, 2, tzinfo=UTC)
Apply = Callable[[Session, ClaimSnapshot], bool]


def merge_apply_snapshot(session: Session, snapshot: ClaimSnapshot) -> bool:
    """The baseline: apply_snapshot with the timeline and escalations merged row by row."""
    key = write_claim_row(session, snapshot)
    if key is None:
        return False
    number = snapshot.claim_number
    for seq, e in enumerate(snapshot.events, start=snapshot.events_from):
        session.merge(ClaimEventRow(claim_key=key, seq=seq, claim_number=number, at=e.at, kind=e.kind,
                                    summary=e.summary, by=e.by))  # fmt: skip
    for e in snapshot.escalations:
        session.merge(EscalationRow(claim_key=key, deadline=e.deadline.value, cycle=e.cycle, step=e.step,
                                    extension=e.extension, claim_number=number, level=e.level.value,
                                    notify=e.notify, at=e.at))  # fmt: skip
    return True


def view(number: str, entries: int) -> ClaimView:
    timeline = [
        TimelineEntry(at=AT + timedelta(minutes=i), kind="action", summary=f"step {i} of claim {number}", by=f"agent{i % 7}")
        for i in range(entries)
    ]
    return ClaimView(
        claim_number=number, policy="changkong", kind="repair", state="inspecting", remedy=None,
        product={"model": "CK-200", "serial_number": f"SN-{number}"}, rma_number=None, opened_at=AT,
        updated_at=timeline[-1].at, as_of=timeline[-1].at, deadlines=[], escalations=[], decisions=[],
        allowed_actions=[], quote=None, payments=[], post_repair_warranty_until=None, repair_cycles=0, clauses={},
        timeline=timeline,
    )  # fmt: skip


def lifecycle(number: str, entries: int) -> list[ClaimSnapshot]:
    """One snapshot per action: the opening (3 entries), then 3 more entries per action."""
    full = view(number, entries)
    ends = list(range(3, entries + 1, 3)) or [entries]
    return [snapshot_of(full.model_copy(update={"timeline": full.timeline[:end]}), events_from=start, run_id=number)
            for start, end in zip([0, *ends], ends)]  # fmt: skip


def reindex(number: str, entries: int) -> list[ClaimSnapshot]:
    """The whole timeline at once, then the same snapshot again (a retry: nothing to write)."""
    whole = snapshot_of(view(number, entries), run_id=number)
    return [whole, whole]


def project(engine: Engine, apply: Apply, claims: list[list[ClaimSnapshot]]) -> float:
    """Claims per second: every snapshot of every claim, each in a transaction of its own."""
    started = time.perf_counter()
    for snapshots in claims:
        for snapshot in snapshots:
            with Session(engine) as session, session.begin():
                apply(session, snapshot)
    return len(claims) / (time.perf_counter() - started)


def rows_of(engine: Engine, prefix: str) -> tuple[int, int]:
    with Session(engine) as session:
        events = session.execute(select(func.count()).select_from(ClaimEventRow)
                                 .where(ClaimEventRow.claim_key.like(f"{prefix}%"))).scalar_one()  # fmt: skip
        claims = session.execute(select(func.count()).select_from(CLAIMS)
                                 .where(CLAIMS.c.claim_key.like(f"{prefix}%"))).scalar_one()  # fmt: skip
    return claims, events


def measure(label: str, url: str, n: int, entries: int, rounds: int) -> None:
    engine = engine_for(url)
    migrate(engine)
    print(f"\n{label}: {n} claims per round, {entries} timeline entries per claim, median of {rounds} rounds")
    print(f"{'workload':<10} {'merge per row':>14} {'bulk insert':>12} {'ratio':>7}")
    for name, snapshots_of in (("lifecycle", lifecycle), ("reindex", reindex)):
        project(engine, apply_snapshot, [snapshots_of(f"warm-{name}-{i}", entries) for i in range(20)])  # warm-up
        rates: dict[str, list[float]] = {"merge": [], "bulk": []}
        for r in range(rounds):
            for kind, apply in (("merge", merge_apply_snapshot), ("bulk", apply_snapshot)):
                prefix = f"{name}-{kind}-{r}-"
                rates[kind].append(project(engine, apply, [snapshots_of(f"{prefix}{i}", entries) for i in range(n)]))
                written = rows_of(engine, prefix)
                assert written == (n, n * entries), f"{kind} wrote {written}, not {(n, n * entries)}"
        merge, bulk = statistics.median(rates["merge"]), statistics.median(rates["bulk"])
        print(f"{name:<10} {merge:>10.0f} c/s {bulk:>8.0f} c/s {bulk / merge:>6.2f}x")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=300, help="claims per round and workload (default 300)")
    parser.add_argument("--entries", type=int, default=30, help="timeline entries per claim (default 30)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (default 3)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to create (and drop) a database on")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"projection writes; Python {sys.version.split()[0]}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/claims.db", args.claims, args.entries, args.rounds)
        with postgres(args.postgres, not args.no_postgres) as url:
            if url:
                measure("PostgreSQL", url, args.claims, args.entries, args.rounds)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
