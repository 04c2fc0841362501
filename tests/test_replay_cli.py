"""`claims replay`: the recorded corpus replays clean through the command (CI runs it), a
tampered history is named with its non-determinism and fails the run, and the archive and
Temporal are sources as well as a directory."""

import asyncio
import base64
import hashlib
import json
import shutil
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from claimflow.claims import claim_input, open_claim
from claimflow.db import engine_for, migrate
from claimflow.replay import NONDETERMINISM, UNREADABLE
from models.read_model import ClaimArchiveRow
from starter import app
from claimflow.settings import REPO_ROOT
from tests.conftest import HISTORIES, intake
from tests.test_archive import until_listed
from worker import build_worker

CORPUS = sorted(HISTORIES.glob("*.json"))


def claims(*args: str):
    return CliRunner().invoke(app, list(args), terminal_width=400)


def replayed(result) -> dict[str, dict]:
    assert result.stdout, result.output
    report = json.loads(result.stdout)
    return {row["history"]: row for row in report["histories"]}


def tampered(directory: Path, name: str = "claim-free_repair") -> Path:
    """A copy of a recorded history whose first local activity (the read-model projection)
    is renamed: today's code schedules `project_claim` where the history says otherwise."""
    history = json.loads((HISTORIES / f"{name}.json").read_text())
    for event in history["events"]:
        marker = event.get("markerRecordedEventAttributes")
        if marker:
            data = marker["details"]["data"]["payloads"][0]
            details = json.loads(base64.b64decode(data["data"]))
            assert details["activity_type"] == "project_claim"
            details["activity_type"] = "project_claim_renamed"
            data["data"] = base64.b64encode(json.dumps(details).encode()).decode()
            break
    path = directory / f"{name}-tampered.json"
    path.write_text(json.dumps(history))
    return path


def test_the_recorded_corpus_replays_clean_one_row_per_file():
    result = claims("replay", "--dir", str(HISTORIES), "--json")
    assert result.exit_code == 0, result.output
    rows = replayed(result)
    assert sorted(rows) == [path.stem for path in CORPUS]
    assert all(row["verdict"] == "clean" and row["event_id"] is None for row in rows.values())
    assert {rows[path.stem]["workflow_type"] for path in CORPUS} == {"Claim", "ClaimWorkflow", "Complaint"}
    assert all(row["events"] > 0 for row in rows.values())
    assert json.loads(result.stdout)["failed"] == 0


def test_the_table_has_a_clean_row_per_file_and_totals():
    result = claims("replay", "--dir", str(HISTORIES), "--workers", "1")  # in this process, no pool
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    for path in CORPUS:
        [row] = [line for line in lines if f" {path.stem} " in line]
        assert "clean" in row
    assert f"{len(CORPUS)} histories: {len(CORPUS)} clean, 0 failed" in result.stdout


def test_a_tampered_history_is_named_with_its_non_determinism_and_fails_the_run(tmp_path):
    for path in CORPUS:
        shutil.copy(path, tmp_path)
    tampered(tmp_path)
    (tmp_path / "not-a-history.json").write_text("{not json")

    result = claims("replay", "--dir", str(tmp_path), "--json", "--workers", "2")  # in two processes
    assert result.exit_code == 1
    rows = replayed(result)
    assert {name for name, row in rows.items() if row["verdict"] == "clean"} == {path.stem for path in CORPUS}
    bad = rows["claim-free_repair-tampered"]
    assert (bad["verdict"], bad["event_id"]) == (NONDETERMINISM, 7)  # the marker of the renamed activity
    assert "project_claim_renamed" in bad["detail"] and bad["events"] == 81
    assert rows["not-a-history"]["verdict"] == UNREADABLE
    assert json.loads(result.stdout)["failed"] == 2

    for path in CORPUS[1:]:
        (tmp_path / path.name).unlink()
    table = claims("replay", "--dir", str(tmp_path), "--workers", "1")
    assert table.exit_code == 1
    [row] = [line for line in table.stdout.splitlines() if "claim-free_repair-tampered" in line]
    assert "non-determinism" in row  # the rest of the verdict wraps onto the next lines
    assert "3 histories: 1 clean, 2 failed" in table.stdout


