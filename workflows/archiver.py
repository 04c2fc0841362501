"""ArchiverWorkflow: what the archive Schedule starts every few minutes — one archiving
pass, run as the `archive_closed_claims` activity (claimflow/archive.py).

Deterministic and tiny; it imports nothing but temporalio, so the worker's sandbox loads
it cheaply.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

ARCHIVER = "ClaimArchiver"  # the workflow type
ARCHIVE_ACTIVITY = "archive_closed_claims"
ARCHIVE_SCHEDULE_ID = "claimflow-archive-closed-claims"


@workflow.defn(name=ARCHIVER)
class ArchiverWorkflow:
    @workflow.run
    async def run(self) -> int:
        """Archive the claims closed since the last pass; returns how many were archived."""
        return await workflow.execute_activity(
            ARCHIVE_ACTIVITY,
            start_to_close_timeout=timedelta(minutes=30),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=3),
            result_type=int,
        )
