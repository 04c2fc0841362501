"""`claims dev` end to end: the real dev server with its database file plus the worker.

A claim opened on it survives Ctrl-C and a restart, with its timer still pending.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from claimflow.claims import claim_input, open_claim, view
from claimflow.settings import REPO_ROOT, load_settings
from claimflow.temporal import connect
from models.calendar import local_today
from tests.conftest import intake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevStack:
    def __init__(self, data_dir: Path):
        self.port, self.ui_port = free_port(), free_port()
        self.env = os.environ | {
            "TEMPORAL_ADDRESS": f"127.0.0.1:{self.port}",
            "CLAIMFLOW_DATA_DIR": str(data_dir),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "starter.py"), "dev", "--ui-port", str(self.ui_port)],
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
    for key in ("TEMPORAL_ADDRESS", "CLAIMFLOW_DATA_DIR"):
        monkeypatch.setenv(key, stack.env[key])
    yield stack
    if stack.process is not None and stack.process.poll() is None:
        stack.process.kill()


async def test_claims_and_timers_survive_a_restart(stack, changkong, tmp_path):
    banner = stack.start()
    assert f"Web UI http://localhost:{stack.ui_port}" in banner
    settings = load_settings()
    today = local_today(changkong.timezone)
    claim = claim_input(intake(changkong, today), changkong, today)
    client = await connect(settings)
    await open_claim(client, claim)
    before = await view(client, claim.intake.claim_number)
    assert before.state == "awaiting_parcel"

    code, output = stack.interrupt()
    assert code == 0 and "stopped." in output
    assert not stack.port_open()  # the dev server went down with it
    assert (tmp_path / "temporal.db").exists()

    stack.start()
    client = await connect(settings)
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
