"""`claims up` end to end: the real dev server with its database file plus the worker.

A claim opened on it survives Ctrl-C and a restart, with its timer still pending, and the
claim search attributes are registered. Also `claims setup` against a server without them.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from temporalio.api.enums.v1 import EventType, IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
    RemoveSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

import starter
from claimflow.binaries import temporal_cli
from claimflow.claims import claim_input, open_claim, view
from claimflow.settings import REPO_ROOT, load_settings
from claimflow.archive import ARCHIVE_SCHEDULE_ID
from claimflow.temporal import TemporalUnreachable, connect, namespace_retention
from claimflow.calendars import local_today
from tests.conftest import intake
from workflows.search_attributes import SEARCH_ATTRIBUTES

CLAIM_ATTRIBUTES = {
    "ClaimState": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "ClaimPolicy": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "ClaimOverdue": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
}


async def custom_attributes(client: Client) -> dict[str, int]:
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return dict(listed.custom_attributes)


async def assert_claim_attributes_registered(client: Client) -> None:
    registered = await custom_attributes(client)
    assert {name: registered.get(name) for name in CLAIM_ATTRIBUTES} == CLAIM_ATTRIBUTES


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until_timer_started(client: Client, workflow_id: str) -> None:
    """The claim's first workflow task (and the activities it awaits) done: its timer is set."""
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(200):
        events = (await handle.fetch_history()).events
        if any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no timer started: {[EventType.Name(e.event_type) for e in events]}")


