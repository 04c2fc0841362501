"""Deliveries of a workflow, off the clock's path: its outbox of notifications and its
read-model feed. Each runs in a coroutine of its own (`asyncio.create_task(x.run())`) and
catches up when its dependency comes back; the workflow's main loop never awaits either.

* `Outbox`: the notifications queued by the workflow, sent in order by the NOTIFY activity,
  each within DELIVERY_BOUND with a bounded retry. A non-urgent notification waits for the
  policy's service hours (`next_in_service`); an urgent one never waits, and overtakes
  those waiting. The outcome of each — sent, sent late, not delivered (and retried) — goes
  to the workflow's `report` callback with a detail (the activity's note of whom it
  reached, or why it failed), which records it (timeline, a warning to queue).
* `ReadModelFeed`: a coalesced snapshot of the workflow whenever it has something new,
  written by a local activity; while the database is away, by a regular activity retried
  by the server, run after run, until it is back.

Workflow code (deterministic): imported by workflows, which pass their own callbacks.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from models.calendar import WorkCalendar, next_in_service
    from models.claim import Delivery, Notification
    from models.policy import ServiceHours
    from workflows.names import NOTIFY

LOCAL_PROJECTION_BOUND = timedelta(seconds=5)
DELIVERY_BOUND = timedelta(hours=2)
# One attempt of a delivery: an attempt lost with its worker (SIGKILL) is retried after this,
# not after the whole DELIVERY_BOUND (an SMTP conversation is bounded at 20 s per message).
ATTEMPT_BOUND = timedelta(minutes=2)
DELIVERY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=10))
LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)

SENT, SENT_LATE, NOT_DELIVERED = "sent", "sent late", "not delivered"  # the outcomes `report` is given


class Outbox:
    """The notifications a workflow has not delivered yet, oldest first, and their sender."""

    def __init__(
        self,
        hours: ServiceHours | None,
        tz: str,
        calendar: WorkCalendar,
        report: Callable[[Notification, str, str], None],
    ) -> None:
        self._hours, self._tz, self._calendar = hours, tz, calendar
        self._report = report  # (notification, outcome, detail)
        self._queue: list[Notification] = []
        self._queued = 0  # bumped by every queue(): wakes a wait for service hours

    def queue(self, notification: Notification) -> None:
        self._queue.append(notification)
        self._queued += 1

    @property
    def empty(self) -> bool:
        return not self._queue

    def sendable_from(self, notification: Notification, now: datetime) -> datetime:
        """When `notification` may go: now if urgent or inside service hours, else the next opening."""
        return now if notification.urgent else next_in_service(now, self._hours, self._tz, self._calendar)

    async def run(self) -> None:
        failed: set[str] = set()
        while True:
            await workflow.wait_condition(lambda: bool(self._queue))
            now = workflow.now()
            notification = next((n for n in self._queue if self.sendable_from(n, now) <= now), None)
            if notification is None:  # all wait for service hours: until the opening, or a new one
                opening = min(self.sendable_from(n, now) for n in self._queue)
                queued = self._queued
                try:
                    await workflow.wait_condition(lambda: self._queued != queued, timeout=opening - now)
                except asyncio.TimeoutError:
                    pass
                continue
            try:
                delivery = await workflow.execute_activity(
                    NOTIFY,
                    notification,
                    schedule_to_close_timeout=DELIVERY_BOUND,
                    start_to_close_timeout=ATTEMPT_BOUND,
                    retry_policy=DELIVERY_RETRY,
                    summary=f"notify {notification.role}",
                    result_type=Delivery,
                )
            except FailureError as err:
                self._queue.remove(notification)
                self._queue.append(notification)  # the others are not held up behind it
                if notification.key not in failed:
                    failed.add(notification.key)
                    self._report(notification, NOT_DELIVERED, cause_of(err))
                continue
            self._queue.remove(notification)
            late = notification.key in failed
            failed.discard(notification.key)
            self._report(notification, SENT_LATE if late else SENT, delivery.note)


class Snapshot(Protocol):
    version: int  # how much of the workflow it carries (the timeline's length)


class ReadModelFeed:
    """Keeps the read model up to date: whenever `version()` passes what was projected, the
    snapshot `snapshot(projected)` (everything new since) goes to the `activity`."""

    def __init__(
        self,
        activity: str,
        snapshot: Callable[[int], Snapshot],
        version: Callable[[], int],
        log: Callable[[str], None],
    ) -> None:
        self._activity, self._snapshot, self._version, self._log = activity, snapshot, version, log
        self.projected = 0

    @property
    def caught_up(self) -> bool:
        return self.projected >= self._version()

    async def run(self) -> None:
        behind_since: datetime | None = None
        while True:
            await workflow.wait_condition(lambda: not self.caught_up)
            snapshot: Any = self._snapshot(self.projected)
            try:
                if behind_since is None:
                    await workflow.execute_local_activity(
                        self._activity,
                        snapshot,
                        schedule_to_close_timeout=LOCAL_PROJECTION_BOUND,
                        retry_policy=LOCAL_RETRY,
                        summary="project into the read model",
                    )
                else:
                    await workflow.execute_activity(
                        self._activity,
                        snapshot,
                        schedule_to_close_timeout=DELIVERY_BOUND,
                        start_to_close_timeout=ATTEMPT_BOUND,
                        retry_policy=DELIVERY_RETRY,
                        summary="project into the read model (catching up)",
                    )
            except FailureError as err:  # a local activity raises its failure itself, not an ActivityError
                if behind_since is None:
                    behind_since = workflow.now()
                    self._log(f"read model not updated ({cause_of(err)}); retrying until it is back")
                continue
            self.projected = snapshot.version
            if behind_since is not None:
                self._log(f"read model caught up after {span(workflow.now() - behind_since)}")
                behind_since = None


def span(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h {int(delta.total_seconds() % 3600 // 60)}m"


def cause_of(err: FailureError) -> str:
    cause = err.cause if err.cause is not None else err
    return str(cause)[:200] or type(cause).__name__
