"""The business calendar: service hours (models/calendar.py in_service, next_in_service,
add_service_hours) over working days with public holidays and make-up working days, and the
calendar a claim snapshots when it opens (claimflow/calendars.py work_calendar).

The Chinese dates are checked against the holidays library before they are used: a test
states which days the library says are off or worked, then what service hours do with them.
"""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from claimflow.calendars import holiday_calendar_problem, local_today, work_calendar, years_after
from claimflow.claims import claim_input
from claimflow.policy_files import load_policy_file
from models.calendar import WorkCalendar, add_service_hours, in_service, next_in_service
from models.policy import PolicyError, ServiceHours
from tests.conftest import POLICY_DIR, intake

SHANGHAI = "Asia/Shanghai"
CN = work_calendar("CN", None, date(2026, 1, 1))  # 2026-01-01 to 2029-01-01, from the holidays library
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)

DESK_003 = ServiceHours(opens="08:30", closes="18:00", clause_ids=["x"])  # seed 003, every day
DESK_000 = ServiceHours(opens="09:00", closes="24:00", clause_ids=["x"])  # seed 000, every day
OFFICE = ServiceHours(opens="09:00", closes="18:00", clause_ids=["x"], days="working_days")
WORKING_DAYS = ServiceHours(opens="00:00", closes="24:00", clause_ids=["x"], days="working_days")


def sh(*args: int) -> datetime:
    """A Shanghai wall-clock moment."""
    return datetime(*args, tzinfo=ZoneInfo(SHANGHAI))


def add(start: datetime, hours: int, service: ServiceHours | None = OFFICE, calendar: WorkCalendar = CN) -> datetime:
    return add_service_hours(start, hours, service, SHANGHAI, calendar)


def nxt(moment: datetime, service: ServiceHours | None = OFFICE, calendar: WorkCalendar = CN) -> datetime:
    return next_in_service(moment, service, SHANGHAI, calendar)


def days(*ds: date) -> set[date]:
    return set(ds)


# --- the edges of service hours -----------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "local", "open_"),
    [
        (DESK_003, (8, 29), False), (DESK_003, (8, 30), True), (DESK_003, (17, 59), True),
        (DESK_003, (18, 0), False), (DESK_000, (0, 0), False), (DESK_000, (8, 59), False),
        (DESK_000, (9, 0), True), (DESK_000, (23, 59), True),
    ],
)  # fmt: skip
def test_service_hours_are_open_from_the_opening_minute_to_before_the_closing_minute(hours, local, open_):
    moment = sh(2026, 3, 11, *local)
    assert in_service(moment, hours, SHANGHAI, CN) is open_
    assert hours.is_open(moment, SHANGHAI) is open_  # one rule: is_open asks in_service


def test_24_00_closes_at_the_midnight_ending_the_day():
    assert in_service(sh(2026, 3, 11, 23, 59, 59, 999999), DESK_000, SHANGHAI, CN)
    assert not in_service(sh(2026, 3, 12, 0, 0), DESK_000, SHANGHAI, CN)
    assert add(sh(2026, 3, 11, 22), 2, DESK_000) == sh(2026, 3, 12, 0, 0)  # the 2nd hour ends at closing


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (sh(2026, 3, 11, 8, 29), sh(2026, 3, 11, 8, 30)),  # a minute before opening: the opening
        (sh(2026, 3, 11, 8, 30), sh(2026, 3, 11, 8, 30)),  # at opening: itself
        (sh(2026, 3, 11, 12, 0), sh(2026, 3, 11, 12, 0)),  # inside: itself
        (sh(2026, 3, 11, 17, 59), sh(2026, 3, 11, 17, 59)),  # the last minute: itself
        (sh(2026, 3, 11, 18, 0), sh(2026, 3, 12, 8, 30)),  # at closing: tomorrow's opening
        (sh(2026, 3, 11, 23, 59), sh(2026, 3, 12, 8, 30)),
        (sh(2026, 3, 12, 0, 0), sh(2026, 3, 12, 8, 30)),  # midnight: this morning
    ],
)
def test_next_in_service_at_every_edge(moment, expected):
    assert nxt(moment, DESK_003) == expected
    assert nxt(moment, DESK_003).tzinfo == UTC


def test_next_in_service_after_24_00_is_the_next_morning():
    assert nxt(sh(2026, 3, 12, 0, 0), DESK_000) == sh(2026, 3, 12, 9)
    assert nxt(sh(2026, 3, 11, 23, 59), DESK_000) == sh(2026, 3, 11, 23, 59)


