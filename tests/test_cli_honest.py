"""The `claims` CLI says what happened: exit codes, no silent waits, typed input, safe output,
reads that do not write, and a claim shown in full."""

import asyncio
import os
import sys
import time
import uuid
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select, update
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from claimflow import claims as claim_ops
from claimflow.calendars import local_today
from claimflow.db import engine_for, migrate
from claimflow.policy_files import load_policy
from models.claim import ClaimView
from models.read_model import ClaimEventRow, ClaimRow
from tests.conftest import POLICY_DIR, intake
from tests.test_cli import cli, open_args  # noqa: F401  (the fixture)
from worker import build_worker

CLAIMS = Path(sys.executable).parent / "claims"


def new_number(prefix: str = "HON") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def projected(engine, number: str) -> None:
    for _ in range(200):
        with Session(engine) as session:
            if session.exec(select(ClaimRow).where(ClaimRow.claim_number == number)).first():
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{number} never reached the read model")


async def delivered(engine, number: str) -> None:
    """Wait until the claim's RMA e-mail went out and its row stopped changing for a second
    (the delivery's outcome is the claim's last projection once it opened)."""
    seen, still = None, 0
    for _ in range(300):
        with Session(engine) as session:
            sent = session.exec(
                select(ClaimEventRow).where(ClaimEventRow.claim_number == number, ClaimEventRow.kind == "delivery")
            ).first()
            row = session.exec(select(ClaimRow).where(ClaimRow.claim_number == number)).first()
        version = row.version if row else None
        still = still + 1 if sent and version == seen else 0
        if still >= 10:
            return
        seen = version
        await asyncio.sleep(0.1)
    raise AssertionError(f"{number}: its read-model row never settled")


# --- 1. exit codes -------------------------------------------------------------------------


async def test_claims_show_exits_cleanly_every_time(cli, monkeypatch):
    """temporalio's runtime could crash the finalizing interpreter (exit 134/139 after the
    work was done); `claims` leaves with os._exit. 200 real `claims show` processes, 4 at a time."""
    number = new_number()
    assert (await cli(*open_args(number))).exit_code == 0
    gate = asyncio.Semaphore(4)

    async def show() -> tuple[int, bytes, bytes]:
        async with gate:
            proc = await asyncio.create_subprocess_exec(
                str(CLAIMS), "show", number, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            stdout, stderr = await proc.communicate()
            return proc.returncode, stdout, stderr

    started = time.monotonic()
    results = await asyncio.gather(*(show() for _ in range(200)))
    took = time.monotonic() - started
    bad = [(code, err.decode()[-300:]) for code, _, err in results if code != 0 or err]
    assert not bad, f"{len(bad)} of 200 runs failed, e.g. {bad[:3]}"
    assert all(f"{number}  policy changkong".encode() in out for _, out, _ in results)
    print(f"200 runs of `claims show` in {took:.1f}s")

    # The crash is rare and depends on timing, so also check how `claims` leaves: through
    # os._exit with the command's exit code, never through the interpreter's shutdown.
    import starter

    left_with: list[int] = []

    def exit_now(code: int) -> None:
        left_with.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_now)
    for args, code in ((["show", number], 0), (["act", number, "frobnicate", "--by", "amy"], 1), (["bogus"], 2)):
        with pytest.raises(SystemExit):
            await asyncio.to_thread(starter.main, args)
        assert left_with.pop() == code, args


# --- 2. act: no silent wait, no ghost -------------------------------------------------------


@workflow.defn(name="NotAClaim", sandboxed=False)
class NotAClaim:
    @workflow.run
    async def run(self) -> None:
        pass


