"""Lifecycle throughput, worker CPU and worker memory per cached claim: claimflow against
a bare workflow with the same updates, activities and timers (bench/bare.py), on one
in-memory `temporal` dev server, each side on its own worker process.

    python -m bench.throughput [--claims 100] [--rounds 3] [--paced 4]

* claimflow: the real worker (`python worker.py`: sandbox, AES-GCM payload codec, read
  model on SQLite, notifications to the outbox); each claim the README's paid repair, the
  9 actions sent one after another as soon as the previous one returned.
* bare: `python -m bench.bare worker`, the pydantic converter without a codec; each twin
  gets the same 9 updates and does the activities and timers claimflow's claim did. The
  goals are against it.
* bare + claimflow's codec: the same twin with claimflow's converter and AES-GCM codec,
  to show what encrypting every payload costs by itself.

Rounds rotate which side goes first. Burst: `--claims` lifecycles at once; throughput
is lifecycles per second until the last update returned; the worker's CPU (user + system,
from /proc) is counted until it is idle again (background deliveries included). Paced:
`--paced` lifecycles started per second for 10 s; CPU per claim and lifecycle latency.
Memory: the worker's resident set grows per claim it keeps cached (every claim stays open,
waiting on its post-repair window), measured over the burst rounds.
Goals: throughput >= 0.9x, worker CPU <= 1.3x, memory per cached claim <= 1.5x the bare.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare import ACTIONS, Shape
from bench.lifecycles import README_PAID_REPAIR, paid_repair_intake, settled_history
from claimflow.binaries import in_memory_dev_server
from claimflow.claims import act, claim_input
from claimflow.keys import new_key_entry
from claimflow.settings import TASK_QUEUE
from claimflow.policy_files import load_policy

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def until_idle(pid: int, quiet: float = 0.6) -> float:
    """The worker's CPU seconds once it used none for `quiet` seconds."""
    last = cpu_seconds(pid)
    while True:
        await asyncio.sleep(quiet)
        now = cpu_seconds(pid)
        if now - last < 0.02:
            return now
        last = now


@dataclass
class Side:
    name: str
    client: Client
    process: subprocess.Popen
    drive: object  # async (number) -> None: one whole lifecycle
    open: object  # async (number) -> None: start the workflow
    burst: list[float] = field(default_factory=list)  # lifecycles/s
    cpu: list[float] = field(default_factory=list)  # CPU ms per claim (burst)
    paced_cpu: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)  # s per lifecycle (paced)
    memory: list[float] = field(default_factory=list)  # KB per cached claim

    @property
    def pid(self) -> int:
        return self.process.pid


def claimflow_side(client: Client, process: subprocess.Popen) -> Side:
    policy, today = load_policy(ROOT / "policies", "changkong"), date.today()

    async def start(number: str) -> None:
        await client.start_workflow("Claim", claim_input(paid_repair_intake(number, today), policy, today),
                                    id=number, task_queue=TASK_QUEUE)  # fmt: skip

    async def drive(number: str) -> None:
        await start(number)
        for action in README_PAID_REPAIR:
            await act(client, number, action)

    return Side("claimflow", client, process, drive, start)


def bare_side(client: Client, process: subprocess.Popen, shape: Shape, name: str = "bare") -> Side:
    """The twin on task queue `name` (its worker's), driven through `client`."""

    async def start(number: str) -> None:
        await client.start_workflow("BareClaim", shape, id=number, task_queue=name)

    async def drive(number: str) -> None:
        await start(number)
        handle = client.get_workflow_handle(number)
        for name in ACTIONS:
            await handle.execute_update(name, "amy", result_type=str)

    return Side(name, client, process, drive, start)


async def burst(side: Side, n: int) -> None:
    rss, cpu = rss_kb(side.pid), await until_idle(side.pid)
    started = time.perf_counter()
    await asyncio.gather(*(side.drive(f"{side.name}-{uuid.uuid4().hex[:10]}") for _ in range(n)))
    side.burst.append(n / (time.perf_counter() - started))
    side.cpu.append((await until_idle(side.pid) - cpu) * 1000 / n)
    side.memory.append((rss_kb(side.pid) - rss) / n)


async def paced(side: Side, per_second: int, seconds: int = 10) -> None:
    cpu = await until_idle(side.pid)

    async def one() -> None:
        started = time.perf_counter()
        await side.drive(f"{side.name}-{uuid.uuid4().hex[:10]}")
        side.latency.append(time.perf_counter() - started)

    tasks = []
    for _ in range(per_second * seconds):
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(1 / per_second)
    await asyncio.gather(*tasks)
    side.paced_cpu.append((await until_idle(side.pid) - cpu) * 1000 / len(tasks))