class DevStack:
    def __init__(self, data_dir: Path):
        self.port, self.ui_port, self.web_port = free_port(), free_port(), free_port()
        self.mail_port = free_port()
        self.env = os.environ | {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "CLAIMFLOW_DATA_DIR": str(data_dir),
            "CLAIMFLOW_WEB_PORT": str(self.web_port),
            "CLAIMFLOW_MAIL_PORT": str(self.mail_port),
            "SMTP_URL": "",  # the worker e-mails the stack's mail catcher
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "starter.py"), "up", "--ui-port", str(self.ui_port)],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            lines.append(line)
            if "worker running" in line or self.process.poll() is not None:
                break
        assert "worker running" in lines[-1], "".join(lines)
        return "".join(lines)

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C, as a terminal would send it."""
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=30)
        return self.process.returncode, output

    def port_open(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0


@pytest.fixture
def stack(tmp_path, monkeypatch):
    stack = DevStack(tmp_path)
    for key in ("TEMPORAL_ADDRESS", "CLAIMFLOW_DATA_DIR", "CLAIMFLOW_WEB_PORT", "CLAIMFLOW_MAIL_PORT"):
        monkeypatch.setenv(key, stack.env[key])
    yield stack
    if stack.process is not None and stack.process.poll() is None:  # a test failed half-way
        try:
            stack.interrupt()
        except subprocess.TimeoutExpired:
            stack.process.kill()


async def test_claims_and_timers_survive_a_restart(stack, changkong, tmp_path):
    banner = stack.start()
    assert f"Temporal gRPC        127.0.0.1:{stack.port} (namespace default)" in banner
    assert f"Temporal Web UI      http://localhost:{stack.ui_port}" in banner
    assert f"data directory       {tmp_path}" in banner
    assert f"read model           sqlite:///{tmp_path}/claims.db" in banner
    assert f"mail catcher         smtp://127.0.0.1:{stack.mail_port}; the worker e-mails here" in banner
    settings = load_settings()
    today = local_today(changkong.timezone)
    claim = claim_input(intake(changkong, today), changkong, today)
    client = await connect(settings)
    await assert_claim_attributes_registered(client)
    await open_claim(client, claim)
    before = await view(client, claim.intake.claim_number)
    assert before.state == "awaiting_parcel"
    await until_timer_started(client, claim.intake.claim_number)  # the claim is at rest, waiting

    code, output = stack.interrupt()
    assert code == 0 and "stopped." in output
    assert not stack.port_open()  # the dev server went down with it
    assert (tmp_path / "temporal.db").exists()

    stack.start()
    client = await connect(settings)
    await assert_claim_attributes_registered(client)
    after = await view(client, claim.intake.claim_number)
    assert after.state == "awaiting_parcel" and after.timeline == before.timeline
    assert after.open_deadlines[0].due_at == before.open_deadlines[0].due_at
    handle = client.get_workflow_handle(claim.intake.claim_number)
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    events = (await handle.fetch_history()).events
    kinds = [e.event_type for e in events]
    assert EventType.EVENT_TYPE_TIMER_STARTED in kinds  # the reminder timer is still pending
    assert EventType.EVENT_TYPE_TIMER_FIRED not in kinds
    timer = next(e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED)
    to_fire = timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
    assert to_fire > timedelta(days=4)  # 48 h before the end of day 7: the customer reminder
    code, _ = stack.interrupt()
    assert code == 0


async def test_up_registers_search_attributes_on_an_older_database(stack, tmp_path):
    """start-dev registers --search-attribute only when it creates the namespace, so a
    database from before (an older `claims dev`) gets them from `claims up` itself."""
    old = subprocess.Popen(
        [temporal_cli(), "server", "start-dev", "--headless", "--db-filename", str(tmp_path / "temporal.db"),
         "--ip", "127.0.0.1", "--port", str(stack.port), "--log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(240):
            try:
                client = await connect(load_settings())
                break
            except TemporalUnreachable:
                await asyncio.sleep(0.25)
        else:
            raise AssertionError("the old dev server did not start")
        assert not CLAIM_ATTRIBUTES.keys() & (await custom_attributes(client)).keys()
    finally:
        old.terminate()
        old.wait(timeout=15)

    banner = stack.start()
    assert "search attributes    ClaimState (Keyword), ClaimPolicy (Keyword), ClaimOverdue (Bool)" in banner
    assert "retention            730 days; closed claims archived every 10 minutes" in banner
    client = await connect(load_settings())
    await assert_claim_attributes_registered(client)
    assert await namespace_retention(client, "default") == timedelta(days=730)  # start-dev's own default is 1 day
    schedule = await client.get_schedule_handle(ARCHIVE_SCHEDULE_ID).describe()
    assert [i.every for i in schedule.schedule.spec.intervals] == [timedelta(minutes=10)]
    assert stack.interrupt()[0] == 0


async def test_the_dev_server_does_not_outlive_a_killed_stack(stack):
    stack.start()
    stack.process.kill()  # kill -9: no chance to stop the dev server in order
    stack.process.wait()
    for _ in range(100):
        if not stack.port_open():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the dev server still listens after `claims up` was killed")


def test_dev_is_a_hidden_alias_of_up():
    commands = typer.main.get_command(starter.app).commands
    assert commands["dev"].hidden and not commands["up"].hidden and not commands["setup"].hidden
    assert "Run the whole stack" in CliRunner().invoke(starter.app, ["dev", "--help"]).output


# --- claims setup ----------------------------------------------------------------------


@pytest.fixture
async def bare_server(monkeypatch, tmp_path):
    """A dev server of our own with no claim search attributes, and the env pointing at it."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(), data_converter=pydantic_data_converter, dev_server_log_level="error"
    ) as env:
        monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
        monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
        yield env.client


async def setup(*args: str):
    return await asyncio.to_thread(CliRunner().invoke, starter.app, ["setup", *args])


async def test_setup_registers_the_search_attributes_once(bare_server):
    assert not CLAIM_ATTRIBUTES.keys() & (await custom_attributes(bare_server)).keys()
    first = await setup()
    assert first.exit_code == 0, first.output
    assert "search attribute ClaimState (Keyword): registered" in first.output
    assert "search attribute ClaimOverdue (Bool): registered" in first.output
    await assert_claim_attributes_registered(bare_server)

    again = await setup()  # idempotent
    assert again.exit_code == 0, again.output
    assert again.output.count(": already registered") == len(SEARCH_ATTRIBUTES)
    await assert_claim_attributes_registered(bare_server)


