"""Reading complaints from the read model: lists (open, overdue, by department, by category),
a claim's complaints, counts per department or category, a complaint's timeline.

Lists come next deadline first (a passed one first of all: it is overdue), complaints
with none last, then by key; each filter has an index that gives that order
(models/read_model.py ComplaintRow).
"""

from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import Engine, tuple_
from sqlmodel import Session, func, select

from claimflow.claim_lists import PageKey
from models.enums import COMPLAINT_TERMINAL_STATES
from models.read_model import ComplaintEventRow, ComplaintRow

CLOSED = sorted(state.value for state in COMPLAINT_TERMINAL_STATES)


@dataclass(frozen=True)
class ComplaintFilter:
    """Which complaints a list shows; None: any."""

    open: bool | None = None  # True: not closed or cancelled; False: closed or cancelled
    overdue: bool | None = None
    department: str | None = None
    category: str | None = None
    policy: str | None = None
    state: str | None = None
    claim_number: str | None = None  # the claim they are about


def _filtered(query, where: ComplaintFilter):
    for column, value in ((ComplaintRow.overdue, where.overdue), (ComplaintRow.department, where.department),
                          (ComplaintRow.category, where.category), (ComplaintRow.policy, where.policy),
                          (ComplaintRow.state, where.state), (ComplaintRow.claim_number, where.claim_number)):  # fmt: skip
        if value is not None:
            query = query.where(column == value)
    if where.open is not None:
        query = query.where(ComplaintRow.state.notin_(CLOSED) if where.open else ComplaintRow.state.in_(CLOSED))
    return query


def list_complaints(engine: Engine, where: ComplaintFilter = ComplaintFilter(), limit: int = 500) -> list[ComplaintRow]:
    """Complaints matching `where`, the one chased soonest first."""
    query = _filtered(select(ComplaintRow), where).order_by(ComplaintRow.deadline_sort, ComplaintRow.complaint_key)
    with Session(engine) as session:
        return list(session.exec(query.limit(limit)))


def count_complaints(engine: Engine, where: ComplaintFilter = ComplaintFilter()) -> int:
    with Session(engine) as session:
        return session.exec(_filtered(select(func.count()).select_from(ComplaintRow), where)).one()


def complaints_of_claim(engine: Engine, claim_number: str) -> list[ComplaintRow]:
    """The complaints about a claim, oldest first (the claim's page lists them)."""
    query = select(ComplaintRow).where(ComplaintRow.claim_number == claim_number.upper())
    with Session(engine) as session:
        return list(session.exec(query.order_by(ComplaintRow.opened_at, ComplaintRow.complaint_key)))


def counts_by(
    engine: Engine, column: Literal["department", "category"], where: ComplaintFilter = ComplaintFilter()
) -> dict[str, int]:
    """Complaints per department or category under `where` (System 10: the departments'
    performance review reads them)."""
    grouped = getattr(ComplaintRow, column)
    query = _filtered(select(grouped, func.count()).select_from(ComplaintRow), where).group_by(grouped)
    with Session(engine) as session:
        return dict(session.execute(query.order_by(grouped)).all())


def complaint_timeline(engine: Engine, complaint_number: str) -> list[ComplaintEventRow]:
    """The timeline of the complaint (its latest workflow, should the number have been reused)."""
    number = complaint_number.upper()
    with Session(engine) as session:
        key = session.exec(
            select(ComplaintRow.complaint_key)
            .where(ComplaintRow.complaint_number == number)
            .order_by(ComplaintRow.opened_at.desc())
        ).first()
        if key is None:
            return []
        return list(session.exec(select(ComplaintEventRow).where(ComplaintEventRow.complaint_key == key)
                                 .order_by(ComplaintEventRow.seq)))  # fmt: skip


PAGE_SIZE = 50


@dataclass
class ComplaintPage:
    rows: list[ComplaintRow]
    next: PageKey | None  # where the next page starts (None: this is the last)


def complaints_page(engine: Engine, where: ComplaintFilter, after: PageKey | None = None,
                    size: int = PAGE_SIZE) -> tuple[ComplaintPage, dict[str, int]]:  # fmt: skip
    """A page of the list after `after` (keyset, in the lists' order: the next clock first),
    and the complaints per state under `where` (its state filters left out), read in one
    transaction (the web UI's complaints list)."""
    query = _filtered(select(ComplaintRow), where)
    if after is not None:
        key = tuple_(ComplaintRow.deadline_sort, ComplaintRow.complaint_key)
        query = query.where(key > (after.deadline_sort, after.claim_key))
    query = query.order_by(ComplaintRow.deadline_sort, ComplaintRow.complaint_key).limit(size + 1)
    counts = _filtered(select(ComplaintRow.state, func.count()).select_from(ComplaintRow),
                       replace(where, state=None, open=None)).group_by(ComplaintRow.state)  # fmt: skip
    with Session(engine) as session:
        rows = list(session.exec(query))
        counted = dict(session.execute(counts).all())
    last = rows[size - 1] if len(rows) > size else None
    return ComplaintPage(rows[:size], PageKey(last.deadline_sort, last.complaint_key) if last else None), counted
