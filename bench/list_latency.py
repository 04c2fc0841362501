"""Claim lists at scale: server time of the web list's queries at N claims (default 100 000),
on SQLite (a temp file) and on PostgreSQL, against the old sort in the same run.

    python -m bench.list_latency [--n 100000] [--repeat 30] [--postgres URL | --no-postgres]

Fills a read model by bulk insert with a realistic spread (states, policies, channels,
deadlines passed and to come, overdue and escalated claims, assignees, a year of opening
dates), then, for each filter, times the list's query functions (claimflow.claim_lists):
the first page, a deep page (keyset: after the 1000th row), the counts per state, and the
whole GET /claims of the web app (sign-in check, both queries, the page rendered). The
baseline is the same page with the old `ORDER BY next_deadline_at IS NULL, …` (and, for
the deep page, OFFSET 1000), timed interleaved with the new one. PostgreSQL: on the server of
`--postgres URL`, else a private server started as tests/postgres.py
does, when its binaries are installed; either way in a database of its own, dropped after.
"""

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from claimflow.claim_lists import (
    PAGE_SIZE, ClaimFilter, PageKey, claims_page, page_query, plan_sorts, query_plan, state_counts,
)
from claimflow.db import engine_for, migrate
from models.enums import TERMINAL_STATES, ClaimState
from models.read_model import NO_DEADLINE, ClaimRow, EscalationRow

DEEP = 1000  # rows before the deep page
NOW = datetime.now(UTC).replace(microsecond=0)

# A realistic spread: most claims closed, the open ones spread over the waiting states.
STATES = {
    "completed": 38, "cancelled": 5, "rejected": 4, "expired": 3, "awaiting_parcel": 9, "parcel_in_transit": 4,
    "inspecting": 5, "awaiting_quote": 3, "awaiting_approval": 4, "quote_expired": 1, "repairing": 7,
    "quality_check": 2, "awaiting_payment": 3, "awaiting_ship_back": 2, "shipped_back": 2,
    "post_repair_warranty": 6, "remote_guidance": 1, "onsite_visit": 1,
}  # fmt: skip
POLICIES = {"changkong": 35, "konjump": 25, "shanghai_equipment": 15, "model_figures": 15, "best_lighting": 10}
CHANNELS = {"return_repair": 75, "on_site_repair": 12, "remote_guidance": 9, "on_site_check": 4}
DEADLINE_OF = {"awaiting_parcel": "shipping", "awaiting_approval": "quote_expiry", "repairing": "repair",
               "awaiting_payment": "payment", "inspecting": "inspection", "quote_expired": "quote_expiry",
               "post_repair_warranty": "post_repair_window"}  # fmt: skip
AGENTS = [f"agent{n:02d}" for n in range(1, 41)]


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def claim_rows(n: int, seed: int = 15) -> Iterator[dict]:
    """n claim rows as the projection writes them (half closed, 14% overdue, 8% escalated)."""
    rng = random.Random(seed)
    for i in range(n):
        state = _pick(rng, STATES)
        opened = NOW - timedelta(days=rng.uniform(0, 365))
        due = None
        if ClaimState(state) not in TERMINAL_STATES and state != "shipped_back":
            ahead = rng.uniform(60, 180) if state == "post_repair_warranty" else rng.uniform(-4, 14)
            due = NOW + timedelta(days=ahead if rng.random() > 0.12 else -rng.uniform(0, 10))
        overdue = due is not None and due < NOW
        escalation = rng.choice(["agent", "supervisor", "manager"]) if overdue and rng.random() < 0.6 else None
        yield {
            "claim_key": str(uuid.UUID(int=rng.getrandbits(128))), "claim_number": f"B-{i:07d}",
            "policy": _pick(rng, POLICIES), "kind": "repair", "state": state, "channel": _pick(rng, CHANNELS),
            "remedy": None, "product_model": "CK-200", "serial_number": f"SN-{rng.getrandbits(40):012x}",
            "rma_number": f"RMA-B-{i:07d}", "opened_at": opened, "updated_at": opened + timedelta(days=1),
            "next_deadline_at": due if due and due > NOW else None,
            "next_deadline_kind": DEADLINE_OF.get(state) if due and due > NOW else None,
            "due_at": due, "due_kind": DEADLINE_OF.get(state, "repair") if due else None,
            "deadline_sort": due or NO_DEADLINE, "overdue": overdue, "escalation_level": escalation,
            "escalated": escalation is not None, "assignee": rng.choice(AGENTS) if rng.random() > 0.05 else None,
            "last_action": "parcel received", "version": rng.randint(3, 40),
            "resolved_at": opened + timedelta(days=1) if state in ("completed", "post_repair_warranty") else None,
        }  # fmt: skip


