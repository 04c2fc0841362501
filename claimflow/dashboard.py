"""Read-model queries behind the escalations inbox and the dashboard.

Everything is aggregated in SQL (GROUP BY, window functions), on SQLite and PostgreSQL
alike: a page reads a few dozen rows whatever the number of claims. No UI strings here
(the web layer words and translates them).

Definitions (from what the read model holds):
* **open**: a claim whose state is not terminal. The inbox also keeps an *expired* claim
  while its reopen window runs (it has a next deadline): a supervisor may still reopen it.
* **escalated deadline** of a claim: of its escalation rows at a staff level (agent,
  supervisor, manager: the rungs at or after the deadline in every ladder; reminders come
  before it), the (deadline, cycle, extension) whose latest rung fired last; it **first
  escalated** when the earliest of those rungs fired (the offset-0 rung: the moment the
  deadline passed).
* **SLA breach**: a deadline (cycle, extension) whose first staff-level rung fired; counted
  in the week it fired. **Escalations**: every staff-level rung that fired.
* **resolved**: completed, or in the post-repair warranty window (the product is back with
  the customer). Time to resolve runs from opening to the last entry into the post-repair
  window when there is one (the timeline), else to the claim's last change (updated_at).
  Cancelled and expired claims are not resolved.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Engine, and_, case, cast, exists, extract, func, literal, null, or_, select, union_all
from sqlalchemy.sql import ColumnElement

from models.claim import ClaimView, snapshot_of
from models.enums import ClaimState, EscalationLevel, Remedy, TERMINAL_STATES
from models.read_model import ClaimEventRow, ClaimRow, EscalationRow

C = ClaimRow.__table__
E = EscalationRow.__table__
EV = ClaimEventRow.__table__

TERMINAL = sorted(s.value for s in TERMINAL_STATES)
STAFF_LEVELS = (EscalationLevel.AGENT.value, EscalationLevel.SUPERVISOR.value, EscalationLevel.MANAGER.value)
LAST_RUNG = EscalationLevel.MANAGER.value  # the top of every ladder: once it fired, nothing is left to acknowledge
RESOLVED = (ClaimState.COMPLETED.value, ClaimState.POST_REPAIR_WARRANTY.value)
REPAIRS = (Remedy.PAID_REPAIR.value, Remedy.FREE_REPAIR.value)  # a free repair of a new fault in the window too
INTO_POST_REPAIR = f"%→ {ClaimState.POST_REPAIR_WARRANTY.value}"  # the timeline's state entry ("a → b")
INBOX_LIMIT = 200
WEEKS = 12


# --- the escalations inbox ------------------------------------------------------------


@dataclass(frozen=True)
class Escalated:
    """One claim of the inbox."""

    claim_number: str
    policy: str
    state: str
    assignee: str | None
    level: str | None  # None: no longer escalated (after an acknowledgement)
    deadline: str | None  # the deadline that escalated
    first_escalated_at: datetime | None
    escalated_deadlines: tuple[str, ...]  # every deadline of the claim with a staff-level rung
    open_deadlines: tuple[str, ...]  # deadlines a supervisor may try to extend
    can_acknowledge: bool
    can_reopen: bool
    as_of: datetime | None = None  # the moment `first_escalated_at` is measured against (None: now)

    def overdue_for(self, now: datetime) -> timedelta | None:
        if self.first_escalated_at is None:
            return None
        return max(timedelta(0), (self.as_of or now) - self.first_escalated_at)


def _in_inbox() -> ColumnElement[bool]:
    still_open = or_(
        C.c.state.notin_(TERMINAL),
        and_(C.c.state == ClaimState.EXPIRED.value, C.c.next_deadline_at.is_not(None)),
    )
    return and_(C.c.escalation_level.is_not(None), still_open)


def escalated_claims(engine: Engine, limit: int = INBOX_LIMIT) -> tuple[list[Escalated], int]:
    """The inbox: open claims that escalated, the oldest escalation first (at most `limit`),
    and how many there are in all."""
    inbox = select(C.c.claim_key).where(_in_inbox())
    groups = (
        select(
            E.c.claim_key, E.c.deadline, E.c.cycle, E.c.extension,
            func.min(E.c.at).label("first_at"), func.max(E.c.at).label("last_at"),
        )  # fmt: skip
        .where(E.c.level.in_(STAFF_LEVELS), E.c.claim_key.in_(inbox))
        .group_by(E.c.claim_key, E.c.deadline, E.c.cycle, E.c.extension)
        .subquery()
    )
    ranked = select(
        groups,
        func.row_number()
        .over(partition_by=groups.c.claim_key, order_by=(groups.c.last_at.desc(), groups.c.deadline))
        .label("rank"),
    ).subquery()
    latest = select(ranked).where(ranked.c.rank == 1).subquery()
    columns = (C.c.claim_key, C.c.claim_number, C.c.policy, C.c.state, C.c.assignee, C.c.escalation_level,
               C.c.next_deadline_kind)  # fmt: skip
    # from the escalated deadlines to their claims (by primary key), the oldest first
    query = (
        select(*columns, latest.c.deadline, latest.c.first_at)
        .select_from(latest.join(C, C.c.claim_key == latest.c.claim_key))
        .order_by(latest.c.first_at, C.c.opened_at, C.c.claim_number)
        .limit(limit)
    )
    # a claim whose escalation rows are not projected yet comes last
    unranked = (
        select(*columns, null().label("deadline"), null().label("first_at"))
        .where(_in_inbox(), ~exists().where(E.c.claim_key == C.c.claim_key, E.c.level.in_(STAFF_LEVELS)))
        .order_by(C.c.opened_at, C.c.claim_number)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        if len(rows) < limit:
            rows += connection.execute(unranked.limit(limit - len(rows))).all()
        total = connection.execute(select(func.count()).select_from(C).where(_in_inbox())).scalar_one()
        kinds: dict[str, list[str]] = {}
        if rows:
            found = connection.execute(
                select(E.c.claim_key, E.c.deadline)
                .where(E.c.claim_key.in_([r.claim_key for r in rows]), E.c.level.in_(STAFF_LEVELS))
                .group_by(E.c.claim_key, E.c.deadline)
                .order_by(E.c.claim_key, func.max(E.c.at).desc())
            )
            for key, deadline in found:
                kinds.setdefault(key, []).append(deadline)
    result = []
    for r in rows:
        escalated = tuple(kinds.get(r.claim_key, ()))
        open_deadlines = tuple(dict.fromkeys([*escalated, *([r.next_deadline_kind] if r.next_deadline_kind else [])]))
        result.append(
            Escalated(
                claim_number=r.claim_number,
                policy=r.policy,
                state=r.state,
                assignee=r.assignee,
                level=r.escalation_level,
                deadline=r.deadline,
                first_escalated_at=r.first_at,
                escalated_deadlines=escalated,
                open_deadlines=open_deadlines,
                can_acknowledge=r.escalation_level not in (None, LAST_RUNG),
                can_reopen=r.state == ClaimState.EXPIRED.value,
            )
        )
    return result, total


def escalated_from_view(view: ClaimView) -> Escalated:
    """A claim of the inbox as its workflow sees it now (after an action: the read model
    may not have caught up yet). What the claim allows comes from the workflow itself."""
    row = snapshot_of(view, max_events=0)
    escalated = [d for d in view.deadlines if d.escalated and not d.cleared]
    last_rung = {(e.deadline, e.cycle): e.at for e in view.escalations}  # in firing order: the last one wins
    escalated.sort(key=lambda d: last_rung.get((d.kind, d.cycle), d.escalated_at), reverse=True)
    top = escalated[0] if escalated else None
    return Escalated(
        claim_number=view.claim_number,
        policy=view.policy,
        state=view.state.value,
        assignee=row.assignee,
        level=row.escalation_level.value if row.escalation_level else None,
        deadline=top.kind.value if top else None,
        first_escalated_at=top.escalated_at if top else None,
        escalated_deadlines=tuple(d.kind.value for d in escalated),
        open_deadlines=tuple(dict.fromkeys(d.kind.value for d in view.open_deadlines)),
        can_acknowledge="acknowledge_escalation" in view.allowed_actions,
        can_reopen="reopen_claim" in view.allowed_actions,
        as_of=view.as_of,
    )


# --- the dashboard --------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    key: str
    count: int


@dataclass(frozen=True)
class Week:
    start: date  # the Monday
    label: str  # ISO week, e.g. 2026-W48
    breaches: int
    escalations: int


@dataclass(frozen=True)
class Median:
    key: str | None  # the policy or the remedy (None: no remedy decided)
    seconds: float
    claims: int

    @property
    def days(self) -> float:
        return self.seconds / 86400


@dataclass(frozen=True)
class OldClaim:
    claim_number: str
    policy: str
    state: str
    opened_at: datetime
    assignee: str | None
    escalation_level: str | None


@dataclass(frozen=True)
class Dashboard:
    open_total: int
    by_state: list[Count]
    by_policy: list[Count]
    weeks: list[Week]
    resolve_by_policy: list[Median]
    resolve_by_remedy: list[Median]
    oldest: list[OldClaim]


def dashboard(engine: Engine, now: datetime, tz: tzinfo = ZoneInfo("UTC"), weeks: int = WEEKS) -> Dashboard:
    """Every figure of the dashboard; weeks are ISO weeks in `tz`, the last `weeks` up to `now`'s."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # a few small aggregates: compiling them (JIT, triggered by the correlated subquery's
            # estimated cost) took longer than running them (0.3 s of 0.7 s at 100 000 claims)
            connection.exec_driver_sql("SET LOCAL jit = off")
        by_state = _open_counts(connection, C.c.state)
        by_policy = _open_counts(connection, C.c.policy)
        by_policy_median, by_remedy_median = _medians(connection)
        return Dashboard(
            open_total=sum(c.count for c in by_state),
            by_state=by_state,
            by_policy=by_policy,
            weeks=_weeks(connection, now, tz, weeks),
            resolve_by_policy=by_policy_median,
            resolve_by_remedy=by_remedy_median,
            oldest=oldest_open(connection),
        )


