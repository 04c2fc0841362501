"""Day arithmetic for deadlines: natural days and working days, in a policy's time zone.

All functions are pure: "now" is always passed in. `local_today` is the one place that
reads the wall clock, for clients (CLI, web) only; workflows pass `workflow.now()`.
"""

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of `moment` in time zone `tz`."""
    return moment.astimezone(ZoneInfo(tz)).date()


def local_today(tz: str) -> date:
    """Today's date in `tz` by the wall clock. Never call this from workflow code."""
    return local_date(datetime.now(timezone.utc), tz)


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


def public_holidays(country: str | None, first_year: int, years: int = 3) -> list[date]:
    """Public holidays of `country` from `first_year` on, from the `holidays` library.

    Clients call this when a claim opens and snapshot the result into the workflow input:
    the library reads data files (not allowed in workflow code), and a later upgrade of it
    must not move the deadlines of a claim already open.
    """
    if country is None:
        return []
    calendar = holidays.country_holidays(country, years=range(first_year, first_year + years))
    return sorted(calendar.keys())


def is_working_day(day: date, holidays_off: frozenset[date]) -> bool:
    """Monday to Friday, and not one of `holidays_off`."""
    return day.weekday() < 5 and day not in holidays_off


def add_working_days(start: date, days: int, holidays_off: frozenset[date]) -> date:
    """The date of the `days`-th working day after `start` (`start` itself not counted)."""
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if is_working_day(day, holidays_off):
            counted += 1
    return day


def end_of_working_days(start: date, days: int, holidays_off: frozenset[date], tz: str) -> datetime:
    """The moment the `days`-th working day after `start` has fully passed."""
    return start_of_day(add_working_days(start, days, holidays_off) + timedelta(days=1), tz)
