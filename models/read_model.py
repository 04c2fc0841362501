"""The SQL read model: tables that serve claim lists. A projection of the workflows.

Workflows are the source of truth. These rows are written only by activities (and by
`claims reindex`, which rebuilds them from Temporal), always through
`claimflow.projection`, keyed so that writing the same snapshot twice leaves one row.
Never imported by workflow code.

A claim's rows are keyed by `claim_key`: the first run id of its workflow (for a claim of
the first engine, which does not know it, the run id reindex saw, else the claim number).
A claim number reused after its old workflow was deleted gets rows of its own.
"""

from datetime import UTC, datetime

from sqlalchemy import Column, ForeignKey, Index, String, Text
from sqlmodel import Field, SQLModel

CLAIM_KEY_FK = "claims.claim_key"
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)  # `deadline_sort` of a claim with no deadline: it sorts last

# Claim lists are sorted by (deadline_sort, claim_key) and filtered on a column or two:
# each filter has an index that starts with its column and then gives that order, so a
# page is read in index order (no sort), and a "next page" seeks past the last row's key.
# Each then holds `state` and the two flags, so that the counts per state under a filter
# (and a flag), and a page under a filter and a flag, read the index alone; the index
# without a filter holds `opened_at` too, for "opened between".
LIST_ORDER = ("deadline_sort", "claim_key")
LIST_FILTERS = ("state", "policy", "channel", "overdue", "escalated", "assignee")
LIST_HELD = ("state", "overdue", "escalated")
LIST_INDEXES = {
    "ix_claims_list": (*LIST_ORDER, *LIST_HELD, "opened_at"),
    **{f"ix_claims_list_{c}": (c, *LIST_ORDER, *(held for held in LIST_HELD if held != c)) for c in LIST_FILTERS},
}


class ClaimRow(SQLModel, table=True):
    """One row per claim: what lists show and filter on."""

    __tablename__ = "claims"
    __table_args__ = tuple(Index(name, *columns) for name, columns in LIST_INDEXES.items())

    claim_key: str = Field(primary_key=True)  # first run id of the claim's workflow (see the module doc)
    claim_number: str = Field(index=True)
    policy: str  # (indexes: LIST_INDEXES)
    kind: str
    state: str
    channel: str
    remedy: str | None = None
    product_model: str | None = None
    serial_number: str | None = Field(default=None, index=True)
    rma_number: str | None = Field(default=None, index=True)
    opened_at: datetime
    updated_at: datetime = Field(index=True)
    next_deadline_at: datetime | None = Field(default=None, index=True)  # the next deadline not yet passed
    next_deadline_kind: str | None = None
    # The deadline the claim is chased on: the earliest open one whose clock runs, a passed
    # one included while the claim is open (then it is overdue). Lists sort and show it.
    due_at: datetime | None = None
    due_kind: str | None = None
    deadline_sort: datetime = NO_DEADLINE  # due_at, or NO_DEADLINE: the list's sort key, never null
    overdue: bool = False
    escalation_level: str | None = Field(default=None, index=True)
    escalated: bool = False  # escalation_level is not None (a column of its own: indexable with the sort)
    assignee: str | None = None  # who the claim is assigned to, else the agent who acted last
    last_action: str | None = None
    version: int = 0  # position marker: how much of the claim's timeline is projected
    resolved_at: datetime | None = None  # when it was resolved (models.claim.resolved_at): time to resolve


class ClaimEventRow(SQLModel, table=True):
    """The claim's timeline, one row per entry, numbered from 0."""

    __tablename__ = "claim_events"

    claim_key: str = Field(
        sa_column=Column(String, ForeignKey(CLAIM_KEY_FK, onupdate="CASCADE"), primary_key=True)
    )
    seq: int = Field(primary_key=True)
    claim_number: str = Field(index=True)
    at: datetime
    kind: str
    summary: str
    by: str | None = None


class EscalationRow(SQLModel, table=True):
    """Each rung of an escalation ladder that fired."""

    __tablename__ = "escalations"

    claim_key: str = Field(
        sa_column=Column(String, ForeignKey(CLAIM_KEY_FK, onupdate="CASCADE"), primary_key=True)
    )
    deadline: str = Field(primary_key=True)
    cycle: int = Field(primary_key=True)
    step: int = Field(primary_key=True)
    extension: int = Field(default=0, primary_key=True)  # a step fires again after the deadline is extended
    claim_number: str = Field(index=True)
    level: str = Field(index=True)
    notify: str
    at: datetime


