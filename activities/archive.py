"""The `archive_closed_claims` activity: one archiving pass (claimflow/archive.py), started
by the ClaimArchiver workflow on the archive schedule."""

from sqlalchemy import Engine
from temporalio import activity

from claimflow.archive import archive_closed_claims
from workflows.archiver import ARCHIVE_ACTIVITY


class ArchiveActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=ARCHIVE_ACTIVITY)
    async def archive_closed_claims(self) -> int:
        """One archiving pass with the worker's client; how many claims it archived."""
        report = await archive_closed_claims(activity.client(), self.engine, heartbeat=activity.heartbeat)
        if report.failed:
            activity.logger.warning("could not archive (history unreadable): %s", ", ".join(report.failed))
        return report.archived
