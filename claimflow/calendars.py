"""What clients (CLI, web, demo) know of the calendar and models/ may not: the wall clock,
and the holidays library's data files. Workflows get the calendar as a snapshot in their
input and `workflow.now()` for today."""

from datetime import date, datetime, timezone

import holidays

from models.calendar import WorkCalendar, local_date


def local_today(tz: str) -> date:
    """Today's date in `tz` by the wall clock."""
    return local_date(datetime.now(timezone.utc), tz)


CALENDAR_YEARS = 3  # a claim's calendar covers the whole life a claim can have, from its opening


def years_after(day: date, years: int) -> date:
    """The same day `years` years later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def work_calendar(country: str | None, subdivision: str | None, today: date) -> WorkCalendar:
    """The working-day calendar of `country` (and its `subdivision`, e.g. a province) from
    `today` to `today` + 3 years inclusive: public holidays and make-up weekend working days.

    Raises NotImplementedError (from the holidays library) for a country or subdivision it
    does not know; `holiday_calendar_problem` says so (policy files are checked with it
    when loaded, claimflow/policy_files.py)."""
    if country is None:
        return WorkCalendar()
    last = years_after(today, CALENDAR_YEARS)
    official = holidays.country_holidays(country, subdiv=subdivision, years=range(today.year, last.year + 1))
    return WorkCalendar(
        holidays=frozenset(d for d in official.keys() if today <= d <= last),
        weekend_workdays=frozenset(d for d in official.weekend_workdays if today <= d <= last),
    )


def holiday_calendar_problem(country: str | None, subdivision: str | None) -> tuple[str, str] | None:
    """Why the holidays library cannot give the calendar of `country`/`subdivision`: the
    policy field and the reason, or None."""
    if country is None:
        return ("holiday_subdivision", "set without holiday_country") if subdivision is not None else None
    try:
        holidays.country_holidays(country)
    except NotImplementedError:
        return "holiday_country", f"{country!r} is not a country the holidays library knows (ISO 3166 codes, e.g. 'CN')"
    if subdivision is not None:
        try:
            holidays.country_holidays(country, subdiv=subdivision)
        except NotImplementedError:
            known = ", ".join(holidays.list_supported_countries().get(country, [])) or "none"
            return "holiday_subdivision", f"{subdivision!r} is not a subdivision of {country} (known: {known})"
    return None
