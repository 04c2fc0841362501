"""Helpers of the fault tests (tests/test_faults.py): a file-backed `temporal` dev server and
`claims worker` processes that can be stopped or SIGKILLed, an SMTP server that refuses
what it is told to, the README's paid repair driven with retries, and what the read model,
the outbox and the mailbox hold per claim.
"""

import asyncio
import os
import signal
import socket
import subprocess
import time
from unittest import mock
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError

from activities.notify import read_outbox
from bench.lifecycles import README_PAID_REPAIR, paid_repair_intake
from claimflow.binaries import temporal_cli
from claimflow.claims import act, claim_input, open_claim, view
from claimflow.db import engine_for
from claimflow.settings import REPO_ROOT, load_settings
from claimflow.temporal import connect, search_attribute_flags
from models.claim import ClaimView
from models.enums import ClaimState
from models.policy import Policy
from models.read_model import ClaimEventRow, ClaimRow, NotificationRow

CLAIMS = REPO_ROOT / ".venv" / "bin" / "claims"
DONE = ClaimState.POST_REPAIR_WARRANTY  # where the README's paid repair rests after its last action


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(check, what: str, timeout: float = 30, every: float = 0.1):
    """Poll `check` (sync or async) until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s")
        await asyncio.sleep(every)


async def namespace_ready(client: Client) -> bool:
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    from temporalio.service import RPCError

    try:
        await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
        return True
    except RPCError:
        return False


class DevServer:
    """`temporal server start-dev` on its database file, headless, on a free port."""

    def __init__(self, db_file: Path):
        self.db_file, self.port = db_file, free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    async def start(self) -> None:
        """Start it and wait until it answers."""
        command = [temporal_cli(), "server", "start-dev", "--headless", "--db-filename", str(self.db_file),
                   "--ip", "127.0.0.1", "--port", str(self.port), "--namespace", "default",
                   *search_attribute_flags(), "--log-level", "error"]  # fmt: skip
        log = open(self.db_file.with_suffix(".log"), "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

        async def connected():
            assert self.process.poll() is None, f"the dev server exited with {self.process.returncode}"
            try:
                return await Client.connect(self.address)
            except RuntimeError:
                return None

        client = await until(connected, "the dev server answers", timeout=60, every=0.2)
        await until(lambda: namespace_ready(client), "the namespace is there", timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@dataclass
class Workers:
    """`claims worker` processes on one server, data directory and read model; each logs
    to its own file in the data directory."""

    address: str
    data_dir: Path
    database_url: str
    smtp_url: str = ""
    running: list[subprocess.Popen] = field(default_factory=list)
    started: int = 0

    def env(self) -> dict[str, str]:
        return os.environ | {"TEMPORAL_ADDRESS": self.address, "TEMPORAL_NAMESPACE": "default",
                             "CLAIMFLOW_DATA_DIR": str(self.data_dir), "DATABASE_URL": self.database_url,
                             "SMTP_URL": self.smtp_url}  # fmt: skip

    async def client(self) -> Client:
        """A client configured as the workers are (the same payload keys): `claimflow.temporal.connect`
        with their environment. The first call creates the data directory's key file, if any."""
        with mock.patch.dict(os.environ, self.env(), clear=True):
            return await connect(load_settings())

    async def start(self) -> subprocess.Popen:
        """A new worker, once it polls the task queue."""
        self.started += 1
        log_path = self.data_dir / f"worker-{self.started}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([str(CLAIMS), "worker"], env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        self.running.append(process)

        def polling() -> bool:
            assert process.poll() is None, f"worker exited with {process.returncode}: {log_path.read_text()}"
            return "worker polling task queue" in log_path.read_text()

        await until(polling, "the worker polls", timeout=60, every=0.1)
        return process

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        process.send_signal(sig)
        process.wait(timeout=30)
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.kill(process, signal.SIGTERM if process.poll() is None else signal.SIGKILL)


async def drive(client: Client, number: str, policy: Policy, today: date, on_action=None) -> ClaimView:
    """Open the README's paid repair as claim `number` and send its 9 actions, each with a
    request id (a resend after a lost answer is the same update); `on_action(i)` runs
    before the i-th. Returns the claim's view."""
    await open_claim(client, claim_input(paid_repair_intake(number, today), policy, today))
    for i, action in enumerate(README_PAID_REPAIR):
        if on_action is not None:
            await on_action(i)
        for _attempt in range(10):
            try:
                await asyncio.wait_for(act(client, number, action, request_id=f"{number}-{i}"), 60)
                break
            except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                continue
        else:
            raise AssertionError(f"claim {number} never answered {type(action).__name__}")
    return await view(client, number)