def test_the_console_script_exits_1_and_its_json_stays_clean(tmp_path):
    """Through starter.main (os._exit) as CI runs it: the SDK core's warning about the failing
    workflow task is not printed in the middle of the JSON on stdout."""
    tampered(tmp_path)
    for n in range(4):  # more than a batch: the replays run in the pool's processes
        shutil.copy(HISTORIES / "claim-shipping_expired.json", tmp_path / f"copy-{n}.json")
    run = subprocess.run(
        [Path(sys.executable).parent / "claims", "replay", "--dir", str(tmp_path), "--json", "--workers", "2"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    verdicts = [row["verdict"] for row in json.loads(run.stdout)["histories"]]
    assert verdicts == [NONDETERMINISM] + ["clean"] * 4  # claim-free_repair-tampered, copy-0…3
    assert "WARN" not in run.stdout + run.stderr


def test_a_removed_timer_is_non_determinism(tmp_path):
    history = json.loads((HISTORIES / "claim-shipping_expired.json").read_text())
    events = history["events"]
    timer = next(i for i, e in enumerate(events) if e["eventType"] == "EVENT_TYPE_TIMER_STARTED")
    del events[timer]
    for number, event in enumerate(events, start=1):
        event["eventId"] = str(number)
    (tmp_path / "no-timer.json").write_text(json.dumps(history))
    result = claims("replay", "--dir", str(tmp_path), "--json")
    assert result.exit_code == 1
    assert replayed(result)["no-timer"]["verdict"] == NONDETERMINISM


@pytest.mark.parametrize(
    "args, message",
    [
        ((), "give exactly one of --dir DIR, --archive or --all"),
        (("--dir", "x", "--archive"), "give exactly one of --dir DIR, --archive or --all"),
        (("--archive", "--where", 'ClaimPolicy = "konjump"'), "--where narrows --all only"),
        (("--dir", "/nonexistent"), "not a directory"),
    ],
)
def test_bad_flags_are_one_clear_line(args, message):
    result = claims("replay", *args)
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_an_empty_directory_is_an_error_not_a_pass(tmp_path):
    result = claims("replay", "--dir", str(tmp_path))
    assert result.exit_code == 1 and "no *.json histories" in result.stderr


def test_archive_replays_every_archived_history(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    engine = engine_for(url)
    migrate(engine)
    sources = {"claim-return_refunded": (HISTORIES / "claim-return_refunded.json").read_text(),
               "claim-tampered": tampered(tmp_path).read_text()}  # fmt: skip
    with Session(engine) as session, session.begin():
        for number, text in sources.items():
            session.add(ClaimArchiveRow(
                workflow_id=number, run_id="run-1", claim_number=number, workflow_type="Claim",
                close_status="completed", close_time=datetime(2026, 1, 1, tzinfo=timezone.utc),
                history_sha256=hashlib.sha256(text.encode()).hexdigest(), history_json=text,
                archived_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
            ))  # fmt: skip
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)

    result = claims("replay", "--archive", "--json")
    assert result.exit_code == 1
    rows = replayed(result)
    assert rows["claim-return_refunded/run-1"]["verdict"] == "clean"
    assert rows["claim-tampered/run-1"]["verdict"] == NONDETERMINISM


async def test_all_replays_the_claims_temporal_lists(dev_env, tmp_path, monkeypatch, changkong):
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    queue = f"replay-{uuid.uuid4().hex[:8]}"
    async with build_worker(dev_env.client, tmp_path / "outbox.jsonl", task_queue=queue):
        today = date.today()
        claim = intake(changkong, today, 10, kind="return")  # asked on day 8: rejected at once
        handle = await open_claim(dev_env.client, claim_input(claim, changkong, today), queue)
        await handle.result()
        where = f'WorkflowId = "{handle.id}"'
        await until_listed(dev_env.client, where, 1)

        result = await asyncio.to_thread(claims, "replay", "--all", "--where", where, "--json")
        assert result.exit_code == 0, result.output
        [(name, row)] = replayed(result).items()
        assert name == f"{handle.id}/{handle.result_run_id}" and row["verdict"] == "clean"
        assert row["workflow_type"] == "Claim"

        bad = await asyncio.to_thread(claims, "replay", "--all", "--where", "NoSuchAttribute = 1")
        assert bad.exit_code == 1 and bad.stderr.startswith("error:") and bad.stderr.count("\n") == 1


def test_a_key_file_others_may_read_is_one_line_not_a_traceback(tmp_path):
    """The replay's processes read the keys: a key file with a loose mode is refused in one line."""
    (tmp_path / "keys").write_text("k1:" + "A" * 43 + "=\n")
    (tmp_path / "keys").chmod(0o644)
    env = {k: v for k, v in os.environ.items() if k != "CLAIMFLOW_KEYS"} | {"CLAIMFLOW_DATA_DIR": str(tmp_path)}
    run = subprocess.run(
        [Path(sys.executable).parent / "claims", "replay", "--dir", str(HISTORIES), "--workers", "1"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert run.returncode == 1
    assert "Traceback" not in run.stderr + run.stdout
    assert f"key file {tmp_path / 'keys'} may be read by others (mode 644)" in run.stderr + run.stdout
