"""Open claims waiting on their timers: start N claims (default 10 000) that each wait for
the customer's parcel (the 7-day shipping deadline), then measure the server's and the
worker's memory, the time it took to start them, and a query on a claim the worker has
evicted from its cache (it replays the claim's history first) against one still cached.

    python -m bench.open_claims [--n 10000] [--concurrency 50]

One in-memory `temporal` dev server; claimflow's real worker process (`python worker.py`,
the SDK's default cache of 1 000 workflows), then the bare twin's (bench/bare.py) with the
same N workflows waiting on a timer: the baseline, on the same server, after.
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
from datetime import date
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare import Shape
from bench.lifecycles import paid_repair_intake
from bench.throughput import ROOT, claimflow_client, rss_kb, spawn, until_idle
from claimflow.binaries import in_memory_dev_server
from claimflow.claims import claim_input
from claimflow.policy_files import load_policy
from claimflow.settings import TASK_QUEUE


def server_pid(port: str) -> int:
    """The dev server's process, found by the port on its command line."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"start-dev" in cmdline and port.encode() in cmdline:
                return int(proc.name)
    raise RuntimeError(f"no dev server on port {port}")


async def start_all(numbers: list[str], start, concurrency: int) -> float:
    """Seconds to start every workflow, `concurrency` starts in flight at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(number: str) -> None:
        async with gate:
            await start(number)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in numbers))
    return time.perf_counter() - started


async def query_times(client: Client, numbers: list[str], query: str, repeat: int = 5) -> tuple[float, float]:
    """Median ms of a query on an evicted workflow (the oldest, each queried once: querying
    brings it back into the cache) and on a cached one (the newest)."""

    async def timed(number: str) -> float:
        started = time.perf_counter()
        await client.get_workflow_handle(number).query(query)
        return (time.perf_counter() - started) * 1000

    evicted = [await timed(n) for n in numbers[:repeat]]
    cached = [await timed(numbers[-1]) for _ in range(repeat)]
    return statistics.median(evicted), statistics.median(cached)


async def measure(name: str, worker: subprocess.Popen, server: int, client: Client, start, query: str,
                  n: int, concurrency: int) -> dict:  # fmt: skip
    server_before, worker_before = rss_kb(server), rss_kb(worker.pid)
    numbers = [f"{name}-{uuid.uuid4().hex[:10]}" for _ in range(n)]
    started = time.perf_counter()
    seconds = await start_all(numbers, start, concurrency)
    await until_idle(worker.pid, quiet=1.0)
    settled = time.perf_counter() - started
    evicted, cached = await query_times(client, numbers, query)
    figures = {
        "start": seconds, "settled": settled,
        "server": (rss_kb(server) - server_before) / 1024, "worker": (rss_kb(worker.pid) - worker_before) / 1024,
        "evicted": evicted, "cached": cached,
    }  # fmt: skip
    print(f"{name}: {n} started in {seconds:.1f} s (worker idle after {settled:.1f} s), server +{figures['server']:.0f} MB, "
          f"worker +{figures['worker']:.0f} MB, query {evicted:.0f} ms evicted / {cached:.1f} ms cached", flush=True)  # fmt: skip
    return figures


def report(n: int, ours: dict, bare: dict) -> None:
    rows = [
        ("time to start them", "start", "s", 1),
        ("until the worker is idle", "settled", "s", 1),
        ("server memory, growth", "server", "MB", 0),
        ("worker memory, growth", "worker", "MB", 0),
        ("query, evicted claim", "evicted", "ms", 0),
        ("query, cached claim", "cached", "ms", 1),
    ]
    print(f"\n| {n} open claims | claimflow | bare | ratio |")
    print("| --- | --- | --- | --- |")
    for label, key, unit, digits in rows:
        print(f"| {label} | {ours[key]:.{digits}f} {unit} | {bare[key]:.{digits}f} {unit} | "
              f"{ours[key] / bare[key]:.2f}x |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="open claims (default 10 000)")
    parser.add_argument("--concurrency", type=int, default=50, help="starts in flight at a time (default 50)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        async with await in_memory_dev_server() as env:
            address = env.client.service_client.config.target_host
            server = server_pid(address.rsplit(":", 1)[1])
            client = await claimflow_client(address, tmp)
            policy, today = load_policy(ROOT / "policies", "changkong"), date.today()

            async def open_claim(number: str) -> None:
                claim = claim_input(paid_repair_intake(number, today), policy, today)
                await client.start_workflow("Claim", claim, id=number, task_queue=TASK_QUEUE)

            worker = spawn([sys.executable, "worker.py"])
            try:
                ours = await measure("claimflow", worker, server, client, open_claim, "view", args.n, args.concurrency)
            finally:
                worker.kill()
                worker.wait()
            plain = await Client.connect(address, data_converter=pydantic_data_converter)

            async def open_twin(number: str) -> None:
                await plain.start_workflow("BareClaim", Shape(1, 1, 1), id=number, task_queue="bare")

            worker = spawn([sys.executable, "-m", "bench.bare", "worker", address, "bare"])
            try:
                bare = await measure("bare", worker, server, plain, open_twin, "where", args.n, args.concurrency)
            finally:
                worker.kill()
                worker.wait()
            report(args.n, ours, bare)
    sys.stdout.flush()
    os._exit(0)  # temporalio may crash at interpreter shutdown


if __name__ == "__main__":
    asyncio.run(main())