async def test_act_refuses_without_a_worker_and_times_out_with_a_request_id(cli, dev_env, tmp_path):
    policy = load_policy(POLICY_DIR, "changkong")
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    claim = intake(policy, local_today(policy.timezone))
    handle = await claim_ops.open_claim(dev_env.client, claim_ops.claim_input(claim, policy, local_today(policy.timezone)),
                                        task_queue=queue)  # fmt: skip
    number = claim.claim_number

    started = time.monotonic()
    refused = await cli("act", number, "receive-parcel", "--by", "amy")
    assert time.monotonic() - started < 10
    assert refused.exit_code == 1, refused.output
    assert f"no worker is polling task queue '{queue}'" in refused.output and "nothing was sent" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    events = (await handle.fetch_history()).events
    assert not [e for e in events if "UPDATE" in EventType.Name(e.event_type)]  # nothing was sent

    # A poller that cannot run the claim: the action is sent but never answered.
    async with Worker(dev_env.client, task_queue=queue, workflows=[NotAClaim]):
        await asyncio.sleep(0.5)  # its first poll reaches the server
        started = time.monotonic()
        late = await cli("act", number, "receive-parcel", "--by", "amy", "--wait", "2", "--request-id", "r-1")
        assert time.monotonic() - started < 10
    assert late.exit_code == 1, late.output
    assert f"claim {number} did not answer receive_parcel within 2s" in late.output
    assert f"claims show {number}" in late.output and "--request-id r-1" in late.output

    # The same request again, with a worker: done once, however often it is retried.
    async with build_worker(dev_env.client, tmp_path / "other-outbox.jsonl", task_queue=queue):
        for _ in range(2):
            retried = await cli("act", number, "receive-parcel", "--by", "amy", "--request-id", "r-1")
            assert retried.exit_code == 0, retried.output
        view = await claim_ops.view(dev_env.client, number)
        await handle.terminate("test over")
    assert [e.summary for e in view.timeline if e.kind == "action"].__len__() == 1


# --- 3. -f typed by the action's field ------------------------------------------------------


async def test_fields_are_typed_by_the_action_and_errors_name_the_flags(cli):
    number = new_number()
    assert (await cli(*open_args(number))).exit_code == 0
    shipped = await cli("act", number, "record-customer-shipment", "--by", "amy", "-f", "carrier=SF",
                        "-f", "tracking_number=123456789012")  # fmt: skip
    assert shipped.exit_code == 0, shipped.output
    view = ClaimView.model_validate_json((await cli("show", number, "--json")).output)
    assert view.timeline[-1].by == "amy" or any(e.by == "amy" for e in view.timeline)

    cases = [
        (["act", number, "receive-parcel", "--by", "amy", "-f", "by=eve"], "use --by"),
        (["act", number, "receive-parcel", "--by", "amy", "-f", "note=hi"], "use --note"),
        (["act", number, "receive-parcel", "--by", ""], "--by '': String should have at least 1 character"),
        (["act", number, "extend-deadline", "--by", "sv", "-f", "deadline=parcel_transit", "-f", "days=abc",
          "-f", "reason=x"], "-f days=abc: Input should be a valid integer"),  # fmt: skip
        (["act", number, "send-quote", "--by", "amy", "--line", "parts=lots"], "--line parts=lots: "),
        (["act", number, "record-inspection", "--by", "tom", "-f", "fault=quality_fault", "-f", "exclusions=misuse"],
         "-f exclusions=misuse: exclusions is a list, written as JSON"),
        (["act", number, "record-customer-shipment", "--by", "amy", "-f", "carrier=SF"],
         "-f tracking_number=… is required"),
        (open_args(new_number(), "--contract-months", "0"), "--contract-months 0: Input should be greater than 0"),
        (open_args(new_number(), "--purchased", "2026-13-01"), "--purchased 2026-13-01: Input should be a valid date"),
    ]
    for args, message in cases:
        result = await cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output and "loc" not in result.output


# --- 4. no control characters reach the terminal --------------------------------------------


async def test_show_and_list_never_print_control_characters(cli, tmp_path, monkeypatch):
    number = new_number()
    assert (await cli(*open_args(number))).exit_code == 0
    clean = ClaimView.model_validate_json((await cli("show", number, "--json")).output)
    attack = "eve\x1b[2J\x1b]0;pwned\x07\u202e"
    tainted = clean.model_copy(update={
        "customer": clean.customer.model_copy(update={"name": attack, "contact": attack}),
        "fault_description": attack,
        "timeline": [e.model_copy(update={"by": attack, "summary": attack}) for e in clean.timeline],
    })  # fmt: skip

    async def view_and_end(client, claim_number):
        return tainted, None

    monkeypatch.setattr(claim_ops, "view_and_end", view_and_end)
    shown = await cli("show", number)
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output and "\u202e" not in shown.output
    assert "eve\\x1b[2J\\x1b]0;pwned\\x07\\u202e" in shown.output.replace("\n", "")

    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    await projected(engine, number)
    await delivered(engine, number)  # the RMA e-mail's outcome is projected last: tamper after it
    with Session(engine) as session, session.begin():
        session.exec(update(ClaimRow).where(ClaimRow.claim_number == number).values(assignee=attack))
    listed = await cli("list")
    assert listed.exit_code == 0, listed.output
    assert "\x1b" not in listed.output and "\x07" not in listed.output and "\u202e" not in listed.output
    assert "eve\\x" in listed.output  # (the column is cut short at the test's width)


