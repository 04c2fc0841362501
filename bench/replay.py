"""Replay throughput: claimflow's replay paths against a bare `temporalio.worker.Replayer`
(the baseline) on the same histories, rounds interleaved, in the same process.

    python -m bench.replay [--copies K] [--rounds R] [--workers N]

The histories are tests/histories/*.json (claims of both engines and complaints: `claims
replay --dir` replays them all), each read K times. Every side reads the files and parses
the JSON (`WorkflowHistory.from_json`) inside its timing, then replays; every history must
replay clean on every side (checked). Sides, each timed once per round, in turn:

* `claims replay`, 1 process: `claimflow.replay.replay_all(from_directory(...), workers=1)`,
  the path `claims replay --dir DIR --workers 1` takes (one Replayer, histories streamed);
* `claims audit` replay: `claimflow.audit.replay` once per history, as `claims audit`
  replays a claim (a Replayer per claim, each run decrypted by `decoded_history` first);
* bare Replayer (baseline): `Replayer(workflows=WORKFLOWS, data_converter=<claimflow's
  converter with the codec>, workflow_runner=SANDBOX).replay_workflows(histories)`;
* bare Replayer, default sandbox: the same with temporalio's default `SandboxedWorkflowRunner`
  (no passthrough of models, workflows, pydantic, dateutil), to show what worker.SANDBOX is worth;
* `claims replay`, N processes (N = the CLI's default, one per CPU): what the command does;
  not like-for-like with the single-process baseline (it includes the pool's start-up).

The figure is the median round; the ratio is side / baseline (goal: >= 0.9x for the
single-process claimflow sides). The histories in tests/histories are recorded in plain JSON
payloads (the codec passes them through); CLAIMFLOW_KEYS is set to the tests' key anyway, so
that the converter is the one the tests and a configured process use. Bytecode is written to
and read from a cache in the temp directory (sys.pycache_prefix), not the repository's
__pycache__: without it (--no-bytecode-cache), a stale or missing .pyc (PYTHONDONTWRITEBYTECODE)
is compiled again at every sandbox import of a workflow module, which no installed claimflow
does. CPU seconds (this process's threads and the pool's processes) are reported beside wall
time: other work sharing the cores moves wall time much more than CPU time.

`--proposed` adds the audit's replay with a runner that validates each workflow once per
process (`ValidatedOnce` below), the change to claimflow/audit.py the figures point to.
"""

import argparse
import asyncio
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

os.environ["CLAIMFLOW_KEYS"] = "test-key:" + "dGVzdC1rZXktZm9yLWNsYWltZmxvdy10ZXN0cy0zMmI="  # tests/conftest.py

import temporalio  # noqa: E402
from temporalio.client import WorkflowHistory  # noqa: E402
from temporalio.worker import Replayer, WorkflowRunner  # noqa: E402

from claimflow import audit, replay  # noqa: E402
from claimflow.codec import reading_converter  # noqa: E402
from claimflow.settings import REPO_ROOT  # noqa: E402
from worker import SANDBOX, WORKFLOWS  # noqa: E402

HISTORIES = REPO_ROOT / "tests" / "histories"
GOAL = 0.9
BASELINE = "bare Replayer (baseline)"


def corpus(copies: int) -> list[Path]:
    return sorted(HISTORIES.glob("*.json")) * copies


def count_events(paths: list[Path]) -> int:
    return sum(len(WorkflowHistory.from_json(p.stem, p.read_text()).events) for p in paths)


def _all_clean(verdicts) -> None:
    failed = [v for v in verdicts if not v.clean]
    if failed:
        raise SystemExit(f"not clean: {failed[0]}")


async def claims_replay(paths: list[Path], workers: int) -> None:
    """`claims replay --dir`: from_directory's sources (here: the corpus K times), replay_all."""
    sources = replay.from_directory(HISTORIES) * (len(paths) // len(replay.from_directory(HISTORIES)))
    _all_clean(await replay.replay_all(sources, workers))


class ValidatedOnce(WorkflowRunner):
    """The proposed change (--proposed): a runner that validates each workflow class once per
    process. Every `Replayer.replay_workflow` call builds a worker, and every worker validates
    every workflow by instantiating it in a fresh sandbox (`prepare_workflow`): the audit, a
    Replayer per claim, pays that for all of WORKFLOWS on every claim."""

    def __init__(self, inner: WorkflowRunner) -> None:
        self.inner, self.validated = inner, set()

    def prepare_workflow(self, defn) -> None:
        if defn.cls not in self.validated:
            self.inner.prepare_workflow(defn)
            self.validated.add(defn.cls)

    def create_instance(self, det):
        return self.inner.create_instance(det)

    def set_worker_level_failure_exception_types(self, types) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


VALIDATED_ONCE = ValidatedOnce(SANDBOX)


def workflow_types(paths: list[Path]) -> dict[Path, str]:
    """Each history's workflow type, as the audit's RunHistory carries it (read untimed)."""
    return {p: replay._workflow_type(WorkflowHistory.from_json(p.stem, p.read_text())) for p in set(paths)}


async def audit_replay(paths: list[Path], types: dict[Path, str], runner: WorkflowRunner | None = None) -> None:
    """`claims audit`'s replay (and the web audit's), one claim (one run) per history."""
    for path in paths:
        text = await asyncio.to_thread(path.read_text)
        run = audit.RunHistory(run_id=path.stem, workflow_type=types[path], history_json=text)
        verdict = await audit.replay([run], path.stem, runner=runner)
        if not verdict.clean:
            raise SystemExit(f"not clean: {path.stem}: {verdict.text}")


async def bare_replayer(paths: list[Path], sandbox: bool = True) -> None:
    """The baseline: one Replayer, `replay_workflows` over the histories, each read and parsed as it is replayed."""

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for path in paths:
            yield WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))

    runner = {"workflow_runner": SANDBOX} if sandbox else {}
    replayer = Replayer(workflows=WORKFLOWS, data_converter=reading_converter(), **runner)
    results = await replayer.replay_workflows(histories(), raise_on_replay_failure=False)
    if results.replay_failures:
        raise SystemExit(f"not clean: {results.replay_failures}")