async def test_setup_sets_the_retention_and_the_archive_schedule(bare_server, monkeypatch):
    assert await namespace_retention(bare_server, "default") != timedelta(days=400)
    monkeypatch.setenv("CLAIMFLOW_RETENTION_DAYS", "400")
    monkeypatch.setenv("CLAIMFLOW_ARCHIVE_EVERY_MINUTES", "7")
    first = await setup()
    assert first.exit_code == 0, first.output
    assert "retention of closed claims: 400 days (set)" in first.output
    assert "archive of closed claims: every 7 minutes (schedule created)" in first.output
    assert await namespace_retention(bare_server, "default") == timedelta(days=400)
    schedule = await bare_server.get_schedule_handle(ARCHIVE_SCHEDULE_ID).describe()
    assert [i.every for i in schedule.schedule.spec.intervals] == [timedelta(minutes=7)]
    assert (schedule.schedule.action.workflow, schedule.schedule.action.task_queue) == ("ClaimArchiver", "claims")

    monkeypatch.delenv("CLAIMFLOW_RETENTION_DAYS")
    monkeypatch.delenv("CLAIMFLOW_ARCHIVE_EVERY_MINUTES")
    again = await setup()
    assert "retention of closed claims: 730 days (set)" in again.output, again.output
    assert "every 10 minutes (schedule updated)" in again.output
    assert await namespace_retention(bare_server, "default") == timedelta(days=730)
    assert "730 days (already set)" in (await setup()).output


@pytest.mark.parametrize("variable", ["CLAIMFLOW_RETENTION_DAYS", "CLAIMFLOW_ARCHIVE_EVERY_MINUTES"])
@pytest.mark.parametrize("value", ["two years", "0", "-5", "99999999"])
async def test_a_bad_retention_or_archive_interval_is_one_clear_line(bare_server, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    refused = await setup()
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert f"error: {variable} must be a whole number from 1 to" in refused.output and repr(value) in refused.output
    assert await namespace_retention(bare_server, "default") != timedelta(days=730)  # nothing done


async def test_setup_refuses_an_attribute_of_another_type(bare_server):
    await bare_server.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=bare_server.namespace,
            search_attributes={"ClaimOverdue": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD},
        )
    )
    refused = await setup()
    assert refused.exit_code == 1 and len(refused.output.strip().splitlines()) == 1, refused.output
    assert (
        "error: search attribute ClaimOverdue is already registered in namespace default as Keyword, "
        "but claimflow needs Bool" in refused.output
    )
    assert "ClaimState" not in await custom_attributes(bare_server)  # nothing half-done

    await bare_server.operator_service.remove_search_attributes(
        RemoveSearchAttributesRequest(namespace=bare_server.namespace, search_attributes=["ClaimOverdue"])
    )
    assert (await setup()).exit_code == 0
    await assert_claim_attributes_registered(bare_server)


class DeniedOperator:
    """The operator service of a server that does not let this client manage search attributes."""

    async def list_search_attributes(self, request):
        raise RPCError("Request unauthorized.", RPCStatusCode.PERMISSION_DENIED, b"")


class DeniedClient:
    operator_service = DeniedOperator()

    class service_client:  # noqa: N801 - the attribute path Client has
        class config:  # noqa: N801
            target_host = "claims.a1b2c.tmprl.cloud:7233"


def test_setup_permission_denied_hints_at_temporal_cloud(monkeypatch):
    async def denied_connect(settings):
        return DeniedClient()

    monkeypatch.setattr(starter, "connect", denied_connect)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "claims.a1b2c")
    result = CliRunner().invoke(starter.app, ["setup"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "does not permit registering search attributes (Request unauthorized.)" in result.output
    assert (
        "tcld namespace search-attributes add --namespace claims.a1b2c --search-attribute \"ClaimState=Keyword\" "
        "--search-attribute \"ClaimPolicy=Keyword\" --search-attribute \"ClaimOverdue=Bool\"" in result.output
    )


async def test_claims_up_serves_the_web_ui_and_creates_the_first_admin_once(stack):
    import re
    import urllib.request

    from claimflow.db import engine_for
    from claimflow.users import authenticate

    banner = stack.start()
    assert f"agent web UI         http://127.0.0.1:{stack.web_port}" in banner
    created = re.search(r"web UI user 'admin' created with password (\S+)", banner)
    assert created, banner
    for _ in range(100):  # the web server starts beside the worker
        with contextlib.suppress(OSError):
            response = urllib.request.urlopen(f"http://127.0.0.1:{stack.web_port}/signin", timeout=10)
            break
        await asyncio.sleep(0.1)
    with response:
        page = response.read().decode()
        assert response.status == 200 and 'name="password"' in page
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert authenticate(engine_for(load_settings().database_url), "admin", created.group(1)) is not None
    code, _ = stack.interrupt()
    assert code == 0
    again = stack.start()
    assert "created with password" not in again  # printed once, on the first start only
    stack.interrupt()
