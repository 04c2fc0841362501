"""When a deadline falls due and which of its escalation steps are due: pure functions.

A deadline has a due moment and a ladder of steps at offsets from it (a negative offset
is a reminder before it). The workflow asks `next_event_at` to set its one timer, and
`due_events` what to do when that timer fires.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from models.calendar import WorkCalendar, end_of_natural_days, end_of_working_days, local_date
from models.claim import DeadlineStatus
from models.policy import DeadlineRule, EscalationStep


def due_at(rule: DeadlineRule, start: datetime, tz: str, calendar: WorkCalendar) -> datetime:
    """The end of the rule's last day, counting from the local date of `start`."""
    start_day = local_date(start, tz)
    if rule.calendar == "working":
        return end_of_working_days(start_day, rule.days, calendar, tz)
    return end_of_natural_days(start_day, rule.days, tz)


@dataclass(frozen=True)
class DueEvent:
    """Either the deadline itself passing (step is None) or ladder step number `step`."""

    at: datetime
    step: int | None


def _events(status: DeadlineStatus, ladder: Sequence[EscalationStep]) -> list[DueEvent]:
    """Every event of the deadline not yet fired, in time order (the deadline before a step
    at the same moment)."""
    if status.cleared or status.paused:
        return []
    events = [] if status.due_passed else [DueEvent(status.due_at, None)]
    if status.acknowledged_by is None:
        events += [
            DueEvent(status.due_at + timedelta(hours=step.offset_hours), index)
            for index, step in enumerate(ladder)
            if index >= status.steps_fired
        ]
    return sorted(events, key=lambda e: (e.at, e.step is not None, e.step or 0))


def next_event_at(status: DeadlineStatus, ladder: Sequence[EscalationStep]) -> datetime | None:
    events = _events(status, ladder)
    return events[0].at if events else None


def due_events(status: DeadlineStatus, ladder: Sequence[EscalationStep], now: datetime) -> list[DueEvent]:
    return [event for event in _events(status, ladder) if event.at <= now]


def has_pending_steps(status: DeadlineStatus, ladder: list[EscalationStep]) -> bool:
    """Whether anything of this deadline can still fire."""
    return bool(_events(status, ladder))
