"""complaints and their timelines

`complaints`: one row per complaint (models.read_model.ComplaintRow), written by the
complaint workflow's projection; lists sort by `deadline_sort` and filter on state,
department, category, overdue and the claim a complaint is about. `complaint_events`: a
complaint's timeline, one row per entry.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime
LIST_INDEXES = {
    "ix_complaints_list": ("deadline_sort", "complaint_key"),
    **{f"ix_complaints_{c}": (c, "deadline_sort", "complaint_key") for c in ("department", "category", "state")},
    "ix_complaints_complaint_number": ("complaint_number",),
    "ix_complaints_claim_number": ("claim_number",),
    "ix_complaints_overdue": ("overdue",),
}


def upgrade() -> None:
    op.create_table(
        "complaints",
        sa.Column("complaint_key", STR(), nullable=False),
        sa.Column("complaint_number", STR(), nullable=False),
        sa.Column("policy", STR(), nullable=False),
        sa.Column("channel", STR(), nullable=False),
        sa.Column("category", STR(), nullable=False),
        sa.Column("department", STR(), nullable=False),
        sa.Column("state", STR(), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("claim_number", STR(), nullable=True),
        sa.Column("opened_at", TIME(), nullable=False),
        sa.Column("updated_at", TIME(), nullable=False),
        sa.Column("reply_due_at", TIME(), nullable=True),
        sa.Column("due_at", TIME(), nullable=True),
        sa.Column("due_what", STR(), nullable=True),
        sa.Column("deadline_sort", TIME(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", STR(), nullable=True),
        sa.Column("replied_at", TIME(), nullable=True),
        sa.Column("replied_late", sa.Boolean(), nullable=True),
        sa.Column("reopens", sa.Integer(), nullable=False),
        sa.Column("closed_at", TIME(), nullable=True),
        sa.Column("last_action", STR(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("complaint_key"),
    )
    for name, columns in LIST_INDEXES.items():
        op.create_index(name, "complaints", list(columns))
    op.create_table(
        "complaint_events",
        sa.Column("complaint_key", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("complaint_number", STR(), nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("kind", STR(), nullable=False),
        sa.Column("summary", STR(), nullable=False),
        sa.Column("by", STR(), nullable=True),
        sa.ForeignKeyConstraint(["complaint_key"], ["complaints.complaint_key"], onupdate="CASCADE"),
        sa.PrimaryKeyConstraint("complaint_key", "seq"),
    )
    op.create_index("ix_complaint_events_complaint_number", "complaint_events", ["complaint_number"])


def downgrade() -> None:
    op.drop_index("ix_complaint_events_complaint_number", table_name="complaint_events")
    op.drop_table("complaint_events")
    for name in LIST_INDEXES:
        op.drop_index(name, table_name="complaints")
    op.drop_table("complaints")
