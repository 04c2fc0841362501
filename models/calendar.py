"""Day arithmetic for deadlines: natural days and working days, in a policy's time zone.

All functions are pure: "now" is always passed in (workflows pass `workflow.now()`), and
nothing here reads a clock or a file. Clients read the wall clock and the holidays data in
claimflow/calendars.py.
"""

from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of `moment` in time zone `tz`."""
    return moment.astimezone(ZoneInfo(tz)).date()


def local_text(moment: datetime, tz: str) -> str:
    """`moment` as people read it in messages: "2026-12-01 00:34 Asia/Shanghai"."""
    return f"{moment.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M} {tz}"


def start_of_day(day: date, tz: str) -> datetime:
    """Local midnight at the start of `day`, as an aware UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def days_between(start: date, end: date) -> int:
    """Natural days from `start` to `end`: the day after `start` is day 1."""
    return (end - start).days


def end_of_natural_days(start: date, days: int, tz: str) -> datetime:
    """The moment `days` natural days after `start` have fully passed.

    Day 1 is the day after `start`; the deadline is the end of day `days`
    (local midnight starting the day after), so the whole last day counts.
    """
    return start_of_day(start + timedelta(days=days + 1), tz)


class WorkCalendar(BaseModel):
    """Which days are working days: Monday to Friday, less public holidays, plus weekend
    days declared working days (China moves working days onto weekends around holidays).

    Clients build it with `claimflow.calendars.work_calendar` when a claim opens, and it is snapshotted into
    the workflow input: the holidays library reads data files (not allowed in workflow
    code), and a later upgrade of it must not move the deadlines of a claim already open.
    """

    model_config = ConfigDict(frozen=True)

    holidays: frozenset[date] = frozenset()
    weekend_workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.weekend_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


def add_working_days(start: date, days: int, calendar: WorkCalendar) -> date:
    """The date of the `days`-th working day after `start` (`start` itself not counted)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def end_of_working_days(start: date, days: int, calendar: WorkCalendar, tz: str) -> datetime:
    """The moment the `days`-th working day after `start` has fully passed."""
    return start_of_day(add_working_days(start, days, calendar) + timedelta(days=1), tz)


# --- service hours -------------------------------------------------------------------
# A policy's ServiceHours is a daily window of local time, open every calendar day or only on
# the working days of the WorkCalendar. Moments are aware datetimes; results are UTC.

# Service hours are imported for type checking only: models/policy.py imports this module
# (ServiceHours.is_open asks `in_service`, the one place for the rule).
if TYPE_CHECKING:
    from models.policy import ServiceHours


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the moment {moment.isoformat()} has no time zone")
    return moment.astimezone(timezone.utc)


def _local_moment(day: date, hhmm: str, tz: str) -> datetime:
    """`hhmm` ("09:00"; "24:00" is the midnight ending `day`) on local `day`, in UTC."""
    hour, minute = map(int, hhmm.split(":"))
    if hour == 24:
        return start_of_day(day + timedelta(days=1), tz)
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def service_window(
    day: date, hours: "ServiceHours", tz: str, calendar: WorkCalendar
) -> tuple[datetime, datetime] | None:
    """When the desk is open on local `day`: [opens, closes) in UTC, or None when it stays
    closed that day (not a working day under `days = "working_days"`, or an empty window)."""
    if hours.days == "working_days" and not calendar.is_working_day(day):
        return None
    opens, closes = _local_moment(day, hours.opens, tz), _local_moment(day, hours.closes, tz)
    return (opens, closes) if opens < closes else None


def in_service(moment: datetime, hours: "ServiceHours | None", tz: str, calendar: WorkCalendar) -> bool:
    """Whether `moment` is inside service hours (always, when `hours` is None). The window
    is half-open: open at the opening minute, closed at the closing minute."""
    moment = _aware(moment)
    if hours is None:
        return True
    window = service_window(local_date(moment, tz), hours, tz, calendar)
    return window is not None and window[0] <= moment < window[1]


def _next_window(moment: datetime, hours: "ServiceHours", tz: str, calendar: WorkCalendar) -> tuple[datetime, datetime]:
    """The first service window that ends after `moment` (the one `moment` is in, if any).

    Bounded search: among 2h + 14 days in a row (h = the calendar's holidays) there is always
    a working day, so a window that is not found never opens."""
    first = local_date(moment, tz)
    for offset in range(2 * len(calendar.holidays) + 14):
        window = service_window(first + timedelta(days=offset), hours, tz, calendar)
        if window is not None and window[1] > moment:
            return window
    raise ValueError(
        f"service hours {hours.opens}–{hours.closes} ({hours.days}) never open after {moment.isoformat()}"
    )


def next_in_service(moment: datetime, hours: "ServiceHours | None", tz: str, calendar: WorkCalendar) -> datetime:
    """`moment` itself when inside service hours (or when `hours` is None), else the next opening."""
    moment = _aware(moment)
    if hours is None:
        return moment
    opens, _ = _next_window(moment, hours, tz, calendar)
    return max(opens, moment)


def add_service_hours(
    start: datetime, hours: int, service: "ServiceHours | None", tz: str, calendar: WorkCalendar
) -> datetime:
    """The moment the `hours`-th service hour after `start` completes: only time inside
    service hours counts, from the next opening when `start` is outside them. The result is
    inside service hours or exactly at a closing; 0 hours is `start` itself. With `service`
    None the hours are wall-clock hours: `start + hours`."""
    if hours < 0:
        raise ValueError(f"cannot add a negative number of service hours ({hours})")
    start = _aware(start)
    if service is None or hours == 0:
        return start + timedelta(hours=hours)
    remaining, moment = timedelta(hours=hours), start
    # Every window lasts at least a minute, so `hours * 60` windows always suffice.
    for _ in range(hours * 60 + 1):
        opens, closes = _next_window(moment, service, tz, calendar)
        begin = max(opens, moment)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
        moment = closes
    raise ValueError(
        f"{hours} service hours from {start.isoformat()} do not fit in service hours {service.opens}–{service.closes}"
    )
