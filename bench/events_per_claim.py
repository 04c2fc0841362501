"""Events per claim: the README's paid repair under the claim engine and under the first
engine (the baseline, same run, same dev server), against the floor the lifecycle needs.

    python -m bench.events_per_claim
"""

import asyncio
import os
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType

from bench.lifecycles import README_PAID_REPAIR, floor_events, run_paid_repair, settled_history
from claimflow.binaries import in_memory_dev_server
from claimflow.policy_files import load_policy
from claimflow.settings import REPO_ROOT
from models.calendar import local_date
from worker import build_worker
from workflows.names import CLAIM, CLAIM_V1

E = EventType


def _name(event_type: int) -> str:
    return E.Name(event_type).removeprefix("EVENT_TYPE_").lower()


async def measure() -> None:
    policy = load_policy(REPO_ROOT / "policies", "changkong")
    async with await in_memory_dev_server() as env:
        with tempfile.TemporaryDirectory() as tmp:
            async with build_worker(env.client, Path(tmp) / "outbox.jsonl", task_queue="bench"):
                today = local_date(await env.get_current_time(), policy.timezone)
                results = {}
                for workflow_type in (CLAIM_V1, CLAIM):
                    number = f"B-{uuid.uuid4().hex[:8].upper()}"
                    handle = await run_paid_repair(env.client, policy, number, today, "bench", workflow_type)
                    events = await settled_history(handle)
                    kinds = Counter(_name(e.event_type) for e in events)
                    size = sum(e.ByteSize() for e in events)
                    floor = floor_events(
                        len(README_PAID_REPAIR), kinds["timer_started"], kinds["timer_canceled"]
                    )
                    results[workflow_type] = (len(events), floor, size, kinds)
                    await handle.terminate("bench over")
    base_count = results[CLAIM_V1][0]
    print(f"README paid repair, {len(README_PAID_REPAIR)} actions, events per claim (history bytes):")
    for workflow_type, (count, floor, size, kinds) in results.items():
        label = "claim engine" if workflow_type == CLAIM else "first engine (baseline)"
        print(
            f"  {label:24} {count:4} events ({size / 1024:.1f} KB); floor {floor} "
            f"-> {count / floor:.2f}x floor; {count / base_count:.2f}x baseline"
        )
        print("    " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    issue_floor = floor_events(len(README_PAID_REPAIR), 5, 4)
    count = results[CLAIM][0]
    print(f"  against the first engine's floor ({issue_floor}, 5 deadlines): {count / issue_floor:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    asyncio.run(measure())
    os._exit(0)  # temporalio can crash at interpreter shutdown; the figures are printed
