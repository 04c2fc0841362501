"""The SQL read model: tables that serve claim lists. A projection of the workflows.

Workflows are the source of truth. These rows are written only by activities (and by
`claims reindex`, which rebuilds them from Temporal), always through
`claimflow.projection`, keyed so that writing the same snapshot twice leaves one row.
Never imported by workflow code.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel


class ClaimRow(SQLModel, table=True):
    """One row per claim: what lists show and filter on."""

    __tablename__ = "claims"

    claim_number: str = Field(primary_key=True)
    policy: str = Field(index=True)
    kind: str
    state: str = Field(index=True)
    channel: str
    remedy: str | None = None
    product_model: str | None = None
    serial_number: str | None = None
    opened_at: datetime
    updated_at: datetime = Field(index=True)
    next_deadline_at: datetime | None = Field(default=None, index=True)
    next_deadline_kind: str | None = None
    overdue: bool = Field(default=False, index=True)
    escalation_level: str | None = Field(default=None, index=True)
    assignee: str | None = Field(default=None, index=True)  # the agent who acted last
    last_action: str | None = None
    version: int = 0  # position marker: how much of the claim's timeline is projected


class ClaimEventRow(SQLModel, table=True):
    """The claim's timeline, one row per entry, numbered from 0."""

    __tablename__ = "claim_events"

    claim_number: str = Field(primary_key=True, foreign_key="claims.claim_number")
    seq: int = Field(primary_key=True)
    at: datetime
    kind: str
    summary: str
    by: str | None = None


class EscalationRow(SQLModel, table=True):
    """Each rung of an escalation ladder that fired."""

    __tablename__ = "escalations"

    claim_number: str = Field(primary_key=True, foreign_key="claims.claim_number")
    deadline: str = Field(primary_key=True)
    cycle: int = Field(primary_key=True)
    step: int = Field(primary_key=True)
    level: str = Field(index=True)
    notify: str
    at: datetime


class NotificationRow(SQLModel, table=True):
    """Each notification sent, once per key (written by the notify activity)."""

    __tablename__ = "notifications"

    key: str = Field(primary_key=True)
    claim_number: str = Field(index=True)
    role: str
    level: str
    subject: str
    at: datetime