def escalation_row(claim: dict) -> dict:
    """The ladder step that escalated an escalated claim (for the inbox and the dashboard)."""
    return {"claim_key": claim["claim_key"], "claim_number": claim["claim_number"], "deadline": claim["due_kind"],
            "cycle": 1, "step": 1, "extension": 0, "level": claim["escalation_level"],
            "notify": claim["escalation_level"], "at": claim["due_at"]}  # fmt: skip


def fill(engine: Engine, n: int, chunk: int = 5000) -> float:
    """Bulk-insert n claims, then gather the planner's statistics; seconds taken."""
    started = time.perf_counter()
    rows = claim_rows(n)
    with engine.begin() as connection:
        while batch := [row for _, row in zip(range(chunk), rows)]:
            connection.execute(insert(ClaimRow), batch)
            rungs = [escalation_row(row) for row in batch if row["escalated"]]
            if rungs:
                connection.execute(insert(EscalationRow), rungs)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE claims")
    else:
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def sample_values(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        row = session.exec(select(ClaimRow).where(ClaimRow.claim_number == "B-0001234")).one()
    return {"serial": row.serial_number, "assignee": "agent07"}


def cases(values: dict[str, str]) -> dict[str, ClaimFilter]:
    month_ago = NOW - timedelta(days=30)
    return {
        "no filter": ClaimFilter(),
        "state=repairing": ClaimFilter(state="repairing"),
        "state=completed": ClaimFilter(state="completed"),
        "policy=konjump": ClaimFilter(policy="konjump"),
        "channel=on_site_repair": ClaimFilter(channel="on_site_repair"),
        "overdue": ClaimFilter(overdue=True),
        "escalated": ClaimFilter(escalated=True),
        "assignee=agent07": ClaimFilter(assignee=values["assignee"]),
        "opened in the last 30 days": ClaimFilter(opened_from=month_ago),
        "opened 7 to 9 days ago": ClaimFilter(opened_from=NOW - timedelta(days=9),
                                                 opened_before=NOW - timedelta(days=7)),
        "policy=konjump + overdue": ClaimFilter(policy="konjump", overdue=True),
        "search by serial": ClaimFilter(search=values["serial"]),
    }


def old_page(where: ClaimFilter, offset: int = 0):
    """The baseline: the same filters, sorted the old way (a NULL test first), OFFSET for a deep page."""
    query = page_query(where).order_by(None).limit(PAGE_SIZE + 1).offset(offset or None)
    return query.order_by(ClaimRow.next_deadline_at.is_(None), ClaimRow.next_deadline_at, ClaimRow.claim_key)


def key_at(engine: Engine, where: ClaimFilter, position: int) -> PageKey | None:
    """The sort key of the row at `position` (walking the pages)."""
    after, seen = None, 0
    while seen < position:
        page = claims_page(engine, where, after, size=min(500, position - seen))
        if not page.rows:
            return None
        after, seen = PageKey.of(page.rows[-1]), seen + len(page.rows)
    return after


@dataclass
class Timing:
    p50: float
    p95: float

    def __str__(self) -> str:
        return f"{self.p50 * 1000:7.2f} {self.p95 * 1000:7.2f}"


def timed(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, Timing]:
    """Each callable `repeat` times, interleaved (after one warm-up each): p50 and p95 in seconds."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - started)
    return {
        name: Timing(statistics.median(s), statistics.quantiles(s, n=20, method="inclusive")[18])
        for name, s in samples.items()
    }


def fetch(engine: Engine, query) -> Callable[[], object]:
    def run():
        with Session(engine) as session:
            return session.exec(query).all()

    return run


class WebPage:
    """GET /claims of the web app over `url`, signed in, through ASGI in this process."""

    def __init__(self, url: str, data_dir: Path):
        import httpx2

        from claimflow.settings import REPO_ROOT, Settings
        from claimflow.users import add_user
        from models.enums import UserRole
        from web.app import create_app

        settings = Settings(temporal_address="localhost:7233", temporal_namespace="default", data_dir=data_dir,
                            policy_dir=REPO_ROOT / "policies", database_url=url, secret_key="bench")  # fmt: skip
        self.app = create_app(settings)
        add_user(self.app.state.engine, "bench", UserRole.SUPERVISOR, "bench password 1", timezone="Asia/Shanghai")
        self.client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url="http://bench")
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self._sign_in())

    async def _sign_in(self) -> None:
        import re

        page = await self.client.get("/signin")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        await self.client.post("/signin", data={"name": "bench", "password": "bench password 1", "csrf_token": token})

    def get(self, query: str, path: str = "/claims?", marker: str = "claims-results") -> Callable[[], object]:
        def run():
            response = self.loop.run_until_complete(self.client.get(path + query))
            assert response.status_code == 200 and marker in response.text, response.status_code
            return response

        return run

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
        self.app.state.engine.dispose()


def web_query(where: ClaimFilter) -> str:
    from urllib.parse import urlencode

    params = {"state": where.state, "policy": where.policy, "channel": where.channel, "assignee": where.assignee,
              "q": where.search, "overdue": {True: "yes", False: "no"}.get(where.overdue),
              "escalated": {True: "yes", False: "no"}.get(where.escalated),
              "opened_from": where.opened_from and where.opened_from.date().isoformat(),
              "opened_to": where.opened_before and (where.opened_before - timedelta(days=1)).date().isoformat(),
              }  # fmt: skip
    return urlencode({k: v for k, v in params.items() if v})


def measure(label: str, url: str, n: int, repeat: int, data_dir: Path) -> None:
    engine = engine_for(url)
    migrate(engine)
    seconds = fill(engine, n)
    with engine.connect() as connection:
        asked = "SELECT sqlite_version()" if engine.dialect.name == "sqlite" else "SHOW server_version"
        version = connection.exec_driver_sql(asked).scalar()
    print(f"\n{label} {version}: {n} claims inserted and analysed in {seconds:.1f} s; "
          f"times in ms (p50 p95), {repeat} runs each")  # fmt: skip
    print(f"  {'case':28} {'first page':>15} {'old sort':>15} {'ratio':>6}   {'deep page':>15} {'old OFFSET':>15}"
          f" {'ratio':>6}   {'counts':>15}   {'GET /claims':>15}")  # fmt: skip
    web = WebPage(url, data_dir)
    worst = 0.0
    try:
        for name, where in cases(sample_values(engine)).items():
            deep = key_at(engine, where, DEEP)
            runs = {
                "page": lambda w=where: claims_page(engine, w),
                "old": fetch(engine, old_page(where)),
                "deep": (lambda w=where, k=deep: claims_page(engine, w, k)),
                "old deep": fetch(engine, old_page(where, DEEP)),
                "counts": lambda w=where: state_counts(engine, w),
                "web": web.get(web_query(where)),
            }
            t = timed(runs, repeat)
            worst = max(worst, t["page"].p95 + t["counts"].p95)
            flag = "  (sorts the rows found)" if plan_sorts(query_plan(engine, page_query(where))) else ""
            ratio, deep_ratio = t["old"].p50 / t["page"].p50, t["old deep"].p50 / t["deep"].p50
            print(f"  {name:28} {t['page']} {t['old']} {ratio:5.1f}x   {t['deep']} {t['old deep']} {deep_ratio:5.1f}x"
                  f"   {t['counts']}   {t['web']}{flag}")  # fmt: skip
        pages = timed({"dashboard": web.get("", "/dashboard", "<svg"),
                       "escalations": web.get("", "/escalations", "<table")}, repeat)  # fmt: skip
        print(f"  other pages (server time, p50 p95): GET /dashboard {pages['dashboard']}, "
              f"GET /escalations {pages['escalations']}")  # fmt: skip
    finally:
        web.close()
        engine.dispose()
    print(f"  worst p95 of first page + counts: {worst * 1000:.1f} ms (goal: under 100 ms)")


@contextlib.contextmanager
def postgres(server: str | None, wanted: bool) -> Iterator[str | None]:
    """A fresh PostgreSQL database, dropped afterwards: on `server`, else on a private server
    started as the tests do (None: no PostgreSQL)."""
    if not (server or wanted):
        yield None
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.postgres import find_binaries, fresh_database, running_postgres

    with contextlib.ExitStack() as stack:
        if server is None:
            if find_binaries() is None:
                print("\nPostgreSQL: no initdb/pg_ctl found; pass --postgres URL to measure it")
                yield None
                return
            server = stack.enter_context(running_postgres())
        yield stack.enter_context(fresh_database(server))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="claims in the read model (default 100000)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs of each case (default 30)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server to create (and drop) a database on")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"claim list, page of {PAGE_SIZE}, {args.n} claims; deep page: after row {DEEP}; "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", f"sqlite:///{tmp}/claims.db", args.n, args.repeat, Path(tmp))
        with postgres(args.postgres, not args.no_postgres) as url:
            if url:
                measure("PostgreSQL", url, args.n, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
