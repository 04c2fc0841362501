"""Refused attempts: actions a claim refused, kept in the read model's `refused_attempts`.

Temporal keeps no trace of an update its validator rejects, so the web UI records each
refusal here (who tried which action, when, and the claim's reason) and the claim page
lists them. Written by the web UI only; nothing reads them back into a claim.
"""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from models.read_model import RefusedAttemptRow

SHOWN_MAX = 100  # the claim page lists at most this many, the newest


def record_refused(
    engine: Engine, claim_number: str, action: str, by: str, reason: str, at: datetime | None = None
) -> RefusedAttemptRow:
    """Record that `by` tried `action` on the claim and it was refused for `reason`."""
    row = RefusedAttemptRow(
        claim_number=claim_number, action=action, by=by, at=at or datetime.now(UTC), reason=reason
    )
    with Session(engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
        return row


def refused_attempts(engine: Engine, claim_number: str, limit: int = SHOWN_MAX) -> list[RefusedAttemptRow]:
    """The claim's refused attempts, the newest first (claimflow never opens a number twice,
    so all of the number's are the claim's)."""
    query = (
        select(RefusedAttemptRow)
        .where(RefusedAttemptRow.claim_number == claim_number)
        .order_by(RefusedAttemptRow.at.desc(), RefusedAttemptRow.id.desc())
        .limit(limit)
    )
    with Session(engine) as session:
        return list(session.exec(query))
