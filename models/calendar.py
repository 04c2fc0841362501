"""Day arithmetic for deadlines: natural days and working days, in a policy's time zone.

All functions are pure: "now" is always passed in (workflows pass `workflow.now()`), and
nothing here reads a clock or a file. Clients read the wall clock and the holidays data in
claimflow/calendars.py.
"""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of `moment` in time zone `tz`."""
    return moment.astimezone(ZoneInfo(tz)).date()


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