def sides(paths: list[Path], workers: int, proposed: bool) -> dict[str, Callable[[], Awaitable[None]]]:
    types = workflow_types(paths)
    found = {
        BASELINE: lambda: bare_replayer(paths),
        "`claims replay`, 1 process": lambda: claims_replay(paths, 1),
        "`claims audit` replay": lambda: audit_replay(paths, types),
        "bare Replayer, default sandbox": lambda: bare_replayer(paths, sandbox=False),
    }
    if proposed:
        found["`claims audit` replay, validated once (proposed)"] = lambda: audit_replay(paths, types, VALIDATED_ONCE)
    if workers > 1:
        found[f"`claims replay`, {workers} processes"] = lambda: claims_replay(paths, workers)
    return found


def cpu_seconds() -> float:
    """CPU time of this process (all its threads: the SDK core's too) and of its reaped
    children (the pool's processes, once the pool is shut down)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


async def timed(run: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    await run()
    return time.perf_counter() - wall, cpu_seconds() - cpu


async def measure(runs: dict[str, Callable[[], Awaitable[None]]], rounds: int) -> dict[str, list[tuple[float, float]]]:
    await timed(runs[BASELINE])  # warm-up: imports, the sandbox's first module loads
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for number in range(rounds):
        order = list(runs) if number % 2 == 0 else list(reversed(runs))  # no side always first
        for name in order:
            seconds[name].append(await timed(runs[name]))
        print(f"  round {number + 1} (load {os.getloadavg()[0]:.1f}): "
              + ", ".join(f"{n} {seconds[n][-1][0]:.2f} s" for n in runs), file=sys.stderr)  # fmt: skip
    return seconds


def medians(times: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in times), statistics.median(c for _, c in times)


def table(seconds: dict[str, list[tuple[float, float]]], histories: int, events: int) -> str:
    base_wall, base_cpu = medians(seconds[BASELINE])
    lines = [
        "| side | wall s (min-max) | histories/s | events/s | vs baseline | CPU s | vs baseline, CPU |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, times in seconds.items():
        wall, cpu = medians(times)
        walls = [w for w, _ in times]
        lines.append(
            f"| {name} | {wall:.2f} ({min(walls):.2f}-{max(walls):.2f}) | {histories / wall:.1f} | "
            f"{events / wall:,.0f} | {base_wall / wall:.2f}x | {cpu:.2f} | {base_cpu / cpu:.2f}x |"
        )
    return "\n".join(lines)


def verdicts(seconds: dict[str, list[tuple[float, float]]]) -> list[str]:
    """The single-process claimflow sides against the goal, on wall and on CPU time."""
    base_wall, base_cpu = medians(seconds[BASELINE])
    found = []
    for name in seconds:
        if name == BASELINE or "Replayer" in name or "processes" in name:
            continue
        wall, cpu = medians(seconds[name])
        ratio = min(base_wall / wall, base_cpu / cpu)
        found.append(f"{name}: {base_wall / wall:.2f}x (wall), {base_cpu / cpu:.2f}x (CPU) the bare Replayer; "
                     f"goal >= {GOAL}x: {'met' if ratio >= GOAL else 'MISSED'}")  # fmt: skip
    return found


def bytecode_cache() -> None:
    """The sandbox re-imports the workflow modules for every workflow instance it creates: with
    no valid bytecode for one (PYTHONDONTWRITEBYTECODE and a stale __pycache__), every import
    compiles it again. An installed claimflow has its bytecode; so does this process, in a
    cache of its own in the temp directory (the repository's __pycache__ is left alone)."""
    prefix = str(Path(tempfile.gettempdir()) / "claimflow-bench-pycache")
    sys.dont_write_bytecode, sys.pycache_prefix = False, prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # and the pool's spawned processes
    os.environ["PYTHONPYCACHEPREFIX"] = prefix


def machine() -> str:
    load = ", load %.1f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return (f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"temporalio {temporalio.__version__}{load}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="read each history this many times per side")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=replay.default_workers(),
                        help="processes of the parallel `claims replay` side (1: leave it out)")  # fmt: skip
    parser.add_argument("--proposed", action="store_true",
                        help="add the audit's replay with each workflow validated once per process")  # fmt: skip
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="import as the environment says (a stale .pyc is compiled at every import)")  # fmt: skip
    args = parser.parse_args()
    if not args.no_bytecode_cache:
        bytecode_cache()
    paths = corpus(args.copies)
    events = count_events(paths)
    print(f"{len(paths)} histories ({len(paths) // args.copies} files x {args.copies}), {events} events; "
          f"median of {args.rounds} rounds, interleaved", flush=True)  # fmt: skip
    seconds = asyncio.run(measure(sides(paths, args.workers, args.proposed), args.rounds))
    print()
    print(table(seconds, len(paths), events))
    print()
    print("\n".join(verdicts(seconds)))
    print(f"\nmachine: {machine()}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # temporalio can crash at interpreter shutdown; the figures are printed
