"""The claimflow worker: runs the claim workflows, the archiver and their activities on the
`claims` task queue.

Run it with `python worker.py` (uses TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
CLAIMFLOW_DATA_DIR; SMTP_URL and MAIL_FROM for e-mail). Several workers may share the task queue.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from sqlalchemy import Engine

from activities.archive import ArchiveActivities
from activities.complaint_read_model import ComplaintReadModelActivities
from activities.notify import NotifyActivities
from activities.read_model import ReadModelActivities
from claimflow.db import engine_for, migrate
from claimflow.mail import Mailer, mailer_for
from claimflow.settings import TASK_QUEUE, Settings, load_settings
from claimflow.temporal import TemporalUnreachable, connect
from workflows.archiver import ArchiverWorkflow
from workflows.claim import ClaimWorkflow
from workflows.claim_v1 import ClaimWorkflowV1
from workflows.complaint import ComplaintWorkflow

WORKFLOWS = [ClaimWorkflow, ClaimWorkflowV1, ArchiverWorkflow, ComplaintWorkflow]  # the frozen first engine replays older claims
# Pure, deterministic modules: imported once and shared by every workflow's sandbox instead
# of imported afresh for each (re-executing workflows/claim.py cost every claim about 30 ms
# of CPU and 300 KB of memory for as long as it was cached: bench/README.md). models/ and
# workflows/ may be passed through because nothing in them reads a clock, a file, the
# environment or randomness, and workflows/ keeps no mutable state at module level
# (tests/test_purity.py checks both); the sandbox still runs each workflow in isolation. The
# holidays library is not passed through (it reads files).
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("models", "pydantic", "dateutil", "workflows")
)


def build_worker(
    client: Client, outbox: Path, task_queue: str = TASK_QUEUE, engine: Engine | None = None,
    mailer: Mailer | None = None,
) -> Worker:  # fmt: skip
    """A worker for every workflow and activity. The read model is `engine`'s database
    (created or migrated here), by default SQLite beside the outbox; notifications are
    e-mailed through `mailer` (None: the outbox only)."""
    if engine is None:
        engine = engine_for(f"sqlite:///{outbox.parent / 'claims.db'}")
    migrate(engine)
    notify = NotifyActivities(outbox, engine, mailer)
    read_model = ReadModelActivities(engine)
    archive = ArchiveActivities(engine)
    complaints = ComplaintReadModelActivities(engine)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[notify.notify, read_model.project_claim, archive.archive_closed_claims,
                    complaints.project_complaint],
        activity_executor=ThreadPoolExecutor(max_workers=8),
        workflow_runner=SANDBOX,
    )


async def run_worker(stop: asyncio.Event | None = None, settings: Settings | None = None) -> None:
    """Run a worker with `settings` (default: the environment's) until `stop` is set."""
    settings = settings or load_settings()
    client = await connect(settings)
    worker = build_worker(
        client, settings.outbox, engine=engine_for(settings.database_url), mailer=mailer_for(settings)
    )
    logging.info("worker polling task queue %r on %s", TASK_QUEUE, settings.temporal_address)
    if stop is None:
        await worker.run()
        return
    async with worker:
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(run_worker())
    except TemporalUnreachable as err:  # bad TEMPORAL_* settings or no server: one line, no traceback
        raise SystemExit(f"error: {err}") from None
    except KeyboardInterrupt:  # Ctrl-C: the worker has shut down
        pass