def _open_counts(connection, column) -> list[Count]:
    open_claims = select(column, func.count()).where(C.c.state.notin_(TERMINAL)).group_by(column)
    rows = connection.execute(open_claims.order_by(func.count().desc(), column))
    return [Count(key, n) for key, n in rows]


def oldest_open(connection, limit: int = 10) -> list[OldClaim]:
    rows = connection.execute(
        select(C.c.claim_number, C.c.policy, C.c.state, C.c.opened_at, C.c.assignee, C.c.escalation_level)
        .where(C.c.state.notin_(TERMINAL))
        .order_by(C.c.opened_at, C.c.claim_number)
        .limit(limit)
    )
    return [OldClaim(*r) for r in rows]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _local_day(column, dialect: str, tz: tzinfo, now: datetime):
    """The day of `column` in `tz`: PostgreSQL converts with the zone's rules; SQLite shifts
    by the zone's offset now (a daylight-saving change inside the 12 weeks moves an hour)."""
    if dialect == "postgresql":
        return cast(func.timezone(str(tz), column), Date)
    offset = now.astimezone(tz).utcoffset() or timedelta(0)
    return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _weeks(connection, now: datetime, tz: tzinfo, weeks: int) -> list[Week]:
    dialect = connection.dialect.name
    first = week_start(now.astimezone(tz).date()) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, datetime.min.time(), tz) - timedelta(days=1)  # a day's margin; days filter below
    staff = E.c.level.in_(STAFF_LEVELS)
    breaches = (
        select(func.min(E.c.at).label("at"))
        .where(staff)
        .group_by(E.c.claim_key, E.c.deadline, E.c.cycle, E.c.extension)
        .having(func.min(E.c.at) >= since)
        .subquery()
    )
    breach_day = _local_day(breaches.c.at, dialect, tz, now)
    escalation_day = _local_day(E.c.at, dialect, tz, now)
    per_day: dict[date, list[int]] = {}
    for day, n in connection.execute(select(breach_day, func.count()).group_by(breach_day)):
        per_day.setdefault(_as_date(day), [0, 0])[0] += n
    escalations = select(escalation_day, func.count()).where(staff, E.c.at >= since).group_by(escalation_day)
    for day, n in connection.execute(escalations):
        per_day.setdefault(_as_date(day), [0, 0])[1] += n
    result = []
    for i in range(weeks):
        start = first + timedelta(weeks=i)
        days = [per_day.get(start + timedelta(days=d), [0, 0]) for d in range(7)]
        year, number, _ = start.isocalendar()
        result.append(Week(start, f"{year}-W{number:02d}", sum(d[0] for d in days), sum(d[1] for d in days)))
    return result


