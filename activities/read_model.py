"""The `project_claim` activity: writes a claim's snapshot into the SQL read model."""

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from claimflow.projection import apply_snapshot
from models.claim import ClaimSnapshot
from workflows.names import PROJECT_CLAIM


class ReadModelActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=PROJECT_CLAIM)
    def project_claim(self, snapshot: ClaimSnapshot) -> bool:
        """Idempotent: a retry, or an older snapshot arriving late, changes nothing."""
        with Session(self.engine) as session, session.begin():
            return apply_snapshot(session, snapshot)