class NotificationRow(SQLModel, table=True):
    """Each notification, once per key (written by the notify activity). `delivered_at`
    is set once its line is in the outbox: a retry finds it set and sends nothing."""

    __tablename__ = "notifications"

    key: str = Field(primary_key=True)
    claim_number: str = Field(index=True)
    role: str
    level: str
    subject: str
    at: datetime
    delivered_at: datetime | None = None


class ClaimArchiveRow(SQLModel, table=True):
    """A closed claim workflow's full history and final view, kept after Temporal's
    retention deletes it; `history_sha256` is the sha256 of `history_json` (UTF-8)."""

    __tablename__ = "claim_archive"

    workflow_id: str = Field(primary_key=True)
    run_id: str = Field(primary_key=True)
    first_run_id: str | None = None  # the claim's first run (keys its read-model rows)
    claim_number: str = Field(index=True)
    workflow_type: str
    close_status: str  # completed, failed, canceled, terminated, timed_out, continued_as_new
    close_time: datetime = Field(index=True)
    history_sha256: str
    history_json: str = Field(sa_column=Column(Text, nullable=False))
    final_view_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    archived_at: datetime


class UserRow(SQLModel, table=True):
    """A person who signs in to the web UI: a role, an argon2 hash, a language."""

    __tablename__ = "users"

    name: str = Field(primary_key=True)
    role: str  # agent, supervisor, auditor, admin (models.enums.UserRole; models/permissions.py)
    password_hash: str
    locale: str = "en"  # en or zh_Hans_CN
    timezone: str = "UTC"  # times are shown in it
    email: str | None = None
    disabled: bool = False
    created_at: datetime


class RefusedAttemptRow(SQLModel, table=True):
    """An action the claim refused (Temporal keeps no trace of a rejected update): who
    tried what, when, and the claim's reason."""

    __tablename__ = "refused_attempts"

    id: int | None = Field(default=None, primary_key=True)
    claim_number: str = Field(index=True)
    action: str
    by: str
    at: datetime
    reason: str = Field(sa_column=Column(Text, nullable=False))


class ArchiveProgressRow(SQLModel, table=True):
    """How far archiving passes have looked: closed claims before `listed_until` are all archived."""

    __tablename__ = "archive_progress"

    id: int = Field(default=1, primary_key=True)
    listed_until: datetime


# --- complaints (models/complaint.py; written by claimflow/complaint_projection.py) ------

COMPLAINT_KEY_FK = "complaints.complaint_key"


class ComplaintRow(SQLModel, table=True):
    """One row per complaint: what complaint lists show and filter on (open, overdue, by
    department, by category, a claim's complaints)."""

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_list", "deadline_sort", "complaint_key"),
        Index("ix_complaints_department", "department", "deadline_sort", "complaint_key"),
        Index("ix_complaints_category", "category", "deadline_sort", "complaint_key"),
        Index("ix_complaints_state", "state", "deadline_sort", "complaint_key"),
    )

    complaint_key: str = Field(primary_key=True)  # first run id of the complaint's workflow
    complaint_number: str = Field(index=True)
    policy: str
    channel: str
    category: str
    department: str
    state: str
    emergency: bool = False
    claim_number: str | None = Field(default=None, index=True)  # the claim it is about
    opened_at: datetime
    updated_at: datetime
    reply_due_at: datetime | None = None  # of the current reply clock
    due_at: datetime | None = None  # the next clock it is chased on
    due_what: str | None = None  # reply, handler, department_head, leader or feedback
    deadline_sort: datetime = NO_DEADLINE  # due_at, or NO_DEADLINE: the lists' sort key
    overdue: bool = Field(default=False, index=True)  # the reply time ran out, no reply yet
    escalation_level: str | None = None  # handler, department_head or leader
    replied_at: datetime | None = None
    replied_late: bool | None = None
    reopens: int = 0
    closed_at: datetime | None = None
    last_action: str | None = None
    version: int = 0  # how much of the complaint's timeline is projected


class ComplaintEventRow(SQLModel, table=True):
    """A complaint's timeline, one row per entry, numbered from 0."""

    __tablename__ = "complaint_events"

    complaint_key: str = Field(
        sa_column=Column(String, ForeignKey(COMPLAINT_KEY_FK, onupdate="CASCADE"), primary_key=True)
    )
    seq: int = Field(primary_key=True)
    complaint_number: str = Field(index=True)
    at: datetime
    kind: str
    summary: str
    by: str | None = None
