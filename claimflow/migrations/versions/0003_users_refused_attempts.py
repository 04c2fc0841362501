"""users of the web UI; refused attempts

`users`: who signs in to the web UI, with a role and an argon2 hash. `refused_attempts`:
actions a claim refused, which Temporal does not record.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STR = sqlmodel.sql.sqltypes.AutoString
TIME = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", STR(), nullable=False),
        sa.Column("role", STR(), nullable=False),
        sa.Column("password_hash", STR(), nullable=False),
        sa.Column("locale", STR(), nullable=False),
        sa.Column("timezone", STR(), nullable=False),
        sa.Column("email", STR(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "refused_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_number", STR(), nullable=False),
        sa.Column("action", STR(), nullable=False),
        sa.Column("by", STR(), nullable=False),
        sa.Column("at", TIME(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_refused_attempts_claim_number", "refused_attempts", ["claim_number"])


def downgrade() -> None:
    op.drop_index("ix_refused_attempts_claim_number", table_name="refused_attempts")
    op.drop_table("refused_attempts")
    op.drop_table("users")