def _resolved_at():
    """When the claim was resolved: the projection's `resolved_at` (models.claim.resolved_at),
    else — a row not projected since it was written — its last change."""
    return func.coalesce(C.c.resolved_at, C.c.updated_at)


def _seconds(start, end, dialect: str):
    if dialect == "postgresql":
        return extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _medians(connection) -> tuple[list[Median], list[Median]]:
    """The median time to resolve per policy and per remedy, in one statement: the
    durations computed once, each group's ranked by a window function, the middle one (or
    the mean of the middle two) kept."""
    seconds = _seconds(C.c.opened_at, _resolved_at(), connection.dialect.name)
    durations = (
        select(C.c.policy, C.c.remedy, seconds.label("seconds")).where(C.c.state.in_(RESOLVED)).cte("durations")
    )

    def middle(dimension: str, column):
        ranked = select(
            column.label("key"),
            durations.c.seconds,
            func.row_number().over(partition_by=column, order_by=durations.c.seconds).label("rn"),
            # the same window (one sort), over the whole partition
            func.count().over(partition_by=column, order_by=durations.c.seconds, rows=(None, None)).label("n"),
        ).subquery()
        middle = or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
        return (
            select(literal(dimension).label("dimension"), ranked.c.key, func.avg(ranked.c.seconds).label("seconds"),
                   func.max(ranked.c.n).label("n"))  # fmt: skip
            .where(middle)
            .group_by(ranked.c.key)
        )

    both = union_all(middle("policy", durations.c.policy), middle("remedy", durations.c.remedy)).subquery()
    found: dict[str, list[Median]] = {"policy": [], "remedy": []}
    for dimension, key, seconds, n in connection.execute(select(both).order_by(both.c.dimension, both.c.key)):
        found[dimension].append(Median(key, float(seconds), n))
    return found["policy"], found["remedy"]
