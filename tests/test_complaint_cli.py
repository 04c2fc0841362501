"""`claims complaint open | act | show | list` against the real dev server (real time: the
ladder's timers are tests/test_complaints.py's), and one clear line per failure."""

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
    """Run `claims ...` in a thread against the dev server, with a worker on the real task queue."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    runner = CliRunner()

    async def claims(*args: str):
        return await asyncio.to_thread(runner.invoke, app, ["complaint", *args])

    async with build_worker(dev_env.client, tmp_path / "outbox.jsonl", task_queue=TASK_QUEUE):
        yield claims


def open_args(*extra: str, number: str | None = None) -> list[str]:
    args = ["open", "--policy", "model_figures", "--category", "short_quantity", "--channel", "phone",
            "--customer", "Wang Fang", "--contact", "wang.fang@example.com",
            "--description", "two figures missing from the box", "--by", "reception.lin"]  # fmt: skip
    return args + (["--number", number] if number else []) + list(extra)


async def test_open_act_show_and_list(cli, tmp_path):
    number = f"CP-CLI{uuid.uuid4().hex[:8].upper()}"
    opened = await cli(*open_args(number=number.lower()))
    assert opened.exit_code == 0, opened.output
    lines = opened.output.splitlines()
    assert lines[0] == f"complaint {number} taken: insufficient quantity → warehouse (warehouse)"
    assert lines[1].startswith("reply due ") and lines[1].endswith("Asia/Shanghai (24 hours, wall clock) [System 9]")
    assert lines[2] == "next: record_reply, reassign, close_complaint, cancel_complaint"

    fresh = await cli(*open_args("--emergency", "--json"))  # a number of its own: CP-<date>-<hex>
    view = json.loads(fresh.output)
    assert view["complaint_number"].startswith("CP-") and view["emergency"] is True
    assert [e["level"] for e in view["escalations"]] == ["leader"]

    reassigned = await cli("act", number, "reassign", "--by", "sue", "--department", "sales", "--note", "wrong desk")
    assert reassigned.exit_code == 0 and "complaint is with the sales department" in reassigned.output
    replied = await cli("act", number, "record-reply", '{"reply": "The two figures left today by express."}',
                        "--by", "sales.qian")  # fmt: skip
    assert replied.exit_code == 0 and "complaint is answered" in replied.output
    assert "next: record_satisfaction, close_complaint, cancel_complaint" in replied.output
    reopened = await cli("act", number, "record_satisfaction", "--by", "reception.lin", "--not-satisfied", "--json")
    assert json.loads(reopened.output)["state"] == "awaiting_reply"

    shown = await cli("show", number)
    assert shown.exit_code == 0, shown.output
    for text in ("state awaiting_reply", "insufficient quantity → sales department (sales)", "reply #1 by sales.qian",
                 "reply #2", "Ladder of the reply clock", "department head", "reassigned from", "(Asia/Shanghai)"):  # fmt: skip
        assert text in shown.output, text
    as_json = json.loads((await cli("show", number, "--json")).output)
    assert as_json["reopens"] == 1 and [d["cycle"] for d in as_json["deadlines"] if d["kind"] == "reply"] == [1, 2]

    async def listed(*args: str) -> list[str]:
        result = await cli("list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [row["complaint_number"] for row in json.loads(result.output)]

    for _ in range(100):  # the read model follows the workflows
        if set(await listed("--department", "sales", "--open")) == {number}:
            break
        await asyncio.sleep(0.05)
    assert set(await listed("--open")) == {number, view["complaint_number"]}
    assert await listed("--department", "sales") == [number]
    assert await listed("--category", "short_quantity", "--policy", "model_figures") == await listed()
    assert await listed("--overdue") == [] and await listed("--closed") == []
    table = await cli("list", "--open")
    assert number in table.output and "2 complaints" in table.output

    closed = await cli("act", number, "close-complaint", "--by", "sue", "--reason", "settled by phone")
    assert "complaint is closed" in closed.output and "next: nothing" in closed.output


async def test_failures_are_one_clear_line(cli, dev_env, changkong):
    from claimflow.calendars import local_today
    from claimflow.claims import claim_input, open_claim
    from tests.conftest import intake

    number = f"CP-CLI{uuid.uuid4().hex[:8].upper()}"
    assert (await cli(*open_args(number=number))).exit_code == 0
    today = local_today(changkong.timezone)
    claim = (await open_claim(dev_env.client, claim_input(intake(changkong, today), changkong, today), TASK_QUEUE)).id
    cases = [
        (open_args(number=number), f"{number} is taken: a complaint or claim has that number"),
        (open_args(number="CK-1"), "--number CK-1: String should match pattern"),
        (open_args("--policy", "changkong", number="CP-X2"), "policy changkong takes no complaints"),
        (open_args("--policy", "acme", number="CP-X3"), "no policy named 'acme'"),
        (open_args("--category", "paint", number="CP-X4"), "no complaint category 'paint'; its categories: product_quality"),
        (["open", "--policy", "model_figures"], "--category is required"),
        (open_args("--claim", "CK-NOPE", number="CP-X5"), "--claim CK-NOPE: there is no such claim"),
        (open_args("--claim", number, number="CP-X6"), "is a Complaint workflow, not a claim"),
        (["act", number, "record-satisfaction", "--by", "x", "--satisfied"],
         "record_satisfaction is not allowed while the complaint is awaiting_reply"),
        (["act", number, "frobnicate", "--by", "x"], "unknown action 'frobnicate'; known: record_reply"),
        (["act", number, "record-reply", "--by", "x"], "--reply is required"),
        (["act", number, "record-reply", "--by", "x", "--department", "sales"], "record_reply takes no --department"),
        (["act", number, "reassign", "--by", "x", "--department", "moon"], "has no department 'moon'"),
        (["act", number, "record-reply", "{oops", "--by", "x"], "is not JSON"),
        (["act", "CP-NOPE", "record-reply", "--by", "x", "--reply", "hi"], "no complaint CP-NOPE"),
        (["show", "CP-NOPE"], "no complaint CP-NOPE"),
        (["show", claim], f"{claim} is a Claim workflow, not a complaint"),
    ]  # fmt: skip
    for args, message in cases:
        result = await cli(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert (await cli("act", number, "cancel-complaint", "--by", "sue", "--reason", "test")).exit_code == 0
    over = await cli("act", number, "record-reply", "--by", "x", "--reply", "late")
    assert over.exit_code == 1 and f"complaint {number} is over (completed); nothing was done" in over.output
    linked = await cli(*open_args("--claim", claim.lower(), number=f"{number}-L"))
    assert linked.exit_code == 0, linked.output
    for _ in range(100):  # the claim's complaints, from the read model (the claim's page lists them)
        rows = json.loads((await cli("list", "--claim", claim.lower(), "--json")).output)
        if rows:
            break
        await asyncio.sleep(0.05)
    assert [(r["complaint_number"], r["claim_number"]) for r in rows] == [(f"{number}-L", claim)]
