"""Writing the read model: one function per kind of write, each idempotent.

`apply_snapshot` writes a claim's row with a compare-and-set on its `version` (the
position marker): `UPDATE … WHERE claim_key = … AND version < new`, else an insert that
does nothing when another writer inserted first, else the update again. Two writers of
different versions, in any order and at the same time, leave the newer one; an older or
repeated snapshot changes nothing. Timeline entries and escalations are immutable once
written, so they are inserted in bulk and existing keys are skipped
(`INSERT … ON CONFLICT DO NOTHING`, SQLite and PostgreSQL alike).

Rows are keyed by `claim_key` (see models/read_model.py): the snapshot's run id; for a
claim of the first engine (no run id) the key of the row already holding that claim
(same number, same opening time), else the claim number.
"""

from datetime import datetime, timezone

from sqlalchemy import Table, and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.claim import ClaimSnapshot, Notification
from models.read_model import NO_DEADLINE, ClaimEventRow, ClaimRow, EscalationRow, NotificationRow

ROW_FIELDS = [
    "claim_number", "policy", "kind", "state", "channel", "remedy", "product_model", "serial_number", "rma_number",
    "opened_at", "updated_at", "next_deadline_at", "next_deadline_kind", "due_kind", "overdue", "escalation_level",
    "assignee", "last_action", "version",
]  # fmt: skip

CLAIMS: Table = ClaimRow.__table__
EVENTS: Table = ClaimEventRow.__table__
ESCALATIONS: Table = EscalationRow.__table__
NOTIFICATIONS: Table = NotificationRow.__table__


