"""The SQL read model on SQLite and a real PostgreSQL: projection after each step,
idempotent writes, list filters, and reindex from Temporal alone."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlmodel import Session, func, select

from activities.read_model import ReadModelActivities
from claimflow.claim_lists import ClaimFilter, list_claims, reindex
from claimflow.db import engine_for, migrate
from models.actions import ApproveQuote, CancelClaim, ReceiveParcel, RecordInspection
from models.claim import snapshot_of
from models.read_model import ClaimEventRow, ClaimRow, EscalationRow, NotificationRow
from tests.conftest import claims_on
from tests.test_claim_lifecycle import QUOTE


@pytest.fixture
async def read_claims(env, tmp_path, engine):
    async with claims_on(env, tmp_path, engine) as claims:
        yield claims


def row(engine, number: str) -> ClaimRow | None:
    """The claim's row (the only one with this number)."""
    with Session(engine) as session:
        rows = session.exec(select(ClaimRow).where(ClaimRow.claim_number == number)).all()
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def count(engine, table, number: str) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table).where(table.claim_number == number)).one()


async def projected(claims, engine, handle):
    """The claim's row once the projection of its latest change has landed."""
    for _ in range(300):
        await claims.settle(handle)  # deliveries done (each adds its outcome to the timeline)
        current = row(engine, handle.id)
        if current is not None and current.version == len((await claims.view(handle)).timeline):
            return current
        await asyncio.sleep(0.01)
    raise AssertionError(f"claim {handle.id} was never projected: {current}")


async def test_projection_follows_each_step(read_claims, engine, changkong, record_history):
    claims = read_claims
    h = await claims.open(changkong, bought_days_ago=200)
    r = await projected(claims, engine, h)
    view = await claims.view(h)
    assert (r.state, r.policy, r.kind, r.channel) == ("awaiting_parcel", "changkong", "repair", "return_repair")
    assert r.next_deadline_kind == "shipping" and r.next_deadline_at == view.open_deadlines[0].due_at
    assert (r.product_model, r.serial_number) == ("CK-200 controller", "SN-0042")
    assert r.version == len(view.timeline) == count(engine, ClaimEventRow, h.id)
    assert not r.overdue and r.escalation_level is None

    for action, state in [
        (ReceiveParcel(by="amy"), "inspecting"),
        (RecordInspection(by="tom", fault="quality_fault"), "awaiting_quote"),
        (QUOTE, "awaiting_approval"),
        (ApproveQuote(by="ann"), "repairing"),
    ]:
        await claims.do(h, action)
        r = await projected(claims, engine, h)
        assert r.state == state
        assert r.assignee == action.by
    view = await claims.view(h)
    assert r.remedy == "paid_repair" and r.next_deadline_kind == "repair"
    with Session(engine) as session:
        events = session.exec(select(ClaimEventRow).where(ClaimEventRow.claim_number == h.id).order_by(ClaimEventRow.seq)).all()
    assert [(e.kind, e.summary, e.by) for e in events] == [(e.kind, e.summary, e.by) for e in view.timeline]
    await record_history(h, "read_model_projection")


async def test_overdue_and_escalations_are_projected(read_claims, engine, changkong):
    claims = read_claims
    h = await claims.open(changkong, bought_days_ago=200)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    await claims.do(h, QUOTE)
    due = (await claims.view(h)).quote.valid_until
    await claims.sleep_until(due + timedelta(hours=25))
    await claims.eventually(h, lambda v: len(v.escalations) == 3)
    r = await projected(claims, engine, h)
    assert r.state == "quote_expired" and r.overdue and r.escalation_level == "supervisor"
    assert count(engine, EscalationRow, h.id) == 3
    with Session(engine) as session:
        roles = session.exec(select(NotificationRow.role).where(NotificationRow.claim_number == h.id)).all()
    assert sorted(roles) == ["agent", "customer", "customer", "customer", "supervisor"]  # RMA, quote, its reminder
    assert [c.claim_number for c in list_claims(engine, ClaimFilter(overdue=True))] == [h.id]
    assert [c.claim_number for c in list_claims(engine, ClaimFilter(escalated=True))] == [h.id]


def test_a_retried_or_late_projection_leaves_one_row(engine, changkong):
    activity = ReadModelActivities(engine)
    view = _view(changkong)
    newer = snapshot_of(view)
    older = snapshot_of(view.model_copy(update={"timeline": view.timeline[:2], "state": "opened"}))
    assert activity.project_claim(newer) is True
    assert activity.project_claim(newer) is False  # the retry: nothing changes
    assert activity.project_claim(older) is False  # late and older: ignored
    r = row(engine, view.claim_number)
    assert r.state == view.state and r.version == len(view.timeline)
    assert count(engine, ClaimEventRow, view.claim_number) == len(view.timeline)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ClaimRow)).one() == 1