async def claimflow_client(address: str, data_dir: str) -> Client:
    """This process's settings (and so its worker processes'): the server at `address`, a
    fresh encryption key, the read model in `data_dir`; and a client connected with them."""
    key = new_key_entry("bench")
    os.environ.update({"TEMPORAL_ADDRESS": address, "CLAIMFLOW_DATA_DIR": data_dir, "CLAIMFLOW_KEYS": key})
    os.environ.pop("DATABASE_URL", None)
    from claimflow.settings import load_settings
    from claimflow.temporal import connect

    return await connect(load_settings())


def spawn(args: list[str]) -> subprocess.Popen:
    """A worker process with this process's environment."""
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def shape_of(side: Side) -> tuple[Shape, int]:
    """What one lifecycle of `side` does in Temporal (from its settled history), and its events."""
    number = f"shape-{uuid.uuid4().hex[:8]}"
    await side.drive(number)
    events = await settled_history(side.client.get_workflow_handle(number))
    return Shape.of(events), len(events)


def ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(a) / statistics.median(b)


def report(sides: list[Side], args, shape: Shape, events: tuple[int, int]) -> None:
    """The table: each side's median, and claimflow's against the bare twin (the goal's
    baseline); the encrypted twin shows what the payload codec alone costs."""
    ours, bare, sealed = sides
    med = statistics.median
    q95 = lambda xs: sorted(xs)[int(0.95 * (len(xs) - 1))]  # noqa: E731
    print(f"\nshape of a paid repair: {shape.local_activities} local activities, {shape.activities} activities, "
          f"{shape.timers} timers; {events[0]} events (bare twin {events[1]})")  # fmt: skip
    print(f"\n| {args.claims} lifecycles at once, {args.rounds} rounds | claimflow | bare | claimflow / bare | goal "
          "| bare + claimflow's codec |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    rows = [("lifecycles/s (burst)", "burst", "{:.1f}", ">= 0.9x"),
            ("worker CPU per claim (burst)", "cpu", "{:.0f} ms", "<= 1.3x"),
            (f"worker CPU per claim (paced, {args.paced}/s)", "paced_cpu", "{:.0f} ms", "<= 1.3x"),
            ("lifecycle latency p50, paced", "latency", "{:.2f} s", ""),
            ("worker memory per cached claim", "memory", "{:.0f} KB", "<= 1.5x")]  # fmt: skip
    for label, name, fmt, goal in rows:
        figures = [getattr(side, name) for side in sides]
        if all(figures):
            cells = [fmt.format(med(f)) for f in figures]
            print(f"| {label} | {cells[0]} | {cells[1]} | {ratio(figures[0], figures[1]):.2f}x | {goal} | {cells[2]} |")
    if ours.latency:
        print(f"\nlifecycle latency p95, paced: claimflow {q95(ours.latency):.2f} s, bare {q95(bare.latency):.2f} s, "
              f"bare + codec {q95(sealed.latency):.2f} s")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100, help="lifecycles per burst (default 100)")
    parser.add_argument("--rounds", type=int, default=3, help="burst rounds per side (default 3)")
    parser.add_argument("--paced", type=int, default=4, help="lifecycles started per second, 10 s (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with await in_memory_dev_server() as env:
            address = env.client.service_client.config.target_host
            client = await claimflow_client(address, tmp)
            bare_worker = [sys.executable, "-m", "bench.bare", "worker", address]
            processes = [spawn([sys.executable, "worker.py"]), spawn([*bare_worker, "bare"]),
                         spawn([*bare_worker, "bare-encrypted", "--encrypted"])]  # fmt: skip
            try:
                ours = claimflow_side(client, processes[0])
                shape, claim_events = await shape_of(ours)
                plain = await Client.connect(address, data_converter=pydantic_data_converter)
                bare = bare_side(plain, processes[1], shape)
                sealed = bare_side(client, processes[2], shape, "bare-encrypted")
                _, bare_events = await shape_of(bare)
                sides = [ours, bare, sealed]
                for side in sides:  # warm-up: sandboxes, imports, connections
                    await asyncio.gather(*(side.drive(f"warm-{uuid.uuid4().hex[:10]}") for _ in range(10)))
                for r in range(args.rounds):
                    for side in sides[r % 3:] + sides[: r % 3]:  # each side first in turn
                        await burst(side, args.claims)
                        print(f"round {r + 1} {side.name:14}: {side.burst[-1]:6.1f} lifecycles/s, "
                              f"{side.cpu[-1]:5.0f} ms CPU/claim, {side.memory[-1]:5.0f} KB/claim", flush=True)  # fmt: skip
                if args.paced:
                    for side in sides + sides[::-1]:
                        await paced(side, args.paced)
                        print(f"paced {side.name:14}: {side.paced_cpu[-1]:5.0f} ms CPU/claim", flush=True)
                report(sides, args, shape, (claim_events, bare_events))
            finally:
                for process in processes:
                    process.kill()
                    process.wait()
    sys.stdout.flush()
    os._exit(0)  # temporalio may crash at interpreter shutdown


if __name__ == "__main__":
    asyncio.run(main())
