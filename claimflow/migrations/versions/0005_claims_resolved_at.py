"""claims.resolved_at: the dashboard's time to resolve without reading the timeline

`resolved_at` is when the claim was resolved (models.claim.resolved_at): the last entry
into the post-repair window, else the moment it completed. The projection writes it; rows
already there get it from their timeline here. An index on escalations.at serves the
dashboard's weekly counts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
INTO_WINDOW = "%→ post_repair_warranty"


def upgrade() -> None:
    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("resolved_at", TIME(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE claims SET resolved_at = COALESCE("
            "(SELECT MAX(e.at) FROM claim_events e WHERE e.claim_key = claims.claim_key AND e.kind = 'state' "
            "AND e.summary LIKE :into), updated_at) WHERE state IN ('completed', 'post_repair_warranty')"
        ).bindparams(into=INTO_WINDOW)
    )
    op.create_index("ix_escalations_at", "escalations", ["at"])


def downgrade() -> None:
    op.drop_index("ix_escalations_at", table_name="escalations")
    with op.batch_alter_table("claims") as batch:
        batch.drop_column("resolved_at")