def insert_ignoring_existing(session: Session, table: Table):
    """An INSERT that skips rows whose primary key is already there, in this database's dialect."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"the read model supports SQLite and PostgreSQL, not {dialect}")


def claim_key(session: Session, snapshot: ClaimSnapshot) -> str:
    """The key of the claim's rows (see the module doc). With a run id, a row of the same
    claim keyed by its number (written before keys existed, or by the first engine) is
    re-keyed to the run id, with its timeline and escalations."""
    number, opened = snapshot.claim_number, snapshot.opened_at
    if snapshot.run_id is None:
        found = session.execute(
            select(CLAIMS.c.claim_key)
            .where(CLAIMS.c.claim_number == number, CLAIMS.c.opened_at == opened)
            .order_by(CLAIMS.c.claim_key)
            .limit(1)
        ).scalar_one_or_none()
        return found or number
    key = snapshot.run_id
    if key != number:
        other = CLAIMS.alias("other")
        adopted = session.execute(
            update(CLAIMS)
            .where(CLAIMS.c.claim_key == number, CLAIMS.c.claim_number == number, CLAIMS.c.opened_at == opened)
            .where(~exists().where(other.c.claim_key == key))
            .values(claim_key=key)
        )
        if adopted.rowcount:  # PostgreSQL cascades; SQLite does not enforce foreign keys
            for table in (EVENTS, ESCALATIONS):
                session.execute(
                    update(table).where(table.c.claim_key == number, table.c.claim_number == number).values(claim_key=key)
                )
    return key


def row_values(snapshot: ClaimSnapshot) -> dict:
    """The claim row's columns (all but its key) for `snapshot`, the list's sort key included."""
    values = snapshot.model_dump(include=set(ROW_FIELDS), mode="json")
    due = snapshot.due_at or snapshot.next_deadline_at  # (a snapshot made before due_at existed)
    if snapshot.due_at is None and due is not None:
        values["due_kind"] = values["next_deadline_kind"]
    return values | {
        "opened_at": snapshot.opened_at, "updated_at": snapshot.updated_at,
        "next_deadline_at": snapshot.next_deadline_at, "due_at": due, "deadline_sort": due or NO_DEADLINE,
        "escalated": snapshot.escalation_level is not None, "resolved_at": snapshot.resolved_at,
    }  # fmt: skip


def write_claim_row(session: Session, snapshot: ClaimSnapshot) -> str | None:
    """The claim's row by compare-and-set on its version: the row's key, or None when the
    row already holds this version or a newer one."""
    values = row_values(snapshot)

    def newer(key: str):
        return update(CLAIMS).where(and_(CLAIMS.c.claim_key == key, CLAIMS.c.version < snapshot.version)).values(**values)

    if snapshot.run_id is not None and session.execute(newer(snapshot.run_id)).rowcount == 1:
        return snapshot.run_id  # the usual case: the row is there under the run's key, one statement
    key = claim_key(session, snapshot)
    if session.execute(newer(key)).rowcount != 1:
        insert = insert_ignoring_existing(session, CLAIMS).values(claim_key=key, **values)
        inserted = session.execute(insert.returning(CLAIMS.c.claim_key)).first() is not None
        if not inserted and session.execute(newer(key)).rowcount != 1:  # a row was there, or just came
            return None
    return key


def apply_snapshot(session: Session, snapshot: ClaimSnapshot) -> bool:
    """Project `snapshot`; False when the row already holds this version or a newer one.
    The new timeline entries and escalations go in one bulk insert each."""
    key = write_claim_row(session, snapshot)
    if key is None:
        return False
    number = snapshot.claim_number
    events = [
        {"claim_key": key, "seq": seq, "claim_number": number, "at": e.at, "kind": e.kind, "summary": e.summary,
         "by": e.by}  # fmt: skip
        for seq, e in enumerate(snapshot.events, start=snapshot.events_from)
    ]
    if events:
        session.execute(insert_ignoring_existing(session, EVENTS), events)
    escalations = [
        {"claim_key": key, "deadline": e.deadline.value, "cycle": e.cycle, "step": e.step,
         "extension": e.extension, "claim_number": number,
         "level": e.level.value, "notify": e.notify, "at": e.at}  # fmt: skip
        for e in snapshot.escalations
    ]
    if escalations:
        session.execute(insert_ignoring_existing(session, ESCALATIONS), escalations)
    return True


def record_notification(session: Session, notification: Notification) -> bool:
    """Store a notification once per key (not yet delivered); False when it is already there."""
    insert = insert_ignoring_existing(session, NOTIFICATIONS).values(
        key=notification.key, claim_number=notification.claim_number, role=notification.role,
        level=notification.level.value, subject=notification.subject, at=notification.at,
    )  # fmt: skip
    return session.execute(insert.returning(NOTIFICATIONS.c.key)).first() is not None


def claim_delivered(session: Session, key: str) -> datetime | None:
    """When the notification `key` went to the outbox (None: not yet). Locks its row on
    PostgreSQL until the transaction ends, so a second deliverer waits and then sees it set."""
    return session.execute(
        select(NOTIFICATIONS.c.delivered_at).where(NOTIFICATIONS.c.key == key).with_for_update()
    ).scalar_one()


def mark_delivered(session: Session, key: str, at: datetime | None = None) -> None:
    session.execute(
        update(NOTIFICATIONS).where(NOTIFICATIONS.c.key == key).values(delivered_at=at or datetime.now(timezone.utc))
    )


def mark_closed_outside(session: Session, keys: list[str], summary: str) -> int:
    """A claim whose workflow was ended outside claimflow (terminated in Temporal): its row
    says so and shows no deadline; how many rows changed. `keys`: the claim's possible keys
    (its first run id, and its number for a row keyed the old way)."""
    ended = (
        update(CLAIMS)
        .where(CLAIMS.c.claim_key.in_(keys), CLAIMS.c.state.notin_(["completed", "cancelled", "rejected"]))
        .values(state="cancelled", overdue=False, next_deadline_at=None, next_deadline_kind=None, due_at=None,
                due_kind=None, deadline_sort=NO_DEADLINE, last_action=summary)  # fmt: skip
    )
    return session.execute(ended).rowcount
