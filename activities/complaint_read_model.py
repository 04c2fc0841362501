"""The `project_complaint` activity: writes a complaint's snapshot into the SQL read model."""

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from claimflow.complaint_projection import apply_complaint_snapshot
from models.complaint import ComplaintSnapshot
from workflows.names import PROJECT_COMPLAINT


class ComplaintReadModelActivities:
    def __init__(self, engine: Engine):
        self.engine = engine

    @activity.defn(name=PROJECT_COMPLAINT)
    def project_complaint(self, snapshot: ComplaintSnapshot) -> bool:
        """Idempotent: a retry, or an older snapshot arriving late, changes nothing."""
        with Session(self.engine) as session, session.begin():
            return apply_complaint_snapshot(session, snapshot)
