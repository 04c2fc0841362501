import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.notify import read_outbox
from claimflow.binaries import temporal_test_server
from claimflow.claims import claim_input, open_claim
from claimflow.policy_files import load_policy
from claimflow.settings import REPO_ROOT
from models.calendar import local_date
from models.claim import ClaimIntake, ClaimView, Notification
from models.policy import Policy
from worker import build_worker
from workflows.claim import ClaimWorkflow

POLICY_DIR = REPO_ROOT / "policies"


@pytest.fixture(scope="session")
def changkong() -> Policy:
    return load_policy(POLICY_DIR, "changkong")


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server(), data_converter=pydantic_data_converter
    ) as env:
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

    @property
    def client(self) -> Client:
        return self.env.client

    async def today(self, policy: Policy) -> date:
        return local_date(await self.env.get_current_time(), policy.timezone)

    async def open(self, policy: Policy, bought_days_ago: int = 30, **changes) -> WorkflowHandle:
        claim = intake(policy, await self.today(policy), bought_days_ago, **changes)
        return await open_claim(self.client, claim_input(claim, policy), self.task_queue)

    async def view(self, handle: WorkflowHandle) -> ClaimView:
        return await handle.query(ClaimWorkflow.view)

    def notifications(self) -> list[Notification]:
        return read_outbox(self.outbox)


@pytest.fixture
async def claims(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Claims]:
    task_queue = f"claims-{uuid.uuid4().hex[:8]}"
    outbox = tmp_path / "outbox.jsonl"
    async with build_worker(env.client, outbox, task_queue=task_queue):
        yield Claims(env=env, task_queue=task_queue, outbox=outbox)
