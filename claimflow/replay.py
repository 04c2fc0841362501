"""Replay many claim histories against today's workflow code, in parallel: the engine of
`claims replay`.

A history comes from a directory of JSON files (as `WorkflowHistory.to_json()` writes
them: tests/histories/), from the archive of closed claims, or from Temporal (every claim
workflow a visibility query lists). Each is replayed by a `temporalio.worker.Replayer`
with the worker's own workflows and sandbox (worker.WORKFLOWS, worker.SANDBOX) and the
data converter with the configured keys (claimflow/codec.py: encrypted payloads decrypted,
plain ones as they are), in `workers` processes side by side (replaying is CPU work under
the GIL). The answer is one `Verdict` per history: clean, or the non-determinism (or other
replay failure) with the event it happened at.
"""

import asyncio
import concurrent.futures
import multiprocessing
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from claimflow.codec import reading_converter

from workflows.names import claim_types_query

CLEAN = "clean"
NONDETERMINISM = "non-determinism"
FAILED = "failed"  # the replay failed otherwise (a workflow type no longer registered, …)
UNREADABLE = "unreadable"  # the history could not be read (bad JSON, RPC error)

# The SDK core's failure text: `… Failure { message: "<what>", source: …` around the detail,
# `HistoryEvent(id: 7, MarkerRecorded)` or `event id 7` naming the event when it knows it.
_MESSAGE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_EVENT = re.compile(r"HistoryEvent\(id: (\d+)|event[ _]id:? (\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    """One history to replay: its name in the report and how to read it."""

    name: str
    load: Callable[[], Awaitable[tuple[str, str]]]  # (workflow id, the history as JSON)


@dataclass
class Verdict:
    history: str  # the source's name (file stem, or workflow id / run id)
    workflow_id: str
    workflow_type: str
    events: int
    verdict: str  # CLEAN, NONDETERMINISM, FAILED or UNREADABLE
    event_id: int | None = None  # where the replay diverged, when the SDK says
    detail: str | None = None

    @property
    def clean(self) -> bool:
        return self.verdict == CLEAN

    def describe(self) -> str:
        """`clean`, or `non-determinism at event 7: No command scheduled for …`."""
        if self.clean:
            return CLEAN
        where = f" at event {self.event_id}" if self.event_id is not None else ""
        return f"{self.verdict}{where}: {self.detail}"

    def as_dict(self) -> dict:
        return asdict(self) | {"clean": self.clean}


def _workflow_type(history: WorkflowHistory) -> str:
    if history.events and history.events[0].HasField("workflow_execution_started_event_attributes"):
        return history.events[0].workflow_execution_started_event_attributes.workflow_type.name
    return "?"


_RECORDED = re.compile(r"'([^']{3,})'")


def _event_naming(history: WorkflowHistory, detail: str) -> int | None:
    """When the SDK does not number the event (`Activity type of recorded marker 'x' does
    not match … command 'y'`), the first event after the start that holds the recorded
    value it quotes first; None when there is no such value or event."""
    recorded = _RECORDED.search(detail)
    if recorded is None or recorded.group(1).isdigit():
        return None
    needle = recorded.group(1).encode()
    return next((e.event_id for e in history.events[1:] if needle in e.SerializeToString()), None)


def verdict_of(name: str, history: WorkflowHistory, failure: BaseException | None) -> Verdict:
    verdict = Verdict(name, history.workflow_id, _workflow_type(history), len(history.events), CLEAN)
    if failure is None:
        return verdict
    text = str(failure)
    message = _MESSAGE.search(text)
    detail = message.group(1).replace('\\"', '"') if message else text
    event = _EVENT.search(detail) or _EVENT.search(text)
    verdict.verdict = NONDETERMINISM if isinstance(failure, NondeterminismError) else FAILED
    verdict.event_id = int(next(g for g in event.groups() if g)) if event else _event_naming(history, detail)
    verdict.detail = detail.removeprefix("[TMPRL1100] ").removeprefix("Nondeterminism error: ")
    return verdict


def unreadable(name: str, error: BaseException) -> Verdict:
    return Verdict(name, name, "?", 0, UNREADABLE, detail=f"{type(error).__name__}: {error}")


def replayer(runtime: Runtime | None = None) -> Replayer:
    """A Replayer of exactly what the worker runs (imported here: worker imports the activities)."""
    from worker import SANDBOX, WORKFLOWS

    return Replayer(
        workflows=WORKFLOWS, data_converter=reading_converter(), workflow_runner=SANDBOX, runtime=runtime
    )  # decrypts histories fetched from Temporal; recorded plain ones pass through


def quiet_runtime() -> Runtime:
    """A runtime whose SDK core does not log: it would print each failing workflow task's
    warning on stdout, in the middle of the table or the JSON; the verdicts carry it."""
    return Runtime(telemetry=TelemetryConfig(logging=None))


async def _replay_here(sources: list[Source], done: Callable[[int, Verdict], None]) -> None:
    """Replay `sources` one after the other with one Replayer in this process, calling
    `done(index, verdict)` for each; a history that cannot be read or parsed is UNREADABLE."""
    queue, runtime = list(enumerate(sources)), quiet_runtime()
    while queue:
        in_flight: list[int] = []  # the index whose history the replayer holds

        async def histories() -> AsyncIterator[WorkflowHistory]:
            while queue:
                index, source = queue.pop(0)
                try:
                    workflow_id, text = await source.load()
                    history = WorkflowHistory.from_json(workflow_id, text)
                except Exception as e:  # noqa: BLE001 - one unreadable history is its verdict
                    done(index, unreadable(source.name, e))
                    continue
                in_flight[:] = [index]
                yield history

        try:
            async with replayer(runtime).workflow_replay_iterator(histories()) as results:
                async for result in results:
                    [index] = in_flight
                    in_flight.clear()
                    done(index, verdict_of(sources[index].name, result.history, result.replay_failure))
        except Exception as e:  # noqa: BLE001 - the replayer itself broke: this history failed, go on
            if not in_flight:
                raise
            index = in_flight[0]
            done(index, Verdict(sources[index].name, sources[index].name, "?", 0, FAILED, detail=str(e)))


def _replay_batch(batch: list[tuple[str, str, str]]) -> list[Verdict]:
    """In a pool process: replay (name, workflow id, history JSON) triples, a verdict each."""

    def source(name: str, workflow_id: str, text: str) -> Source:
        async def load() -> tuple[str, str]:
            return workflow_id, text

        return Source(name, load)

    verdicts: list[Verdict] = [None] * len(batch)  # type: ignore[list-item]
    asyncio.run(_replay_here([source(*item) for item in batch], verdicts.__setitem__))
    return verdicts


BATCH = 4  # histories sent to a pool process at a time (the progress bar moves by batches)


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


async def replay_all(
    sources: Iterable[Source], workers: int = 1, on_done: Callable[[Verdict], None] | None = None
) -> list[Verdict]:
    """Replay every source; one verdict per source, in the sources' order. `on_done` is
    called as each verdict is known (a progress bar).

    Replaying is CPU work under the GIL, so `workers` > 1 replays in that many processes
    (spawned: forking a process whose Temporal runtime has threads is not safe), fed in
    batches of histories read here; `workers` = 1 replays in this process."""
    sources = list(sources)
    verdicts: list[Verdict | None] = [None] * len(sources)

    def done(index: int, verdict: Verdict) -> None:
        verdicts[index] = verdict
        if on_done:
            on_done(verdict)

    if workers <= 1 or len(sources) <= BATCH:
        await _replay_here(sources, done)
        return verdicts  # type: ignore[return-value]

    loop = asyncio.get_running_loop()
    in_flight = asyncio.Semaphore(workers * 2)  # batches read and not yet replayed: bounds memory
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:

        async def replay_batch(indices: range) -> None:
            async with in_flight:
                batch, sent = [], []
                for index in indices:
                    try:
                        workflow_id, text = await sources[index].load()
                    except Exception as e:  # noqa: BLE001 - one unreadable history is its verdict
                        done(index, unreadable(sources[index].name, e))
                        continue
                    batch.append((sources[index].name, workflow_id, text))
                    sent.append(index)
                if not batch:
                    return
                try:
                    replayed = await loop.run_in_executor(pool, _replay_batch, batch)
                except concurrent.futures.process.BrokenProcessPool as e:  # a replay process died
                    replayed = [Verdict(name, wid, "?", 0, FAILED, detail=f"the replay process died: {e}")
                                for name, wid, _ in batch]  # fmt: skip
                for index, verdict in zip(sent, replayed):
                    done(index, verdict)

        batches = [range(i, min(i + BATCH, len(sources))) for i in range(0, len(sources), BATCH)]
        await asyncio.gather(*(replay_batch(batch) for batch in batches))
    return verdicts  # type: ignore[return-value]


# --- where histories come from -----------------------------------------------------------


def from_directory(directory: Path) -> list[Source]:
    """Every `*.json` history in `directory`, by name; its workflow id is the file's stem."""

    def source(path: Path) -> Source:
        async def load() -> tuple[str, str]:
            return path.stem, await asyncio.to_thread(path.read_text)

        return Source(path.stem, load)

    return [source(path) for path in sorted(directory.glob("*.json"))]


def from_archive(engine) -> list[Source]:
    """Every run in the archive of closed claims (claim_archive), oldest closed first."""
    from claimflow.archive import archived_claims

    def source(row) -> Source:
        async def load() -> tuple[str, str]:
            return row.workflow_id, row.history_json

        return Source(f"{row.workflow_id}/{row.run_id}", load)

    return [source(row) for row in reversed(archived_claims(engine))]


def claims_query(where: str | None = None) -> str:
    return claim_types_query() + (f" AND ({where})" if where else "")


async def from_temporal(client: Client, where: str | None = None) -> list[Source]:
    """Every claim workflow run Temporal lists (`where` narrows the visibility query; an
    invalid query is Temporal's RPCError)."""

    def source(workflow_id: str, run_id: str) -> Source:
        async def load() -> tuple[str, str]:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
            return workflow_id, history.to_json()

        return Source(f"{workflow_id}/{run_id}", load)

    return [source(e.id, e.run_id) async for e in client.list_workflows(claims_query(where))]
