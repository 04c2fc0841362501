"""claim rows keyed by first run id; claim_archive; notifications.delivered_at

Claims, their events and escalations were keyed by claim number, so a number reused after
its old workflow was deleted merged into the old claim's rows. They are now keyed by
`claim_key` (the first run id of the claim's workflow). Rows already there keep their
claim number as key: the projection re-keys such a row to the run id when a snapshot of
the same claim (same number, same opening time) carries one.

Escalations get `extension` in their key: a step may fire again after its deadline was
extended.

Notifications get `delivered_at`; rows already there were appended to the outbox before
they were recorded, so they count as delivered at their own time.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime

CLAIM_INDEXES = ["claim_number", "assignee", "escalation_level", "next_deadline_at", "overdue", "policy", "state",
                 "updated_at"]  # fmt: skip
CLAIM_COLUMNS = ["claim_number", "policy", "kind", "state", "channel", "remedy", "product_model", "serial_number",
                 "opened_at", "updated_at", "next_deadline_at", "next_deadline_kind", "overdue", "escalation_level",
                 "assignee", "last_action", "version"]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "claims_keyed",
        sa.Column("claim_key", STR(), nullable=False),
        sa.Column("claim_number", STR(), nullable=False),
        sa.Column("policy", STR(), nullable=False),
        sa.Column("kind", STR(), nullable=False),
        sa.Column("state", STR(), nullable=False),
        sa.Column("channel", STR(), nullable=False),
        sa.Column("remedy", STR(), nullable=True),
        sa.Column("product_model", STR(), nullable=True),
        sa.Column("serial_number", STR(), nullable=True),
        sa.Column("opened_at", TIME(), nullable=False),
        sa.Column("updated_at", TIME(), nullable=False),
        sa.Column("next_deadline_at", TIME(), nullable=True),
        sa.Column("next_deadline_kind", STR(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("escalation_level", STR(), nullable=True),
        sa.Column("assignee", STR(), nullable=True),
        sa.Column("last_action", STR(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("claim_key", name="claims_keyed_pkey"),
    )
    columns = ", ".join(CLAIM_COLUMNS)
    op.execute(f"INSERT INTO claims_keyed (claim_key, {columns}) SELECT claim_number, {columns} FROM claims")

    op.create_table(
        "claim_events_keyed",
        sa.Column("claim_key", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("claim_number", STR(), nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("kind", STR(), nullable=False),
        sa.Column("summary", STR(), nullable=False),
        sa.Column("by", STR(), nullable=True),
        sa.ForeignKeyConstraint(["claim_key"], ["claims_keyed.claim_key"], onupdate="CASCADE",
                                name="claim_events_claim_key_fkey"),  # fmt: skip
        sa.PrimaryKeyConstraint("claim_key", "seq", name="claim_events_keyed_pkey"),
    )
    op.execute(
        "INSERT INTO claim_events_keyed (claim_key, seq, claim_number, at, kind, summary, by) "
        "SELECT claim_number, seq, claim_number, at, kind, summary, by FROM claim_events"
    )
    op.create_table(
        "escalations_keyed",
        sa.Column("claim_key", sa.String(), nullable=False),
        sa.Column("deadline", STR(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("extension", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("claim_number", STR(), nullable=False),
        sa.Column("level", STR(), nullable=False),
        sa.Column("notify", STR(), nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.ForeignKeyConstraint(["claim_key"], ["claims_keyed.claim_key"], onupdate="CASCADE",
                                name="escalations_claim_key_fkey"),  # fmt: skip
        sa.PrimaryKeyConstraint("claim_key", "deadline", "cycle", "step", "extension", name="escalations_keyed_pkey"),
    )
    op.execute(
        "INSERT INTO escalations_keyed (claim_key, deadline, cycle, step, claim_number, level, notify, at) "
        "SELECT claim_number, deadline, cycle, step, claim_number, level, notify, at FROM escalations"
    )
    op.drop_table("escalations")  # their indexes go with them
    op.drop_table("claim_events")
    op.drop_table("claims")
    op.rename_table("claims_keyed", "claims")
    op.rename_table("claim_events_keyed", "claim_events")
    op.rename_table("escalations_keyed", "escalations")
    for name in CLAIM_INDEXES:
        op.create_index(f"ix_claims_{name}", "claims", [name])
    op.create_index("ix_claim_events_claim_number", "claim_events", ["claim_number"])
    op.create_index("ix_escalations_claim_number", "escalations", ["claim_number"])
    op.create_index("ix_escalations_level", "escalations", ["level"])

    with op.batch_alter_table("notifications") as batch_op:
        batch_op.add_column(sa.Column("delivered_at", TIME(), nullable=True))
    op.execute("UPDATE notifications SET delivered_at = at")

    op.create_table(
        "claim_archive",
        sa.Column("workflow_id", STR(), nullable=False),
        sa.Column("run_id", STR(), nullable=False),
        sa.Column("first_run_id", STR(), nullable=True),
        sa.Column("claim_number", STR(), nullable=False),
        sa.Column("workflow_type", STR(), nullable=False),
        sa.Column("close_status", STR(), nullable=False),
        sa.Column("close_time", TIME(), nullable=False),
        sa.Column("history_sha256", STR(), nullable=False),
        sa.Column("history_json", sa.Text(), nullable=False),
        sa.Column("final_view_json", sa.Text(), nullable=True),
        sa.Column("archived_at", TIME(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "run_id"),
    )
    op.create_index("ix_claim_archive_claim_number", "claim_archive", ["claim_number"])
    op.create_index("ix_claim_archive_close_time", "claim_archive", ["close_time"])
    op.create_table(
        "archive_progress",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listed_until", TIME(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "0002 keys claims by run id and may hold two claims with one number; "
        "restore a backup, or drop the tables and run `claims reindex` on 0001"
    )
