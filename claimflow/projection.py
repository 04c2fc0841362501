"""Writing the read model: one function per kind of write, each idempotent.

`apply_snapshot` upserts a claim's row and the timeline entries and escalations it
carries; the row's `version` is the position marker, written in the same transaction.
An older or repeated snapshot changes nothing, so a retried activity leaves one row.
"""

from sqlmodel import Session

from models.claim import ClaimSnapshot, Notification
from models.read_model import ClaimEventRow, ClaimRow, EscalationRow, NotificationRow

ROW_FIELDS = [
    "policy", "kind", "state", "channel", "remedy", "product_model", "serial_number", "opened_at",
    "updated_at", "next_deadline_at", "next_deadline_kind", "overdue", "escalation_level",
    "assignee", "last_action", "version",
]  # fmt: skip


def apply_snapshot(session: Session, snapshot: ClaimSnapshot) -> bool:
    """Project `snapshot`; False when the row already holds this version or a newer one."""
    row = session.get(ClaimRow, snapshot.claim_number)
    if row is not None and row.version >= snapshot.version:
        return False
    values = snapshot.model_dump(include=set(ROW_FIELDS), mode="json")
    values |= {"opened_at": snapshot.opened_at, "updated_at": snapshot.updated_at,
               "next_deadline_at": snapshot.next_deadline_at}  # fmt: skip
    if row is None:
        session.add(ClaimRow(claim_number=snapshot.claim_number, **values))
        session.flush()
    else:
        for name, value in values.items():
            setattr(row, name, value)
    for seq, entry in enumerate(snapshot.events, start=snapshot.events_from):
        session.merge(
            ClaimEventRow(
                claim_number=snapshot.claim_number, seq=seq, at=entry.at, kind=entry.kind,
                summary=entry.summary, by=entry.by,
            )  # fmt: skip
        )
    for escalation in snapshot.escalations:
        session.merge(
            EscalationRow(
                claim_number=snapshot.claim_number, deadline=escalation.deadline.value, cycle=escalation.cycle,
                step=escalation.step, level=escalation.level.value, notify=escalation.notify, at=escalation.at,
            )  # fmt: skip
        )
    return True


def record_notification(session: Session, notification: Notification) -> bool:
    """Store a sent notification once per key; False when it is already there."""
    if session.get(NotificationRow, notification.key) is not None:
        return False
    session.add(
        NotificationRow(
            key=notification.key, claim_number=notification.claim_number, role=notification.role,
            level=notification.level.value, subject=notification.subject, at=notification.at,
        )  # fmt: skip
    )
    return True
