"""The `claims` CLI against the real dev server: each command, and one clear line per failure."""

import asyncio
import json
import uuid

import pytest
from typer.testing import CliRunner

from claimflow.settings import TASK_QUEUE
from starter import app
from worker import build_worker


@pytest.fixture
async def cli(dev_env, tmp_path, monkeypatch):
    """Run `claims ...` in a thread (it runs its own event loop) against the dev server,
    with a worker on the real task queue."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    async def claims(*args: str):
        return await asyncio.to_thread(runner.invoke, app, list(args))

    async with build_worker(dev_env.client, tmp_path / "outbox.jsonl", task_queue=TASK_QUEUE):
        yield claims


def open_args(number: str, *extra: str) -> list[str]:
    return [
        "open", "--number", number, "--policy", "changkong", "--customer", "Li Wei",
        "--contact", "li@example.com", "--model", "CK-200", "--serial", "SN-1", "--fault", "no power",
        "--by", "amy", "--purchased", "2026-01-10", "--received", "2026-01-12", *extra,
    ]  # fmt: skip


async def test_open_act_and_show(cli):
    number = f"CLI-{uuid.uuid4().hex[:8].upper()}"
    opened = await cli(*open_args(number))
    assert opened.exit_code == 0, opened.output
    assert f"claim {number} opened: awaiting_parcel" in opened.output
    assert "I.1-PROOF" in opened.output and "warranty period is 180 days" in opened.output

    received = await cli("act", number, "receive-parcel", "--by", "amy")
    assert received.exit_code == 0 and "claim is inspecting" in received.output
    inspected = await cli("act", number, "record_inspection", "--by", "tom", "-f", "fault=quality_fault")
    assert "awaiting_quote" in inspected.output
    quoted = await cli("act", number, "send-quote", "--by", "amy", "--line", "spare parts=80", "--line", "labour=40.5")
    assert quoted.exit_code == 0 and "next: approve_quote, decline_quote" in quoted.output

    shown = await cli("show", number, "--json")
    view = json.loads(shown.output)
    assert view["state"] == "awaiting_approval"
    assert view["quote"]["lines"] == [{"item": "spare parts", "amount": "80.00"}, {"item": "labour", "amount": "40.50"}]
    assert [a["by"] for a in view["timeline"] if a["kind"] == "action"] == ["amy", "tom", "amy"]

    table = await cli("show", number)
    assert "quote #1" in table.output and "Allowed now: approve_quote, decline_quote" in table.output


async def test_failures_are_one_clear_line(cli):
    number = f"CLI-{uuid.uuid4().hex[:8].upper()}"
    assert (await cli(*open_args(number))).exit_code == 0
    cases = [
        (open_args(number), f"claim {number} already exists"),
        (["act", number, "approve-quote", "--by", "amy"], "approve_quote is not allowed while the claim is awaiting_parcel"),
        (["act", number, "frobnicate", "--by", "amy"], "unknown action 'frobnicate'"),
        (["act", number, "record-customer-shipment", "--by", "amy"], "-f carrier=… is required"),
        (["act", number, "cancel-claim", "--by", "amy", "-f", "oops"], "must look like key=value"),
        (open_args("X"), "--number X: String should match pattern"),
        (open_args(f"{number}-2", "--policy", "acme"), "no policy named 'acme'; known: best_lighting, changkong"),
        (open_args(f"{number}-3", "--purchased", "2099-01-01", "--received", "2099-01-02"), "is in the future"),
        (open_args(f"{number}-4", "--condition", "aliens"), "unknown condition 'aliens'"),
        (["show", "NO-SUCH-CLAIM"], "not found"),
    ]
    for args, message in cases:
        result = await cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


async def test_unreachable_server_is_one_clear_line(cli, monkeypatch):
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    result = await cli("show", "ANY-1")
    assert result.exit_code == 1
    assert "cannot reach Temporal at 127.0.0.1:1" in result.output
    monkeypatch.setenv("TEMPORAL_ADDRESS", "bad::address")
    result = await cli("show", "ANY-1")
    assert result.exit_code == 1 and "is not a valid address" in result.output


async def test_list_and_reindex(cli):
    prefix = f"LST-{uuid.uuid4().hex[:6].upper()}"
    for n in (1, 2):
        assert (await cli(*open_args(f"{prefix}-{n}"))).exit_code == 0
    assert (await cli("act", f"{prefix}-2", "receive-parcel", "--by", "amy")).exit_code == 0

    async def listed(*filters: str) -> dict[str, str]:
        for _ in range(100):  # the projection lands just after each action
            result = await cli("list", "--json", *filters)
            assert result.exit_code == 0, result.output
            rows = {r["claim_number"]: r["state"] for r in json.loads(result.output) if r["claim_number"].startswith(prefix)}
            if rows.get(f"{prefix}-2", "inspecting") == "inspecting" and len(rows) >= len(filters) and rows:
                return rows
            await asyncio.sleep(0.05)
        return rows

    assert await listed() == {f"{prefix}-1": "awaiting_parcel", f"{prefix}-2": "inspecting"}
    assert await listed("--state", "inspecting") == {f"{prefix}-2": "inspecting"}
    table = await cli("list", "--policy", "changkong")
    assert f"{prefix}-1" in table.output and f"{prefix}-2" in table.output and "2 claims" in table.output

    rebuilt = await cli("reindex", "--where", f'WorkflowId STARTS_WITH "{prefix}"')  # upserts, deletes nothing
    assert rebuilt.exit_code == 0 and "reindexed 2 claims from Temporal" in rebuilt.output
    assert await listed() == {f"{prefix}-1": "awaiting_parcel", f"{prefix}-2": "inspecting"}
    refused = await cli("reindex", "--where", "ClaimPolicy = = 'x'")
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert "error: --where \"ClaimPolicy = = 'x'\" is not a visibility query Temporal accepts" in refused.output


async def test_a_bad_database_url_is_one_clear_line(cli, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://claims:secret@127.0.0.1:1/claims")
    result = await cli("list")
    assert result.exit_code == 1 and "cannot reach the read-model database" in result.output
    assert "secret" not in result.output and "Traceback" not in result.output


def test_actions_lists_every_action_even_without_a_docstring():
    result = CliRunner().invoke(app, ["actions"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("receive_parcel", "record_refund", "reopen_claim", "extend_deadline", "settle_unpaid"):
        assert name in result.output
    assert "--note 2000" in result.output and "10 quotes" in result.output  # the limits
