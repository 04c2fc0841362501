"""The baseline of bench/throughput.py: a bare Temporal workflow with the paid repair's
shape and none of claimflow's code — its 9 updates (each with a validator), one local
activity per action (claimflow projects each step into the read model that way), the
regular activities and the timers the claim's history shows, each doing nothing.

    python -m bench.bare worker ADDRESS TASK_QUEUE [--encrypted]   # a worker process for it

The counts of activities and timers are taken from a claimflow claim's history in the same
run (`Shape.of`), so the two do the same Temporal work.
"""

import asyncio
import sys
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType

ACTIONS = [
    "receive_parcel",
    "record_inspection",
    "send_quote",
    "approve_quote",
    "complete_repair",
    "record_quality_check",
    "record_payment",
    "ship_back",
    "confirm_delivery",
]


@dataclass
class Shape:
    """What one claim does in Temporal besides its updates: local activities, regular
    activities and timers started, spread over its opening and its 9 actions (the
    remainder of an uneven split on the opening)."""

    local_activities: int
    activities: int
    timers: int

    @classmethod
    def of(cls, events) -> "Shape":
        count = lambda kind: sum(e.event_type == kind for e in events)  # noqa: E731
        local = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                 and e.marker_recorded_event_attributes.marker_name == "core_local_activity"]  # not patch markers
        return cls(
            local_activities=len(local),
            activities=count(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
            timers=count(EventType.EVENT_TYPE_TIMER_STARTED),
        )

    def part(self, step: int) -> "Shape":
        """Step 0 is the opening, step i the i-th action."""
        steps = len(ACTIONS) + 1
        share = lambda n: n // steps + (n % steps if step == 0 else 0)  # noqa: E731
        return Shape(share(self.local_activities), share(self.activities), share(self.timers))


@activity.defn
async def nothing(_: str) -> None:
    """The activity of the bare twin: does nothing."""


@workflow.defn(name="BareClaim")
class BareClaim:
    def __init__(self) -> None:
        self.step = 0
        self.shape = Shape(0, 0, 0)
        self.timer: asyncio.Task | None = None

    @workflow.run
    async def run(self, shape: Shape) -> int:
        self.shape = shape
        await self._work(shape.part(0), "open")
        await workflow.wait_condition(lambda: self.step == len(ACTIONS))
        await workflow.wait_condition(lambda: False, timeout=timedelta(days=60))  # the post-repair window
        return self.step

    async def _act(self, name: str) -> str:
        self.step += 1
        await self._work(self.shape.part(self.step), name)
        return name

    async def _work(self, work: Shape, name: str) -> None:
        for _ in range(work.local_activities):
            await workflow.execute_local_activity(nothing, name, start_to_close_timeout=timedelta(seconds=10))
        for _ in range(work.activities):
            workflow.start_activity(nothing, name, start_to_close_timeout=timedelta(seconds=10))
        for _ in range(work.timers):
            if self.timer is not None:
                self.timer.cancel()
            self.timer = asyncio.ensure_future(workflow.sleep(timedelta(days=7)))

    def _check(self, name: str) -> None:
        if ACTIONS[self.step] != name:
            raise ValueError(f"{name} is not the next step")

    # the paid repair's 9 updates, each with its validator
    @workflow.update
    async def receive_parcel(self, by: str) -> str:
        return await self._act("receive_parcel")

    @receive_parcel.validator
    def _v1(self, by: str) -> None:
        self._check("receive_parcel")

    @workflow.update
    async def record_inspection(self, by: str) -> str:
        return await self._act("record_inspection")

    @record_inspection.validator
    def _v2(self, by: str) -> None:
        self._check("record_inspection")

    @workflow.update
    async def send_quote(self, by: str) -> str:
        return await self._act("send_quote")

    @send_quote.validator
    def _v3(self, by: str) -> None:
        self._check("send_quote")

    @workflow.update
    async def approve_quote(self, by: str) -> str:
        return await self._act("approve_quote")

    @approve_quote.validator
    def _v4(self, by: str) -> None:
        self._check("approve_quote")

    @workflow.update
    async def complete_repair(self, by: str) -> str:
        return await self._act("complete_repair")

    @complete_repair.validator
    def _v5(self, by: str) -> None:
        self._check("complete_repair")

    @workflow.update
    async def record_quality_check(self, by: str) -> str:
        return await self._act("record_quality_check")

    @record_quality_check.validator
    def _v6(self, by: str) -> None:
        self._check("record_quality_check")

    @workflow.update
    async def record_payment(self, by: str) -> str:
        return await self._act("record_payment")

    @record_payment.validator
    def _v7(self, by: str) -> None:
        self._check("record_payment")

    @workflow.update
    async def ship_back(self, by: str) -> str:
        return await self._act("ship_back")

    @ship_back.validator
    def _v8(self, by: str) -> None:
        self._check("ship_back")

    @workflow.update
    async def confirm_delivery(self, by: str) -> str:
        return await self._act("confirm_delivery")

    @confirm_delivery.validator
    def _v9(self, by: str) -> None:
        self._check("confirm_delivery")

    @workflow.query
    def where(self) -> int:
        return self.step


async def run_worker(address: str, task_queue: str, encrypted: bool) -> None:
    """A worker for the twin; `encrypted`: with claimflow's converter and payload codec
    (CLAIMFLOW_KEYS), else the plain pydantic converter."""
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Worker

    if encrypted:
        from claimflow.codec import converter_for
        from claimflow.settings import load_settings

        converter = converter_for(load_settings())
    else:
        converter = pydantic_data_converter
    client = await Client.connect(address, data_converter=converter)
    async with Worker(client, task_queue=task_queue, workflows=[BareClaim], activities=[nothing]):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__" and sys.argv[1:2] == ["worker"]:
    asyncio.run(run_worker(sys.argv[2], sys.argv[3], "--encrypted" in sys.argv[4:]))
