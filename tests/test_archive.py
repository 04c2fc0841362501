"""The archive of closed claims on a real dev server of its own: one archiving pass stores
each closed claim's history (sha256) and final view once, the histories replay, the
Schedule runs the ArchiverWorkflow, and a claim Temporal no longer has is still shown,
listed, reindexed, and its number refused by `claims open`."""

import asyncio
import hashlib
import json
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from typer.testing import CliRunner

import worker
from claimflow.archive import (
    ARCHIVE_SCHEDULE_ID,
    archive_closed_claims,
    archived_claims,
    archived_view,
    ensure_archive_schedule,
    verify,
)
from claimflow.binaries import in_memory_dev_server
from claimflow.claim_lists import list_claims, reindex
from claimflow.claims import claim_input, open_claim
from claimflow.db import engine_for, migrate
from models.actions import CancelClaim, ReceiveParcel
from models.read_model import ClaimArchiveRow, ClaimRow
from starter import app
from tests.conftest import claims_on, intake


@pytest.fixture
async def server():
    """A dev server of this test's own: an archiving pass sees only this test's claims."""
    async with await in_memory_dev_server() as env:
        yield env


@pytest.fixture
def engine(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    migrate(engine)
    yield engine
    engine.dispose()


async def closed(handle) -> None:
    for _ in range(200):
        if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} did not close")


async def until_listed(client, query: str, count: int) -> None:
    """Visibility is eventually consistent: wait until `query` finds `count` workflows."""
    for _ in range(200):
        if (await client.count_workflows(query)).count == count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"visibility never showed {count} for {query}")


async def replays(row: ClaimArchiveRow) -> None:
    replayer = Replayer(
        workflows=worker.WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=worker.SANDBOX
    )
    await replayer.replay_workflow(WorkflowHistory.from_json(row.workflow_id, row.history_json))


async def test_a_pass_archives_each_closed_claim_once_and_its_history_replays(server, engine, tmp_path, changkong):
    async with claims_on(server, tmp_path, engine) as claims:
        cancelled, terminated, running = [await claims.open(changkong, bought_days_ago=200) for _ in range(3)]
        await claims.do(cancelled, CancelClaim(by="amy", reason="customer changed mind"))
        await claims.do(terminated, ReceiveParcel(by="amy"))
        await claims.settle(terminated)
        await terminated.terminate(reason="opened by mistake")
        await closed(cancelled)
        await until_listed(server.client, 'ExecutionStatus != "Running"', 2)

        report = await archive_closed_claims(server.client, engine)
        assert (report.archived, report.already, report.failed, report.no_view) == (2, 0, [], [])
        rows = {row.workflow_id: row for row in archived_claims(engine)}
        assert set(rows) == {cancelled.id, terminated.id}  # not the running one

        done = rows[cancelled.id]
        assert (done.close_status, done.workflow_type, done.claim_number) == ("completed", "Claim", cancelled.id)
        assert done.run_id == (await cancelled.describe()).run_id == done.first_run_id
        assert archived_view(done) == await cancelled.result()  # the result is the final view
        assert archived_view(done).state == "cancelled"
        killed = rows[terminated.id]
        assert killed.close_status == "terminated" and archived_view(killed).state == "inspecting"  # the view query
        with Session(engine) as session:  # the read model no longer shows it as a live claim
            row = session.exec(select(ClaimRow).where(ClaimRow.claim_number == terminated.id)).one()
        assert (row.state, row.next_deadline_at) == ("cancelled", None)
        assert row.last_action.startswith("terminated outside claimflow by ") and "opened by mistake" in row.last_action
        for row in rows.values():
            assert row.history_sha256 == hashlib.sha256(row.history_json.encode()).hexdigest() and verify(row)
            history = await server.client.get_workflow_handle(row.workflow_id).fetch_history()
            assert json.loads(row.history_json) == json.loads(history.to_json())
            assert row.close_time == (await server.client.get_workflow_handle(row.workflow_id).describe()).close_time
            await replays(row)

        again = await archive_closed_claims(server.client, engine, everything=True)
        assert (again.archived, again.already) == (0, 2)
        since_last = await archive_closed_claims(server.client, engine)  # CloseTime > the last pass, less the lag
        assert (since_last.archived, since_last.already, since_last.failed) == (0, 2, [])
        await claims.settle(running)
        await running.terminate("duplicate")
        await until_listed(server.client, 'ExecutionStatus != "Running"', 3)
        assert (await archive_closed_claims(server.client, engine)).archived == 1
        with Session(engine) as session:
            assert len(session.exec(select(ClaimArchiveRow)).all()) == 3


async def test_a_tampered_history_does_not_verify(server, engine, tmp_path, changkong):
    async with claims_on(server, tmp_path, engine) as claims:
        h = await claims.open(changkong, bought_days_ago=200)
        await claims.do(h, CancelClaim(by="amy", reason="withdrawn"))
        await closed(h)
        await until_listed(server.client, 'ExecutionStatus != "Running"', 1)
        await archive_closed_claims(server.client, engine)
    [row] = archived_claims(engine)
    assert verify(row)
    assert not verify(row.model_copy(update={"history_json": row.history_json.replace("\"eventId\": \"2\"", "\"eventId\": \"3\"", 1)}))


