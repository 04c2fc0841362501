"""What clients (CLI, web, demo) know of the calendar and models/ may not: the wall clock,
and the holidays library's data files. Workflows get the calendar as a snapshot in their
input and `workflow.now()` for today."""

from datetime import date, datetime, timezone

import holidays

from models.calendar import WorkCalendar, local_date


def local_today(tz: str) -> date:
    """Today's date in `tz` by the wall clock."""
    return local_date(datetime.now(timezone.utc), tz)


def work_calendar(country: str | None, first_year: int, years: int = 3) -> WorkCalendar:
    """The working-day calendar of `country` for `years` years from `first_year`."""
    if country is None:
        return WorkCalendar()
    span = range(first_year, first_year + years)
    official = holidays.country_holidays(country, years=span)
    return WorkCalendar(
        holidays=frozenset(official.keys()),
        weekend_workdays=frozenset(d for d in official.weekend_workdays if d.year in span),
    )
