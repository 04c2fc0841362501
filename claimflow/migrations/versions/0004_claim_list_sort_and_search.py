"""claim lists: an indexable sort key, an index per filter, search by serial and RMA

Lists sort by the claim's deadline, claims without one last. `ORDER BY next_deadline_at IS
NULL, …` cannot be read from an index, so every filter sorted its whole result. Claims get
`deadline_sort` (never null: the deadline, or 9999-12-31 for none) and an index per
filter, (column, deadline_sort, claim_key, state, overdue, escalated): a page is read in
index order and the counts per state from the index alone. The single-column indexes that these begin
with (state, policy, overdue, assignee) go.

New columns: `due_at`/`due_kind` (the deadline the claim is chased on; a passed one
counts while the claim is open), `deadline_sort`, `escalated` (escalation_level is not
null, indexable with the sort) and `rma_number` (searchable, as is `serial_number`).
Rows already there get them from what they hold: due_at = next_deadline_at; their RMA
number, and the passed deadline of an overdue claim, come with the claim's next change or
`claims reindex`.

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)  # models.read_model.NO_DEADLINE, as of this revision

ORDER = ("deadline_sort", "claim_key")
HELD = ("state", "overdue", "escalated")  # in every index after the order
INDEXES = {
    "ix_claims_list": (*ORDER, *HELD, "opened_at"),
    **{
        f"ix_claims_list_{column}": (column, *ORDER, *(c for c in HELD if c != column))
        for column in ("state", "policy", "channel", "overdue", "escalated", "assignee")
    },
    "ix_claims_serial_number": ("serial_number",),
    "ix_claims_rma_number": ("rma_number",),
}
REPLACED = ("state", "policy", "overdue", "assignee")  # ix_claims_<column>: prefixes of the new indexes


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        batch_op.add_column(sa.Column("rma_number", STR(), nullable=True))
        batch_op.add_column(sa.Column("due_at", TIME(), nullable=True))
        batch_op.add_column(sa.Column("due_kind", STR(), nullable=True))
        batch_op.add_column(sa.Column("deadline_sort", TIME(), nullable=True))
        batch_op.add_column(sa.Column("escalated", sa.Boolean(), nullable=True))
    claims = sa.table(
        "claims",
        sa.column("next_deadline_at", TIME()), sa.column("next_deadline_kind", STR()), sa.column("due_at", TIME()),
        sa.column("due_kind", STR()), sa.column("deadline_sort", TIME()), sa.column("escalated", sa.Boolean()),
        sa.column("escalation_level", STR()),
    )  # fmt: skip
    op.execute(
        claims.update().values(
            due_at=claims.c.next_deadline_at,
            due_kind=claims.c.next_deadline_kind,
            deadline_sort=sa.func.coalesce(claims.c.next_deadline_at, sa.bindparam("none", NO_DEADLINE, type_=TIME())),
            escalated=claims.c.escalation_level.is_not(None),
        )
    )
    with op.batch_alter_table("claims") as batch_op:
        batch_op.alter_column("deadline_sort", existing_type=TIME(), nullable=False)
        batch_op.alter_column("escalated", existing_type=sa.Boolean(), nullable=False)
        for column in REPLACED:
            batch_op.drop_index(f"ix_claims_{column}")
        for name, columns in INDEXES.items():
            batch_op.create_index(name, list(columns))


def downgrade() -> None:
    with op.batch_alter_table("claims") as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
        for column in REPLACED:
            batch_op.create_index(f"ix_claims_{column}", [column])
        for column in ("escalated", "deadline_sort", "due_kind", "due_at", "rma_number"):
            batch_op.drop_column(column)