async def test_the_schedule_runs_the_archiver_workflow(server, engine, tmp_path, changkong):
    async with claims_on(server, tmp_path, engine) as claims:
        h = await claims.open(changkong, bought_days_ago=200)
        await claims.do(h, CancelClaim(by="amy", reason="withdrawn"))
        await closed(h)
        await until_listed(server.client, 'ExecutionStatus != "Running"', 1)
        assert await ensure_archive_schedule(server.client, timedelta(minutes=10), claims.task_queue) == "created"
        assert await ensure_archive_schedule(server.client, timedelta(minutes=3), claims.task_queue) == "updated"
        schedule = server.client.get_schedule_handle(ARCHIVE_SCHEDULE_ID)
        described = await schedule.describe()
        assert [i.every for i in described.schedule.spec.intervals] == [timedelta(minutes=3)]
        assert described.schedule.action.workflow == "ClaimArchiver"
        await schedule.trigger()
        for _ in range(200):
            if archived_claims(engine):
                break
            await asyncio.sleep(0.05)
        [row] = archived_claims(engine)
        assert row.workflow_id == h.id and archived_view(row).state == "cancelled"
        await schedule.delete()


async def test_a_claim_temporal_no_longer_has(server, engine, tmp_path, changkong, monkeypatch):
    """Archived, then gone from Temporal (as after retention: here, a new server): `claims show`
    shows it from the archive, `claims open` refuses its number, reindex keeps it; reused
    anyway (started directly), the number lists two claims."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", server.client.service_client.config.target_host)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))  # DATABASE_URL: tmp_path/claims.db = engine
    cli = lambda *args: asyncio.to_thread(CliRunner().invoke, app, list(args))  # noqa: E731
    async with claims_on(server, tmp_path, engine) as claims:
        old = await claims.open(changkong, bought_days_ago=200)
        number = old.id
        await claims.do(old, CancelClaim(by="amy", reason="withdrawn"))
        await closed(old)
        await until_listed(server.client, 'ExecutionStatus != "Running"', 1)
        archived = await cli("archive")
        assert archived.exit_code == 0 and "archived 1 closed claim (0 archived before)" in archived.output, archived.output
        today = await claims.today(changkong)

    async with await in_memory_dev_server() as later, claims_on(later, tmp_path, engine) as claims:
        monkeypatch.setenv("TEMPORAL_ADDRESS", later.client.service_client.config.target_host)
        shown = await cli("show", number)
        assert shown.exit_code == 0, shown.output
        close_time = archived_claims(engine)[0].close_time.strftime("%Y-%m-%d %H:%M UTC")
        assert f"{number}: from the archive, closed {close_time} (completed)" in shown.output
        assert "state cancelled" in shown.output and "claim cancelled: withdrawn" in shown.output
        as_json = await cli("show", number, "--json")
        assert json.loads(as_json.output)["state"] == "cancelled"
        missing = await cli("show", "NEVER-1")
        assert missing.exit_code == 1 and "not found" in missing.output

        args = ["open", "--number", number, "--policy", "changkong", "--customer", "Li", "--contact", "li@example.com",
                "--model", "CK-200", "--serial", "SN-1", "--fault", "no power", "--by", "amy",
                "--purchased", str(today - timedelta(days=200)), "--received", str(today - timedelta(days=198))]  # fmt: skip
        refused = await cli(*args)
        assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1, refused.output
        assert f"error: claim {number} already exists (in the archive of closed claims)" in refused.output

        # reindex: Temporal does not have it, the archive does: its row is upserted from there
        with Session(engine) as session:
            session.delete(session.get(ClaimRow, archived_claims(engine)[0].first_run_id))
            session.commit()
        report = await reindex(later.client, engine)
        assert (report.claims, report.from_archive, report.unreadable) == (0, 1, [])
        assert [(r.claim_number, r.state) for r in list_claims(engine)] == [(number, "cancelled")]

        # the number reused behind the CLI's back: a claim of its own, both listed, reindex keeps both
        claim = claim_input(intake(changkong, today, 200, claim_number=number), changkong, today)
        claims.opened.append(await open_claim(later.client, claim, claims.task_queue))
        for _ in range(200):
            if len(list_claims(engine)) == 2:
                break
            await asyncio.sleep(0.05)
        assert sorted((r.claim_number, r.state) for r in list_claims(engine)) == [
            (number, "awaiting_parcel"), (number, "cancelled")
        ]  # fmt: skip
        await until_listed(later.client, f'WorkflowId = "{number}"', 1)
        report = await reindex(later.client, engine)
        assert (report.claims, report.from_archive, report.unreadable) == (1, 1, [])
        listed = await cli("list")
        assert listed.output.count(number) == 2 and "2 claims" in listed.output
