"""Read-model writes on SQLite and PostgreSQL: rows keyed by the claim's first run id,
a real compare-and-set on the claim row under concurrent writers, bulk timeline inserts
that skip existing keys, and the 0002 migration of rows keyed by claim number."""

import random
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text
from sqlmodel.sql.sqltypes import UTCDateTime
from sqlmodel import Session, func, select

from claimflow.claim_lists import list_claims
from claimflow.db import engine_for, migrate
from claimflow.projection import apply_snapshot
from models.claim import ClaimSnapshot, ClaimView, TimelineEntry, snapshot_of
from models.read_model import ClaimEventRow, ClaimRow

AT = datetime(2026, 3, 11, 2, tzinfo=UTC)


def view(number: str = "K-1", entries: int = 3, opened_at: datetime = AT) -> ClaimView:
    """A claim view whose timeline has `entries` entries (its snapshot's version)."""
    timeline = [
        TimelineEntry(at=opened_at + timedelta(minutes=i), kind="action", summary=f"step {i}", by=f"agent{i}")
        for i in range(entries)
    ]
    return ClaimView(
        claim_number=number, policy="changkong", kind="repair", state="inspecting", remedy=None,
        product={"model": "CK-200", "serial_number": "SN-1"}, rma_number=None, opened_at=opened_at,
        updated_at=timeline[-1].at, as_of=timeline[-1].at, deadlines=[], escalations=[], decisions=[],
        allowed_actions=[], quote=None, payments=[], post_repair_warranty_until=None, repair_cycles=0, clauses={},
        timeline=timeline,
    )  # fmt: skip


def snapshot(run_id: str | None, entries: int, number: str = "K-1", opened_at: datetime = AT) -> ClaimSnapshot:
    return snapshot_of(view(number, entries, opened_at)).model_copy(update={"run_id": run_id})


def write(engine, snap: ClaimSnapshot) -> bool:
    with Session(engine) as session, session.begin():
        return apply_snapshot(session, snap)


def rows(engine, number: str = "K-1") -> list[ClaimRow]:
    with Session(engine) as session:
        return list(session.exec(select(ClaimRow).where(ClaimRow.claim_number == number).order_by(ClaimRow.opened_at)))


def events(engine, key: str) -> list[ClaimEventRow]:
    with Session(engine) as session:
        return list(session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_key == key).order_by(ClaimEventRow.seq)))


def test_rows_are_keyed_by_the_first_run_id(engine):
    assert write(engine, snapshot("run-a", 3))
    assert not write(engine, snapshot("run-a", 3))  # the retry
    assert not write(engine, snapshot("run-a", 2))  # late and older
    assert write(engine, snapshot("run-a", 5))
    [row] = rows(engine)
    assert (row.claim_key, row.claim_number, row.version, row.assignee) == ("run-a", "K-1", 5, "agent4")
    assert [e.seq for e in events(engine, "run-a")] == [0, 1, 2, 3, 4]


def test_a_reused_claim_number_gets_rows_of_its_own(engine):
    """The old workflow was deleted and the number opened again: a new run id, a new row,
    and the old claim's row and timeline stay as they were."""
    write(engine, snapshot("run-old", 7))
    write(engine, snapshot("run-new", 2, opened_at=AT + timedelta(days=800)))
    old, new = rows(engine)
    assert (old.claim_key, old.version, new.claim_key, new.version) == ("run-old", 7, "run-new", 2)
    assert len(events(engine, "run-old")) == 7 and len(events(engine, "run-new")) == 2
    assert [(c.claim_number, c.claim_key) for c in list_claims(engine)] == [("K-1", "run-old"), ("K-1", "run-new")]


def test_a_first_engine_claim_keeps_one_row_whoever_knows_its_run_id(engine):
    """The first engine's snapshots carry no run id (key: the claim number); reindex knows
    the run id and re-keys that row; the engine's next snapshot finds the re-keyed row."""
    write(engine, snapshot(None, 2))
    assert [r.claim_key for r in rows(engine)] == ["K-1"]
    write(engine, snapshot("run-v1", 3))  # reindex
    assert [(r.claim_key, r.version) for r in rows(engine)] == [("run-v1", 3)]
    assert [e.seq for e in events(engine, "run-v1")] == [0, 1, 2] and events(engine, "K-1") == []
    write(engine, snapshot(None, 4))  # the workflow again
    assert [(r.claim_key, r.version) for r in rows(engine)] == [("run-v1", 4)]
    # another claim under the same number, opened later: not merged
    write(engine, snapshot(None, 1, opened_at=AT + timedelta(days=900)))
    assert [(r.claim_key, r.version) for r in rows(engine)] == [("run-v1", 4), ("K-1", 1)]


def test_concurrent_writers_of_different_versions_leave_the_newest(engine):
    """Many threads write versions 1..N of one claim at once, in a shuffled order: the row
    ends at N (its fields from N), with N timeline rows, every round."""
    versions = 24
    for round_ in range(4):
        run_id = f"run-{round_}"
        snaps = [snapshot(run_id, n, number=f"C-{round_}") for n in range(1, versions + 1)]
        random.Random(round_).shuffle(snaps)
        start = threading.Barrier(len(snaps))
        failures: list[BaseException] = []

        def writer(snap: ClaimSnapshot) -> None:
            try:
                start.wait()
                write(engine, snap)
            except BaseException as err:  # noqa: BLE001 - reported below
                failures.append(err)

        threads = [threading.Thread(target=writer, args=(s,)) for s in snaps]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert failures == []
        [row] = rows(engine, f"C-{round_}")
        assert (row.version, row.last_action, row.assignee) == (versions, f"step {versions - 1}", f"agent{versions - 1}")
        assert [e.seq for e in events(engine, run_id)] == list(range(versions))


def typed(sql: str):
    """`sql` with :at bound as the models bind it (as 0001's code wrote it)."""
    return text(sql).bindparams(bindparam("at", type_=UTCDateTime()))


def test_migration_0002_keeps_rows_keyed_by_claim_number(database_url):
    """Rows written under 0001 (keyed by claim number) survive 0002 with that key, with their
    timeline; notifications already there count as delivered; a snapshot of the same claim
    with a run id re-keys its row instead of adding a second one."""
    engine = engine_for(database_url)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            typed(
                "INSERT INTO claims (claim_number, policy, kind, state, channel, opened_at, updated_at, overdue, version)"
                " VALUES ('K-1', 'changkong', 'repair', 'inspecting', 'return_repair', :at, :at, false, 2)"
            ),
            {"at": AT},
        )
        for seq in range(2):
            conn.execute(
                typed("INSERT INTO claim_events (claim_number, seq, at, kind, summary) VALUES ('K-1', :s, :at, 'action', 'x')"),
                {"s": seq, "at": AT},
            )
        conn.execute(
            typed("INSERT INTO notifications (key, claim_number, role, level, subject, at) "
                 "VALUES ('K-1/shipping#1/0', 'K-1', 'agent', 'reminder', 's', :at)"),  # fmt: skip
            {"at": AT},
        )
    migrate(engine)
    [row] = rows(engine)
    assert (row.claim_key, row.version) == ("K-1", 2)
    assert [e.seq for e in events(engine, "K-1")] == [0, 1]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT delivered_at FROM notifications")).scalar_one() is not None
    write(engine, snapshot("run-a", 3))
    assert [(r.claim_key, r.version) for r in rows(engine)] == [("run-a", 3)]
    assert [e.seq for e in events(engine, "run-a")] == [0, 1, 2]
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ClaimEventRow)).one() == 3
    engine.dispose()
