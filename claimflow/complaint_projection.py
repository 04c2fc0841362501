"""Writing complaints into the read model: idempotent, as claims are (claimflow/projection.py).

`apply_complaint_snapshot` writes a complaint's row with a compare-and-set on its
`version`: an update of an older version, else an insert that does nothing when the row
came first, else the update again; an older or repeated snapshot changes nothing. Timeline
entries are immutable once written: inserted in bulk, existing keys skipped. Rows are keyed
by the complaint workflow's first run id.
"""

from sqlalchemy import Table, and_, update
from sqlmodel import Session

from claimflow.projection import insert_ignoring_existing
from models.complaint import ComplaintSnapshot
from models.read_model import NO_DEADLINE, ComplaintEventRow, ComplaintRow

COMPLAINTS: Table = ComplaintRow.__table__
EVENTS: Table = ComplaintEventRow.__table__
ROW_FIELDS = {
    "complaint_number", "policy", "channel", "category", "department", "state", "emergency", "claim_number",
    "opened_at", "updated_at", "reply_due_at", "due_at", "due_what", "overdue", "escalation_level", "replied_at",
    "replied_late", "reopens", "closed_at", "last_action", "version",
}  # fmt: skip


def row_values(snapshot: ComplaintSnapshot) -> dict:
    """The complaint row's columns (all but its key), the lists' sort key included."""
    values = {name: getattr(snapshot, name) for name in ROW_FIELDS}
    values |= {name: getattr(snapshot, name).value for name in ("channel", "state")}
    values["due_what"] = snapshot.due_what.value if snapshot.due_what else None
    return values | {"deadline_sort": snapshot.due_at or NO_DEADLINE}


def apply_complaint_snapshot(session: Session, snapshot: ComplaintSnapshot) -> bool:
    """Project `snapshot`; False when the row already holds this version or a newer one."""
    key, values = snapshot.run_id, row_values(snapshot)
    newer = update(COMPLAINTS).where(and_(COMPLAINTS.c.complaint_key == key, COMPLAINTS.c.version < snapshot.version))
    if session.execute(newer.values(**values)).rowcount != 1:
        insert = insert_ignoring_existing(session, COMPLAINTS).values(complaint_key=key, **values)
        inserted = session.execute(insert.returning(COMPLAINTS.c.complaint_key)).first() is not None
        if not inserted and session.execute(newer.values(**values)).rowcount != 1:
            return False
    events = [
        {"complaint_key": key, "seq": seq, "complaint_number": snapshot.complaint_number, "at": e.at, "kind": e.kind,
         "summary": e.summary, "by": e.by}  # fmt: skip
        for seq, e in enumerate(snapshot.events, start=snapshot.events_from)
    ]
    if events:
        session.execute(insert_ignoring_existing(session, EVENTS), events)
    return True
