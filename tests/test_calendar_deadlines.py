"""Day arithmetic (models/calendar.py) and deadlines with escalation ladders (models/deadlines.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time

from models.calendar import (
    add_working_days,
    days_between,
    end_of_natural_days,
    end_of_working_days,
    WorkCalendar,
    local_date,
    start_of_day,
)
from claimflow.calendars import local_today, work_calendar
from models.claim import DeadlineStatus
from models.deadlines import DueEvent, due_at, due_events, has_pending_steps, next_event_at
from models.enums import DeadlineKind
from models.policy import DeadlineRule

SHANGHAI = "Asia/Shanghai"
NO_HOLIDAYS = WorkCalendar()
CN_2026 = work_calendar("CN", None, date(2026, 1, 1))


def off(*days: date) -> WorkCalendar:
    return WorkCalendar(holidays=frozenset(days))
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- calendar ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "tz", "local"),
    [
        (utc(2026, 3, 8, 15, 59, 59), SHANGHAI, date(2026, 3, 8)),
        (utc(2026, 3, 8, 16, 0), SHANGHAI, date(2026, 3, 9)),  # local midnight
        (utc(2026, 3, 8, 3, 0), "America/Los_Angeles", date(2026, 3, 7)),
        (utc(2026, 3, 8, 3, 0), "UTC", date(2026, 3, 8)),
    ],
)
def test_local_date(moment, tz, local):
    assert local_date(moment, tz) == local


@pytest.mark.parametrize(
    ("moment", "local"),
    [("2026-03-08T15:59:59Z", date(2026, 3, 8)), ("2026-03-08T16:00:00Z", date(2026, 3, 9))],
)
def test_local_today_reads_the_wall_clock_in_the_zone(moment, local):
    with freeze_time(moment):
        assert local_today(SHANGHAI) == local
        assert local_today("UTC") == date(2026, 3, 8)


@pytest.mark.parametrize(
    ("day", "tz", "moment"),
    [
        (date(2026, 3, 9), SHANGHAI, utc(2026, 3, 8, 16)),
        (date(2026, 3, 9), "UTC", utc(2026, 3, 9)),
        (date(2026, 3, 29), "Europe/Berlin", utc(2026, 3, 28, 23)),  # CET, the day DST starts
        (date(2026, 3, 30), "Europe/Berlin", utc(2026, 3, 29, 22)),  # CEST
    ],
)
def test_start_of_day_is_local_midnight_in_utc(day, tz, moment):
    start = start_of_day(day, tz)
    assert start == moment
    assert start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [(date(2026, 3, 1), date(2026, 3, 1), 0), (date(2026, 3, 1), date(2026, 3, 2), 1),
     (date(2026, 2, 1), date(2026, 3, 1), 28), (date(2028, 2, 1), date(2028, 3, 1), 29)],
)
def test_days_between_counts_the_day_after_start_as_day_1(start, end, days):
    assert days_between(start, end) == days


@pytest.mark.parametrize(
    ("start", "days", "tz", "deadline"),
    [
        # day 1 is 10 March, day 7 is 16 March; the deadline is midnight starting 17 March, Shanghai time
        (date(2026, 3, 9), 7, SHANGHAI, utc(2026, 3, 16, 16)),
        (date(2026, 3, 9), 1, SHANGHAI, utc(2026, 3, 10, 16)),
        (date(2026, 12, 28), 7, SHANGHAI, utc(2027, 1, 4, 16)),  # across the year end
        (date(2026, 3, 9), 7, "UTC", utc(2026, 3, 17)),
        (date(2026, 3, 27), 2, "Europe/Berlin", utc(2026, 3, 29, 22)),  # DST started in between
    ],
)
def test_end_of_natural_days(start, days, tz, deadline):
    end = end_of_natural_days(start, days, tz)
    assert end == deadline
    assert end.utcoffset() == timedelta(0)
    assert local_date(end - timedelta(seconds=1), tz) == start + timedelta(days=days)  # whole last day counts


@pytest.mark.parametrize(
    ("day", "holidays_off", "working"),
    [
        (date(2026, 3, 6), NO_HOLIDAYS, True),  # Friday
        (date(2026, 3, 7), NO_HOLIDAYS, False),  # Saturday
        (date(2026, 3, 8), NO_HOLIDAYS, False),  # Sunday
        (date(2026, 3, 9), NO_HOLIDAYS, True),  # Monday
        (date(2026, 3, 9), off(date(2026, 3, 9)), False),
    ],
)
def test_is_working_day(day, holidays_off, working):
    assert holidays_off.is_working_day(day) is working


def test_weekend_make_up_working_days_count():
    # Saturday 10 October 2026 is a working day in China (moved for the National Day week)
    assert CN_2026.is_working_day(date(2026, 10, 10))
    assert not CN_2026.is_working_day(date(2026, 10, 11))
    assert not CN_2026.is_working_day(date(2026, 10, 1))


FRIDAY = date(2026, 3, 6)


@pytest.mark.parametrize(
    ("start", "days", "holidays_off", "result"),
    [
        pytest.param(FRIDAY, 3, NO_HOLIDAYS, date(2026, 3, 11), id="friday+3=wednesday"),
        pytest.param(FRIDAY, 3, off(date(2026, 3, 9)), date(2026, 3, 12), id="monday-holiday->thursday"),
        pytest.param(FRIDAY, 1, NO_HOLIDAYS, date(2026, 3, 9), id="friday+1=monday"),
        pytest.param(date(2026, 3, 7), 1, NO_HOLIDAYS, date(2026, 3, 9), id="saturday+1=monday"),
        pytest.param(date(2026, 3, 9), 5, NO_HOLIDAYS, date(2026, 3, 16), id="monday+5=next-monday"),
        pytest.param(FRIDAY, 0, NO_HOLIDAYS, FRIDAY, id="zero-days"),
        pytest.param(
            FRIDAY, 3, off(date(2026, 3, 7), date(2026, 3, 10)), date(2026, 3, 12),
            id="holiday-on-a-weekend-counts-once",
        ),
        pytest.param(
            date(2026, 9, 30), 3, CN_2026, date(2026, 10, 10),
            id="cn-national-day-week-then-make-up-saturday",
        ),
    ],
)
def test_add_working_days(start, days, holidays_off, result):
    assert add_working_days(start, days, holidays_off) == result


def test_end_of_working_days_is_local_midnight_after_the_last_working_day():
    # Friday 6 March + 3 working days = Wednesday 11 March; deadline midnight starting Thursday
    assert end_of_working_days(FRIDAY, 3, NO_HOLIDAYS, SHANGHAI) == utc(2026, 3, 11, 16)
    assert end_of_working_days(FRIDAY, 3, off(date(2026, 3, 9)), SHANGHAI) == utc(2026, 3, 12, 16)


def test_work_calendar_of_china():
    assert date(2026, 10, 1) in CN_2026.holidays  # National Day
    assert date(2026, 1, 1) in CN_2026.holidays
    assert date(2026, 3, 11) not in CN_2026.holidays
    assert {d.year for d in CN_2026.holidays} == {2026, 2027, 2028, 2029}  # 2026-01-01 to 2029-01-01
    assert max(CN_2026.holidays) == date(2029, 1, 1)
    assert date(2026, 10, 10) in CN_2026.weekend_workdays


def test_work_calendar_without_a_country():
    assert work_calendar(None, None, date(2026, 1, 1)) == WorkCalendar()


# --- due_at --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "start", "holidays_off", "deadline"),
    [
        # shipping: 7 natural days counted from the local date of the start
        (DeadlineKind.SHIPPING, utc(2026, 3, 8, 15, 59, 59), NO_HOLIDAYS, utc(2026, 3, 15, 16)),  # local 8 March
        (DeadlineKind.SHIPPING, utc(2026, 3, 8, 16, 0), NO_HOLIDAYS, utc(2026, 3, 16, 16)),  # local 9 March
        # holidays do not move a natural-day deadline
        (DeadlineKind.SHIPPING, utc(2026, 9, 30, 2), CN_2026, utc(2026, 10, 7, 16)),
        # repair: 3 working days from Friday 6 March (10:00 local) -> end of Wednesday 11 March
        (DeadlineKind.REPAIR, utc(2026, 3, 6, 2), NO_HOLIDAYS, utc(2026, 3, 11, 16)),
        (DeadlineKind.REPAIR, utc(2026, 3, 6, 2), off(date(2026, 3, 9)), utc(2026, 3, 12, 16)),
        # 23:30 UTC on Thursday 5 March is already Friday 6 March in Shanghai
        (DeadlineKind.REPAIR, utc(2026, 3, 5, 23, 30), NO_HOLIDAYS, utc(2026, 3, 11, 16)),
        # from Wednesday 30 September through the National Day holidays: 8, 9 and the
        # make-up working Saturday 10 October -> end of Saturday 10 October
        (DeadlineKind.REPAIR, utc(2026, 9, 30, 2), CN_2026, utc(2026, 10, 10, 16)),
    ],
)
def test_due_at(changkong, kind, start, holidays_off, deadline):
    rule = changkong.deadline_rule(kind)
    assert due_at(rule, start, changkong.timezone, holidays_off) == deadline


def test_due_at_of_the_post_repair_window(changkong):
    rule = changkong.deadline_rule(DeadlineKind.POST_REPAIR_WARRANTY)
    # shipped back on 11 March (local): day 60 is 10 May, the window closes at midnight starting 11 May
    assert due_at(rule, utc(2026, 3, 11, 2), SHANGHAI, NO_HOLIDAYS) == utc(2026, 5, 10, 16)


def test_due_at_uses_the_rule_calendar():
    start = utc(2026, 3, 6, 2)  # Friday
    natural = DeadlineRule(days=3, calendar="natural", clause_ids=["X"])
    working = DeadlineRule(days=3, calendar="working", clause_ids=["X"])
    assert due_at(natural, start, "UTC", NO_HOLIDAYS) == utc(2026, 3, 10)  # end of Monday
    assert due_at(working, start, "UTC", NO_HOLIDAYS) == utc(2026, 3, 12)  # end of Wednesday


# --- escalation ladder ---------------------------------------------------------------

START = utc(2026, 3, 9, 2)  # Monday 10:00 in Shanghai


@pytest.fixture
def ladder(changkong):
    steps = changkong.deadlines.shipping.ladder
    assert [s.offset_hours for s in steps] == [-48, 0, 24, 72]  # the premise of the tests below
    return steps


@pytest.fixture
def due(changkong) -> datetime:
    return due_at(changkong.deadlines.shipping, START, changkong.timezone, NO_HOLIDAYS)


def status(due: datetime, **changes) -> DeadlineStatus:
    return DeadlineStatus(
        kind=DeadlineKind.SHIPPING, cycle=1, started_at=START, due_at=due, clause_ids=["RET-X7"], **changes
    )


def test_the_shipping_deadline_of_the_example(due):
    assert due == utc(2026, 3, 16, 16)  # end of 16 March in Shanghai


def test_nothing_is_due_before_the_reminder(ladder, due):
    fresh = status(due)
    assert due_events(fresh, ladder, START) == []
    assert due_events(fresh, ladder, due - 48 * H - timedelta(seconds=1)) == []
    assert next_event_at(fresh, ladder) == due - 48 * H
    assert has_pending_steps(fresh, ladder)


def test_the_reminder_is_due_48_hours_before_the_deadline(ladder, due):
    events = due_events(status(due), ladder, due - 48 * H)
    assert events == [DueEvent(due - 48 * H, 0)]
    assert ladder[0].level == "reminder" and ladder[0].notify == "customer"


def test_at_the_due_moment_the_deadline_comes_before_the_step_at_offset_0(ladder, due):
    after_reminder = status(due, steps_fired=1)
    assert next_event_at(after_reminder, ladder) == due
    assert due_events(after_reminder, ladder, due - timedelta(seconds=1)) == []
    assert due_events(after_reminder, ladder, due) == [DueEvent(due, None), DueEvent(due, 1)]


def test_missed_events_come_in_time_order(ladder, due):
    """A timer that fires late sees every event it missed, oldest first."""
    events = due_events(status(due), ladder, due + 100 * H)
    assert events == [
        DueEvent(due - 48 * H, 0),
        DueEvent(due, None),
        DueEvent(due, 1),
        DueEvent(due + 24 * H, 2),
        DueEvent(due + 72 * H, 3),
    ]


@pytest.mark.parametrize(
    ("fired", "now", "expected_next", "expected_due"),
    [
        (2, 24, 24, [2]),
        (2, 23, 24, []),
        (3, 100, 72, [3]),
    ],
)
def test_after_the_deadline_passed_the_ladder_walks_on(ladder, due, fired, now, expected_next, expected_due):
    passed = status(due, due_passed=True, steps_fired=fired)
    assert next_event_at(passed, ladder) == due + expected_next * H
    assert [e.step for e in due_events(passed, ladder, due + now * H)] == expected_due
    assert has_pending_steps(passed, ladder)


def test_the_whole_ladder_fired(ladder, due):
    done = status(due, due_passed=True, steps_fired=4)
    assert next_event_at(done, ladder) is None
    assert due_events(done, ladder, due + 1000 * H) == []
    assert not has_pending_steps(done, ladder)


def test_after_acknowledgement_only_the_deadline_remains(ladder, due):
    taken = status(due, steps_fired=1, acknowledged_by="agent.amy")
    assert next_event_at(taken, ladder) == due
    assert due_events(taken, ladder, due + 100 * H) == [DueEvent(due, None)]
    assert has_pending_steps(taken, ladder)


def test_acknowledged_and_passed_is_finished(ladder, due):
    taken = status(due, steps_fired=2, due_passed=True, acknowledged_by="supervisor.bo")
    assert next_event_at(taken, ladder) is None
    assert due_events(taken, ladder, due + 100 * H) == []
    assert not has_pending_steps(taken, ladder)


@pytest.mark.parametrize("changes", [{}, {"steps_fired": 1}, {"due_passed": True, "steps_fired": 2}])
def test_a_cleared_deadline_has_nothing_pending(ladder, due, changes):
    cleared = status(due, cleared=True, **changes)
    assert next_event_at(cleared, ladder) is None
    assert due_events(cleared, ladder, due + 1000 * H) == []
    assert not has_pending_steps(cleared, ladder)


def test_a_deadline_without_ladder(due):
    plain = status(due)
    assert next_event_at(plain, []) == due
    assert due_events(plain, [], due) == [DueEvent(due, None)]
    assert not has_pending_steps(status(due, due_passed=True), [])


@pytest.mark.parametrize(
    ("changes", "escalated"),
    [
        ({}, False),
        ({"steps_fired": 1}, False),  # only the reminder, before the deadline
        ({"due_passed": True, "steps_fired": 1}, False),  # passed, but only the reminder fired
        ({"due_passed": True, "steps_fired": 2, "escalated_at": utc(2026, 3, 15, 16)}, True),
        (
            {"due_passed": True, "steps_fired": 2, "escalated_at": utc(2026, 3, 15, 16), "acknowledged_by": "amy"},
            False,
        ),
        ({"due_passed": True, "steps_fired": 0}, False),
    ],
)
def test_escalated(due, changes, escalated):
    assert status(due, **changes).escalated is escalated