async def settled(client: Client, number: str) -> bool:
    """No workflow task, activity or update in flight (describe, on the real server)."""
    described = (await client.get_workflow_handle(number).describe()).raw_description
    return not described.pending_activities and not described.pending_workflow_task.ByteSize()


async def pending_activities(client: Client, number: str) -> list:
    return list((await client.get_workflow_handle(number).describe()).raw_description.pending_activities)


async def identities(client: Client, number: str) -> Counter:
    """The worker identities that started the claim's workflow and activity tasks."""
    count: Counter = Counter()
    for event in (await client.get_workflow_handle(number).fetch_history()).events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            count[event.workflow_task_started_event_attributes.identity] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            count[event.activity_task_started_event_attributes.identity] += 1
    return count


@dataclass
class ReadModel:
    """What the read model holds, per claim number."""

    claims: Counter
    events: dict[str, list[tuple[int, str]]]  # (seq, summary), in seq order
    notifications: dict[str, str | None]  # key -> delivered_at (None: not delivered)
    notification_claims: dict[str, str]  # key -> claim number


def read_model(database_url: str) -> ReadModel:
    engine = engine_for(database_url)
    try:
        with Session(engine) as session:
            claims = Counter(dict(session.exec(select(ClaimRow.claim_number, func.count()).group_by(ClaimRow.claim_number)).all()))
            events: dict[str, list] = {}
            rows = session.exec(select(ClaimEventRow.claim_number, ClaimEventRow.seq, ClaimEventRow.summary)
                                .order_by(ClaimEventRow.claim_number, ClaimEventRow.seq)).all()  # fmt: skip
            for number, seq, summary in rows:
                events.setdefault(number, []).append((seq, summary))
            notes = session.exec(select(NotificationRow.key, NotificationRow.delivered_at, NotificationRow.claim_number)).all()
    finally:
        engine.dispose()
    return ReadModel(claims, events, {k: d for k, d, _ in notes}, {k: n for k, _, n in notes})


def outbox_keys(data_dir: Path) -> Counter:
    return Counter(n.key for n in read_outbox(data_dir / "outbox.jsonl"))


def assert_exactly_once(
    views: dict[str, ClaimView], model: ReadModel, outbox: Counter, mailed: Counter | None, in_flight: int = 0
) -> None:
    """One read-model row per claim, one event row per timeline entry (numbered 0.., the
    same summaries), every delivered notification once in the outbox (and the mailbox)."""
    assert model.claims == Counter({number: 1 for number in views}), "claim rows"
    for number, claim in views.items():
        rows, timeline = model.events.get(number, []), [(i, e.summary) for i, e in enumerate(claim.timeline)]
        differ = next((i for i, (a, b) in enumerate(zip(rows, timeline)) if a != b), min(len(rows), len(timeline)))
        assert rows == timeline, (f"{number}: read model {len(rows)} rows, timeline {len(timeline)} entries, from {differ}: "
                                  f"{rows[differ:differ + 3]} vs {timeline[differ:differ + 3]}")
    twice = {key: n for key, n in outbox.items() if n > 1}
    assert not twice, f"notifications in the outbox more than once: {twice}"
    delivered = {key for key, at in model.notifications.items() if at is not None}
    assert set(outbox) == delivered, "outbox lines vs notifications marked delivered"
    if mailed is not None:
        twice = {key: n for key, n in mailed.items() if n > 1}
        assert not twice, f"notifications e-mailed more than once: {twice}"
        # e-mailed, not yet recorded: only a send whose worker died before its commit (the
        # documented at-least-once window) and whose retry is still to come (`in_flight`)
        assert len(set(mailed) - set(outbox)) <= in_flight, "e-mailed but not in the outbox"


class SMTPCatcher:
    """An SMTP server on loopback (aiosmtpd) that answers 451 to the first `refuse`
    messages, then keeps each message's X-Claimflow-Key."""

    def __init__(self, refuse: int = 0):
        self.refuse, self.refused, self.keys = refuse, 0, Counter()
        self.port = free_port()
        self.url = f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.refused < self.refuse:
            self.refused += 1
            return "451 Try again later"
        message = BytesParser(policy=email_policy.default).parsebytes(envelope.original_content or envelope.content)
        self.keys[message["X-Claimflow-Key"]] += 1
        return "250 OK"

    def __enter__(self) -> "SMTPCatcher":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