# --- add_service_hours ----------------------------------------------------------------


def test_add_service_hours_across_a_night():
    assert add(sh(2026, 3, 11, 17), 3, DESK_003) == sh(2026, 3, 12, 10, 30)  # 1 h tonight, 2 h tomorrow
    assert add(sh(2026, 3, 11, 23), 2, DESK_000) == sh(2026, 3, 12, 10)
    assert add(sh(2026, 3, 11, 10), 8, DESK_003) == sh(2026, 3, 11, 18)  # ends exactly at closing
    assert add(sh(2026, 3, 11, 10), 24, DESK_003) == sh(2026, 3, 13, 15)  # 8 + 9.5 + 6.5


def test_counting_starts_at_the_next_opening():
    assert add(sh(2026, 3, 11, 7), 1, DESK_003) == sh(2026, 3, 11, 9, 30)
    assert add(sh(2026, 3, 11, 18), 1, DESK_003) == sh(2026, 3, 12, 9, 30)
    assert add(sh(2026, 3, 11, 7), 0, DESK_003) == sh(2026, 3, 11, 7)  # 0 hours: the start itself


def test_add_service_hours_across_a_weekend_on_working_days():
    friday = sh(2026, 3, 13, 17)
    assert friday.weekday() == 4 and not days(date(2026, 3, 14), date(2026, 3, 15)) & CN.weekend_workdays
    assert add(friday, 2) == sh(2026, 3, 16, 10)  # Monday
    assert add(friday, 2, DESK_003) == sh(2026, 3, 14, 9, 30)  # every day: Saturday
    assert not in_service(sh(2026, 3, 14, 10), OFFICE, SHANGHAI, CN)
    assert nxt(sh(2026, 3, 14, 10)) == sh(2026, 3, 16, 9)


def test_wall_clock_when_there_are_no_service_hours():
    start = sh(2026, 10, 1, 3, 17)  # a holiday, in the night
    assert add(start, 25, None) == start + 25 * HOUR
    assert in_service(start, None, SHANGHAI, CN)
    assert nxt(start, None) == start


# --- Chinese public holidays and make-up working days (the holidays library) -----------


def test_national_day_2026_is_closed_and_its_make_up_saturday_is_open():
    assert days(*(date(2026, 10, d) for d in (1, 2, 3, 5, 6, 7))) <= CN.holidays
    assert date(2026, 10, 4).weekday() == 6 and date(2026, 10, 8) not in CN.holidays
    assert date(2026, 10, 10) in CN.weekend_workdays and date(2026, 10, 10).weekday() == 5
    assert add(sh(2026, 9, 30, 17), 2) == sh(2026, 10, 8, 10)  # 1 h on the 30th, the 2nd on Thursday 8th
    assert add(sh(2026, 10, 9, 17), 2) == sh(2026, 10, 10, 10)  # Friday into the make-up Saturday
    assert add(sh(2026, 10, 9, 17), 2, WORKING_DAYS) == sh(2026, 10, 9, 19)
    assert in_service(sh(2026, 10, 10, 9), OFFICE, SHANGHAI, CN)
    assert not in_service(sh(2026, 10, 5, 12), OFFICE, SHANGHAI, CN)  # a Monday off


def test_the_make_up_sunday_before_national_day_2026():
    assert date(2026, 9, 20) in CN.weekend_workdays and date(2026, 9, 20).weekday() == 6
    assert nxt(sh(2026, 9, 19, 12)) == sh(2026, 9, 20, 9)  # Saturday noon: Sunday morning


def test_spring_festival_2026_with_its_make_up_saturdays():
    assert days(*(date(2026, 2, d) for d in (16, 17, 18, 19, 20, 23))) <= CN.holidays
    assert days(date(2026, 2, 14), date(2026, 2, 28)) <= CN.weekend_workdays
    assert add(sh(2026, 2, 13, 17), 2) == sh(2026, 2, 14, 10)  # Friday into the make-up Saturday
    assert add(sh(2026, 2, 14, 17, 30), 1) == sh(2026, 2, 24, 9, 30)  # nine days closed
    assert nxt(sh(2026, 2, 16, 0)) == sh(2026, 2, 24, 9)


