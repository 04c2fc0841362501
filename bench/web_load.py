"""Web pages under load: p95 of the claim list and of a claim's page, served by uvicorn on
loopback to concurrent signed-in clients, against a static file served by the same server.

    python -m bench.web_load [--n 10000] [--clients 8] [--seconds 15] [--rounds 3]

A read model is filled by bulk insert with `--n` claims (bench/list_latency.py's spread),
and an agent is added to sign in. A private in-memory `temporal` dev server runs, and a
child process serves the real app as `claims up` does (web.serve.serve_web: uvicorn on
127.0.0.1, a free port) with a worker in the same process and on the same Temporal
client. The claim page asks Temporal for the claim's view (a workflow query, answered by
that worker), so one real claim is opened and driven to awaiting_approval (parcel
received, inspected, quote sent): its page shows deadlines and action forms.

The load: `--clients` clients (httpx2, one event loop in this process), each signed in
with its own session and connection, send GETs one after another, for `--seconds` per
page: GET /claims (the first page), GET /claims?state=repairing, GET /claims/<number>. The
baseline is GET /static/app.css on the same server under the same load (the middleware,
no route, no database), its rounds interleaved with the pages' (`--rounds` rounds, each
target a `--seconds / --rounds` slice per round, after a warm-up). Each request's latency
is timed in the client (so it includes the client's own scheduling); any status but 200
counts as an error. The goal compared against: p95 under 50 ms (the issue's goal for the
list's first page at 100 000 claims).

Quick smoke run: `python -m bench.web_load --n 500 --seconds 2 --clients 4`.
"""

import argparse
import asyncio
import contextlib
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx2

from bench.list_latency import fill
from claimflow.db import engine_for, migrate
from claimflow.settings import REPO_ROOT, Settings

QUEUE = "bench-web"
USER, PASSWORD, ROLE = "amy", "bench password 1", "agent"
CLAIM_NUMBER = "L-000001"  # the real claim (the bulk-filled ones are B-0000000 …)
GOAL_MS = 50.0
BASELINE = "GET /static/app.css"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def settings_for(data_dir: Path, port: int = 8000) -> Settings:
    return Settings(temporal_address="localhost:7233", temporal_namespace="default", data_dir=data_dir,
                    policy_dir=REPO_ROOT / "policies", secret_key="bench", web_port=port)  # fmt: skip


# --- the server (a child process) ------------------------------------------------------------


async def serve(data_dir: Path, port: int, temporal_address: str) -> None:
    """The web app and a worker on one Temporal client, as `claims up` runs them, until SIGTERM."""
    from temporalio.client import Client
    from temporalio.contrib.pydantic import pydantic_data_converter

    from web.serve import serve_web
    from worker import build_worker

    settings = settings_for(data_dir, port)
    client = await Client.connect(temporal_address, data_converter=pydantic_data_converter)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    engine = engine_for(settings.database_url)
    async with build_worker(client, data_dir / "outbox.jsonl", task_queue=QUEUE, engine=engine):
        await serve_web(settings, stop, client)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server_process(data_dir: Path, temporal_address: str):
    """The child serving the app; its base URL. Stopped (SIGTERM, then killed) on the way out."""
    port = free_port()
    command = [sys.executable, "-m", "bench.web_load", "--serve", str(data_dir), str(port), temporal_address]
    child = subprocess.Popen(command, cwd=REPO_ROOT)
    try:
        yield child, f"http://127.0.0.1:{port}"
    finally:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