def test_list_filters(engine, changkong):
    activity = ReadModelActivities(engine)
    base = _view(changkong)
    for number, state, policy, overdue in [
        ("L-1", "awaiting_parcel", "changkong", False),
        ("L-2", "awaiting_payment", "changkong", True),
        ("L-3", "remote_guidance", "konjump", False),
        ("L-4", "completed", "konjump", False),
    ]:
        view = base.model_copy(update={"claim_number": number, "state": state, "policy": policy})
        snapshot = snapshot_of(view).model_copy(update={"overdue": overdue})
        activity.project_claim(snapshot)
    numbers = lambda **f: [c.claim_number for c in list_claims(engine, ClaimFilter(**f))]  # noqa: E731
    assert numbers() == ["L-1", "L-2", "L-3", "L-4"]
    assert numbers(policy="konjump") == ["L-3", "L-4"]
    assert numbers(state="awaiting_payment") == ["L-2"]
    assert numbers(overdue=True) == ["L-2"]
    assert numbers(overdue=False, policy="changkong") == ["L-1"]
    assert numbers(escalated=True) == []


def _view(policy):
    """A realistic claim view, made without Temporal: the projection is pure data."""
    from datetime import UTC, datetime

    from models.claim import ClaimView, TimelineEntry

    at = datetime(2026, 3, 11, 2, tzinfo=UTC)
    return ClaimView(
        claim_number="RM-1", policy=policy.name, kind="repair", state="inspecting", remedy=None,
        product={"model": "CK-200", "serial_number": "SN-1"}, rma_number="RMA-RM-1", opened_at=at,
        updated_at=at + timedelta(hours=1), as_of=at + timedelta(hours=1), deadlines=[], escalations=[],
        decisions=[], allowed_actions=["record_inspection"], quote=None, payments=[],
        post_repair_warranty_until=None, repair_cycles=0, clauses={},
        timeline=[
            TimelineEntry(at=at, kind="opened", summary="repair claim opened", by="amy"),
            TimelineEntry(at=at, kind="state", summary="opened → awaiting_parcel"),
            TimelineEntry(at=at + timedelta(hours=1), kind="action", summary="parcel received", by="amy"),
        ],
    )  # fmt: skip


async def test_reindex_rebuilds_the_same_rows_from_temporal(dev_env, tmp_path, changkong, engine):
    async with claims_on(dev_env, tmp_path, engine) as claims:
        handles = [await claims.open(changkong, bought_days_ago=200) for _ in range(3)]
        await claims.do(handles[0], ReceiveParcel(by="amy"))
        await claims.do(handles[1], CancelClaim(by="amy", reason="customer changed mind"))
        for h in handles:
            await projected(claims, engine, h)
        numbers = {h.id for h in handles}

        def dump():
            with Session(engine) as session:
                rows = [r.model_dump() for r in session.exec(select(ClaimRow)) if r.claim_number in numbers]
                events = [e.model_dump() for e in session.exec(select(ClaimEventRow)) if e.claim_number in numbers]
            return sorted(rows, key=lambda r: r["claim_number"]), sorted(events, key=lambda e: (e["claim_number"], e["seq"]))

        before = dump()
        empty(engine)  # the read model was lost
        assert dump() == ([], [])
        report = await reindex(claims.client, engine, where=f'TaskQueue = "{claims.task_queue}"')
        assert report.claims == 3 and report.unreadable == []
        after = dump()
        changed = [
            (b["claim_number"], key, b[key], a[key])
            for b, a in zip(before[0], after[0])
            for key in b
            if b[key] != a[key]
        ]
        assert changed == []
        assert after == before


def empty(engine) -> None:
    with Session(engine) as session, session.begin():
        for table in (NotificationRow, EscalationRow, ClaimEventRow, ClaimRow):
            session.exec(delete(table))


def test_migrating_again_is_harmless_and_waits_for_another_migration(database_url):
    """Every worker migrates at start: a second run changes nothing, and on PostgreSQL a
    migration waits while another holds the migration lock (workers starting together)."""
    import threading
    import time

    from sqlalchemy import text

    from claimflow.db import MIGRATION_LOCK

    engine = engine_for(database_url)
    migrate(engine)
    migrate(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as holder:
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            second = threading.Thread(target=migrate, args=(engine,))
            second.start()
            time.sleep(0.3)
            assert second.is_alive()  # waiting for the lock
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            second.join(timeout=10)
            assert not second.is_alive()
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(ClaimRow)).one() == 0
    engine.dispose()


async def test_reindex_checks_where_first_and_never_drops_what_it_cannot_read(dev_env, tmp_path, changkong, engine):
    """A --where Temporal refuses stops reindex before it writes anything; a claim that
    does not answer (no worker on its task queue) keeps its rows and is reported."""
    from claimflow.claim_lists import BadQuery

    async with claims_on(dev_env, tmp_path, engine) as claims:
        h = await claims.open(changkong, bought_days_ago=200)
        await claims.do(h, ReceiveParcel(by="amy"))
        kept = await projected(claims, engine, h)
        task_queue = claims.task_queue
        await claims.settle(h)
    # the worker is gone (and the claim was terminated): it cannot answer its query any more
    with pytest.raises(BadQuery, match="is not a visibility query Temporal accepts"):
        await reindex(dev_env.client, engine, where="ClaimPolicy = = 'x'")
    report = await reindex(dev_env.client, engine, where=f'TaskQueue = "{task_queue}"',
                           query_timeout=timedelta(seconds=1))  # fmt: skip
    assert (report.claims, report.unreadable) == (0, [h.id])
    assert row(engine, h.id) == kept
    assert count(engine, ClaimEventRow, h.id) == kept.version


def test_the_sqlite_read_model_keeps_a_write_ahead_log(tmp_path):
    """Readers (web, CLI) do not wait for the worker's writes, and a commit is not an fsync."""
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()