# --- 5. list reads without migrating ---------------------------------------------------------


async def test_list_reads_without_creating_or_migrating(cli, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(elsewhere))
    missing = await cli("list")
    assert missing.exit_code == 1 and f"no read model at {elsewhere}/claims.db" in missing.output, missing.output
    assert len(missing.output.strip().splitlines()) == 1
    assert not (elsewhere / "claims.db").exists()

    old = engine_for(f"sqlite:///{elsewhere}/claims.db")
    migrate(old, "0001")
    unmigrated = await cli("list")
    assert unmigrated.exit_code == 1 and "is at schema 0001" in unmigrated.output, unmigrated.output
    with old.connect() as connection:  # left as it was
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"
    shown = await cli("show", "NO-SUCH-CLAIM")
    assert shown.exit_code == 1 and "the archive cannot be looked in" in shown.output, shown.output
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))

    for args in (["--limit", "99999999999999999999"], ["--limit", "0"], ["--limit", "10001"]):
        refused = await cli("list", *args)
        assert refused.exit_code != 0 and "--limit" in refused.output and "Traceback" not in refused.output

    prefix = new_number("LIM")
    for n in (1, 2):
        assert (await cli(*open_args(f"{prefix}-{n}"))).exit_code == 0
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    for n in (1, 2):
        await projected(engine, f"{prefix}-{n}")
    with Session(engine) as session:
        total = len(session.exec(select(ClaimRow)).all())
    cut = await cli("list", "--limit", "1")
    assert cut.exit_code == 0 and f"showing 1 of {total} claims; --limit to see more" in cut.output, cut.output
    whole = await cli("list", "--limit", str(total))
    assert f"{total} claims" in whole.output and "showing" not in whole.output


# --- 7. show: customer, fault, quote, local times ----------------------------------------------


async def test_show_prints_customer_fault_quote_in_the_policy_timezone(cli):
    number = new_number()
    assert (await cli(*open_args(number))).exit_code == 0
    assert (await cli("act", number, "receive-parcel", "--by", "amy")).exit_code == 0
    assert (await cli("act", number, "record-inspection", "--by", "tom", "-f", "fault=quality_fault")).exit_code == 0
    quoted = await cli("act", number, "send-quote", "--by", "amy", "--line", "spare parts=80", "--line", "labour=40.5")
    assert quoted.exit_code == 0, quoted.output
    view = ClaimView.model_validate_json((await cli("show", number, "--json")).output)

    local = (await cli("show", number)).output
    assert "customer Li Wei <li@example.com>" in local and "reported fault: no power" in local
    assert "spare parts" in local and "80.00" in local and "40.50" in local and "120.50" in local
    assert "due (Asia/Shanghai)" in local and "at (Asia/Shanghai)" in local
    first = view.timeline[0].at
    assert first.astimezone(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S") in local

    utc = (await cli("show", number, "--utc")).output
    assert "due (UTC)" in utc and "at (UTC)" in utc
    assert first.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") in utc


async def test_show_says_a_claim_was_terminated_outside_claimflow(cli, dev_env):
    number = new_number()
    assert (await cli(*open_args(number))).exit_code == 0
    handle = dev_env.client.get_workflow_handle(number)
    await handle.terminate(reason="opened twice by mistake")  # the Web UI's Terminate
    shown = await cli("show", number)
    assert shown.exit_code == 0, shown.output
    assert "terminated outside claimflow by " in shown.output and "opened twice by mistake" in shown.output


def test_claims_list_imports_neither_temporalio_nor_alembic(tmp_path):
    """A command imports only what it uses: listing the read model needs no Temporal client
    and no migrations (they took half of `claims list`'s start-up: bench/cli_startup.py)."""
    import subprocess

    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    migrate(engine)
    engine.dispose()
    script = (
        "import sys, starter\n"
        "code = starter._exit_code(['list'])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'temporalio', 'alembic'}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"CLAIMFLOW_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout + done.stderr