async def until_up(child: subprocess.Popen, url: str) -> None:
    async with httpx2.AsyncClient(base_url=url, trust_env=False) as client:
        for _ in range(300):
            if child.poll() is not None:
                raise RuntimeError(f"the web server exited ({child.returncode})")
            with contextlib.suppress(httpx2.TransportError):
                if (await client.get("/signin")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the web server did not answer in 30 s")


# --- the read model, the user and the real claim -----------------------------------------------


def prepare_read_model(data_dir: Path, n: int) -> float:
    """n claims by bulk insert, and the user; seconds the fill took."""
    from claimflow.users import add_user
    from models.enums import UserRole

    engine = engine_for(settings_for(data_dir).database_url)
    try:
        migrate(engine)
        seconds = fill(engine, n)
        add_user(engine, USER, UserRole(ROLE), PASSWORD, timezone="Asia/Shanghai")
    finally:
        engine.dispose()
    return seconds


async def open_claim(env, number: str) -> None:
    """A real claim, driven to awaiting_approval as a person would (each action once settled)."""
    from bench.lifecycles import README_PAID_REPAIR, paid_repair_intake, settled_history
    from claimflow.claims import act, claim_input
    from claimflow.policy_files import load_policy
    from models.calendar import local_date
    from workflows.names import CLAIM

    policy = load_policy(REPO_ROOT / "policies", "changkong")
    today = local_date(await env.get_current_time(), policy.timezone)
    claim = claim_input(paid_repair_intake(number, today), policy, today)
    handle = await env.client.start_workflow(CLAIM, claim, id=number, task_queue=QUEUE)
    for action in README_PAID_REPAIR[:3]:  # parcel received, inspected, quote sent
        await settled_history(handle)
        await act(env.client, number, action)
    await settled_history(handle)


# --- the load ------------------------------------------------------------------------------------


async def signed_in(url: str) -> httpx2.AsyncClient:
    client = httpx2.AsyncClient(base_url=url, trust_env=False, timeout=60)
    token = CSRF.search((await client.get("/signin")).text).group(1)
    response = await client.post("/signin", data={"name": USER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303, f"sign-in: {response.status_code}"
    return client


@dataclass
class Sample:
    """The requests of one target, over all its rounds."""

    latencies: list[float] = field(default_factory=list)  # seconds
    errors: Counter = field(default_factory=Counter)  # status (or exception name): count
    seconds: float = 0.0  # wall time under load

    def quantile(self, q: int) -> float:
        """The q-th percentile, in ms."""
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


async def load(clients: list[httpx2.AsyncClient], path: str, seconds: float, sample: Sample) -> None:
    """Every client sends GET `path`, one request after another, for `seconds`."""
    deadline = time.perf_counter() + seconds

    async def one(client: httpx2.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status = (await client.get(path)).status_code
            except httpx2.HTTPError as err:
                status = type(err).__name__
            sample.latencies.append(time.perf_counter() - started)
            if status != 200:
                sample.errors[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(c) for c in clients))
    sample.seconds += time.perf_counter() - started


async def check(client: httpx2.AsyncClient, path: str, marker: str) -> None:
    """One request (a warm-up too): the page is the page expected."""
    response = await client.get(path)
    assert response.status_code == 200 and marker in response.text, f"GET {path}: {response.status_code}"


async def measure(url: str, targets: dict[str, tuple[str, str]], args) -> dict[str, Sample]:
    """Interleaved rounds: the baseline, then each page, `args.rounds` times."""
    clients = await asyncio.gather(*(signed_in(url) for _ in range(args.clients)))
    try:
        for path, marker in targets.values():
            await check(clients[0], path, marker)
            await load(clients, path, min(1.0, args.seconds / 4), Sample())  # warm-up, not counted
        samples = {name: Sample() for name in targets}
        for _ in range(args.rounds):
            for name, (path, _) in targets.items():
                await load(clients, path, args.seconds / args.rounds, samples[name])
        return samples
    finally:
        for client in clients:
            await client.aclose()


# --- the printout ---------------------------------------------------------------------------------


def table(samples: dict[str, Sample], n: int, clients: int) -> str:
    base = samples[BASELINE].quantile(95)
    claims = f"{n:,}".replace(",", " ")
    lines = [f"| {claims} claims, {clients} client{'s' if clients != 1 else ''} | requests/s | p50 | p95 | p99 | errors | p95 vs baseline "
             f"| p95 < {GOAL_MS:.0f} ms |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, s in samples.items():
        errors = sum(s.errors.values())
        shown = f"{errors} ({', '.join(f'{k}: {v}' for k, v in s.errors.items())})" if errors else "0"
        ratio = "1.00x (baseline)" if name == BASELINE else f"{s.quantile(95) / base:.1f}x"
        met = "yes" if s.quantile(95) < GOAL_MS else "no"
        lines.append(f"| `{name}` | {s.rate:.0f} | {s.quantile(50):.1f} | {s.quantile(95):.1f} "
                     f"| {s.quantile(99):.1f} | {shown} | {ratio} | {met} |")  # fmt: skip
    return "\n".join(lines)


def machine() -> str:
    import uvicorn

    return (f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
            f"uvicorn {uvicorn.__version__}, load {os.getloadavg()[0]:.1f}")  # fmt: skip


async def run(args) -> None:
    from bench.list_latency import web_query
    from claimflow.binaries import in_memory_dev_server
    from claimflow.claim_lists import ClaimFilter

    targets = {
        BASELINE: ("/static/app.css", ""),
        "GET /claims": ("/claims", "claims-results"),
        "GET /claims?state=repairing": ("/claims?" + web_query(ClaimFilter(state="repairing")), "claims-results"),
        f"GET /claims/{CLAIM_NUMBER}": (f"/claims/{CLAIM_NUMBER}", CLAIM_NUMBER),
    }
    with tempfile.TemporaryDirectory(prefix="web-load-") as tmp:
        data_dir = Path(tmp)
        filled = prepare_read_model(data_dir, args.n)
        async with await in_memory_dev_server() as env:
            address = env.client.service_client.config.target_host
            with server_process(data_dir, address) as (child, url):
                await until_up(child, url)
                started = time.perf_counter()
                await open_claim(env, CLAIM_NUMBER)
                opened = time.perf_counter() - started
                print(f"{args.n} claims filled in {filled:.1f} s; {CLAIM_NUMBER} opened and driven to "
                      f"awaiting_approval in {opened:.1f} s; server at {url}")  # fmt: skip
                print(f"load: {args.clients} signed-in clients ({ROLE}), {args.seconds:g} s per target in "
                      f"{args.rounds} interleaved rounds; latency per request, in ms")  # fmt: skip
                samples = await measure(url, targets, args)
    print()
    print(table(samples, args.n, args.clients))
    print()
    print(machine())
    pages = {name: s for name, s in samples.items() if name != BASELINE}
    worst = max(pages, key=lambda name: pages[name].quantile(95))
    verdict = "met" if pages[worst].quantile(95) < GOAL_MS else "not met"
    print(f"goal: p95 < {GOAL_MS:.0f} ms for every page under this load: {verdict} "
          f"(worst: {worst}, p95 {pages[worst].quantile(95):.1f} ms)")  # fmt: skip
    print(f"closed loop: each client waits for its answer before the next request, so once the server is "
          f"busy a request's latency is about {args.clients} / (requests/s)")  # fmt: skip


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":  # the child: python -m bench.web_load --serve DIR PORT ADDR
        asyncio.run(serve(Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="claims in the read model (default 10000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent signed-in clients (default 8)")
    parser.add_argument("--seconds", type=float, default=15, help="seconds of load per target (default 15)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # temporalio can crash at interpreter shutdown; the figures are printed