def test_spring_festival_2027():
    assert days(*(date(2027, 2, d) for d in (5, 6, 7, 8, 9, 10))) <= CN.holidays
    assert date(2027, 2, 11) not in CN.holidays
    assert add(sh(2027, 2, 4, 17), 2) == sh(2027, 2, 11, 10)
    assert add(sh(2027, 2, 4, 17), 2, DESK_003) == sh(2027, 2, 5, 9, 30)  # every day: holidays too


# --- time zones -----------------------------------------------------------------------


def test_the_policys_time_zone_decides_the_day_and_the_hour():
    moment = datetime(2026, 3, 11, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai
    assert in_service(moment, DESK_003, SHANGHAI, CN)
    assert not in_service(moment, DESK_003, "UTC", CN)
    assert next_in_service(moment, DESK_003, "UTC", CN) == datetime(2026, 3, 11, 8, 30, tzinfo=UTC)
    friday_utc = datetime(2026, 3, 13, 16, 30, tzinfo=UTC)  # Saturday 00:30 in Shanghai
    assert in_service(friday_utc, WORKING_DAYS, "UTC", CN)
    assert not in_service(friday_utc, WORKING_DAYS, SHANGHAI, CN)
    assert add_service_hours(friday_utc, 1, WORKING_DAYS, SHANGHAI, CN) == sh(2026, 3, 16, 1)


def test_a_moment_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        in_service(datetime(2026, 3, 11, 9), DESK_003, SHANGHAI, CN)


# --- bounds and bad input -------------------------------------------------------------


def test_service_hours_that_never_open_raise_a_clear_error():
    never = ServiceHours.model_construct(opens="09:00", closes="09:00", clause_ids=["x"], days="every_day")
    with pytest.raises(ValueError, match="service hours 09:00–09:00 .* never open"):
        nxt(sh(2026, 3, 11, 12), never)
    with pytest.raises(ValueError, match="never open"):
        add(sh(2026, 3, 11, 12), 1, never)
    assert not in_service(sh(2026, 3, 11, 9), never, SHANGHAI, CN)


def test_a_long_run_of_holidays_is_waited_out():
    closed = WorkCalendar(holidays=frozenset(date(2026, 3, 1) + timedelta(days=i) for i in range(400)))
    assert nxt(sh(2026, 3, 2, 12), calendar=closed) == sh(2027, 4, 5, 9)  # the first Monday after


def test_policy_refuses_service_hours_that_close_before_they_open():
    with pytest.raises(ValidationError, match="must be later than opens"):
        ServiceHours(opens="18:00", closes="08:30", clause_ids=["x"])
    with pytest.raises(ValidationError, match="days"):
        ServiceHours(opens="08:00", closes="18:00", clause_ids=["x"], days="weekdays")


def test_negative_hours_are_refused():
    with pytest.raises(ValueError, match="negative"):
        add(sh(2026, 3, 11, 12), -1)


# --- properties -----------------------------------------------------------------------

DESKS = st.sampled_from([DESK_003, DESK_000, OFFICE, WORKING_DAYS])
# Minute-grid moments from 2026 through 2028 (inside CN's coverage), in any hour of the day.
MOMENTS = st.integers(0, 3 * 365 * 24 * 60 - 1).map(lambda m: datetime(2026, 1, 1, tzinfo=UTC) + m * MINUTE)


@settings(max_examples=200, deadline=None)
@given(start=MOMENTS, n=st.integers(0, 60), m=st.integers(0, 60), desk=DESKS)
def test_adding_hours_composes(start, n, m, desk):
    assert add(start, n + m, desk) == add(add(start, n, desk), m, desk)


@settings(max_examples=200, deadline=None)
@given(start=MOMENTS, n=st.integers(1, 200), desk=DESKS)
def test_the_result_is_in_service_or_at_a_closing(start, n, desk):
    end = add(start, n, desk)
    assert end > start
    assert in_service(end, desk, SHANGHAI, CN) or in_service(end - MINUTE, desk, SHANGHAI, CN)


@settings(max_examples=30, deadline=None)
@given(start=MOMENTS, n=st.integers(1, 10), desk=DESKS)
def test_adding_hours_counts_exactly_the_minutes_in_service(start, n, desk):
    """Oracle: walk minute by minute and count the minutes `in_service` says are open."""
    moment, counted = start, 0
    while counted < n * 60:
        counted += in_service(moment, desk, SHANGHAI, CN)
        moment += MINUTE
    assert add(start, n, desk) == moment


@settings(max_examples=60, deadline=None)
@given(moment=MOMENTS, desk=DESKS)
def test_next_in_service_is_the_first_open_minute(moment, desk):
    found = nxt(moment, desk)
    assert found >= moment and in_service(found, desk, SHANGHAI, CN)
    assert (found - moment) < timedelta(days=12)  # the longest closure (Spring Festival) is shorter
    probe = moment
    while probe < found:
        assert not in_service(probe, desk, SHANGHAI, CN)
        probe += 15 * MINUTE


@settings(max_examples=100, deadline=None)
@given(moment=MOMENTS, desk=DESKS)
def test_is_open_agrees_with_in_service(moment, desk):
    assert desk.is_open(moment, SHANGHAI) is in_service(moment, desk, SHANGHAI, WorkCalendar())
    assert desk.is_open(moment, SHANGHAI, CN) is in_service(moment, desk, SHANGHAI, CN)


# --- the calendar a claim snapshots: today to today + 3 years ---------------------------


@freeze_time("2026-12-31 17:00:00+00:00")  # 1 January 2027, 01:00 in Shanghai
def test_work_calendar_covers_three_years_from_today():
    today = local_today(SHANGHAI)
    assert today == date(2027, 1, 1)
    calendar = work_calendar("CN", None, today)
    assert min(calendar.holidays) == date(2027, 1, 1)
    assert max(calendar.holidays) == date(2030, 1, 1)  # New Year's Day, three years on, included
    assert date(2029, 2, 13) in calendar.holidays  # Spring Festival in the third year
    assert all(today <= d <= date(2030, 1, 1) for d in calendar.holidays | calendar.weekend_workdays)


@freeze_time("2026-12-31 02:00:00+00:00")
def test_a_claim_opened_on_new_years_eve_snapshots_three_whole_years(changkong):
    today = local_today(changkong.timezone)
    snapshot = claim_input(intake(changkong, today), changkong, today).calendar
    assert min(snapshot.holidays) == date(2027, 1, 1) and date(2029, 2, 13) in snapshot.holidays
    assert date(2029, 12, 31) not in snapshot.holidays and max(snapshot.holidays) <= date(2029, 12, 31)
    assert date(2026, 10, 10) not in snapshot.weekend_workdays  # before today: not snapshotted


def test_three_years_after_a_leap_day():
    assert years_after(date(2028, 2, 29), 3) == date(2031, 2, 28)
    assert years_after(date(2026, 3, 11), 3) == date(2029, 3, 11)


def test_a_subdivision_adds_its_own_holidays():
    country = work_calendar("DE", None, date(2026, 1, 1))
    bavaria = work_calendar("DE", "BY", date(2026, 1, 1))
    assert date(2026, 1, 6) in bavaria.holidays and date(2026, 1, 6) not in country.holidays  # Epiphany
    assert country.holidays < bavaria.holidays


def test_without_a_country_every_weekday_works():
    assert work_calendar(None, None, date(2026, 1, 1)) == WorkCalendar()


@pytest.mark.parametrize(
    ("country", "subdivision", "problem"),
    [
        ("CN", None, None), ("DE", "BY", None), (None, None, None),
        ("XX", None, ("holiday_country", "'XX' is not a country")),
        ("CN", "BY", ("holiday_subdivision", "'BY' is not a subdivision of CN")),
        (None, "BY", ("holiday_subdivision", "set without holiday_country")),
    ],
)  # fmt: skip
def test_holiday_calendar_problem(country, subdivision, problem):
    found = holiday_calendar_problem(country, subdivision)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found[0] == problem[0] and found[1].startswith(problem[1])


def test_a_policy_file_with_an_unknown_holiday_country_is_refused(tmp_path: Path):
    text = (POLICY_DIR / "changkong.toml").read_text(encoding="utf-8")
    assert 'holiday_country = "CN"' in text
    path = tmp_path / "changkong.toml"
    path.write_text(text.replace('holiday_country = "CN"', 'holiday_country = "CN"\nholiday_subdivision = "XJ"'))
    with pytest.raises(PolicyError, match=r"changkong.toml: holiday_subdivision: 'XJ' is not a subdivision of CN"):
        load_policy_file(path)
    path.write_text(text.replace('holiday_country = "CN"', 'holiday_country = "ZZ"'))
    with pytest.raises(PolicyError, match="holiday_country: 'ZZ' is not a country"):
        load_policy_file(path)
