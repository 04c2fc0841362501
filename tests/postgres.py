"""A throwaway PostgreSQL server for tests: `running_postgres()` and `fresh_database()`.

The server is a private cluster in a temporary directory (initdb + pg_ctl), listening on a
free loopback port, with durability switched off for speed. It never touches a system
cluster (Debian's 15/main on 5432 may exist; it is neither used nor needed).

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres` user.
No PostgreSQL binaries: the tests that need them are skipped locally, but fail in CI
(env CI set), where PostgreSQL must be tested for real (.ci/run installs it).
"""

import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

RUN_AS = "postgres"  # the server's OS user when we are root


@dataclass(frozen=True)
class Binaries:
    initdb: Path
    pg_ctl: Path


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_binaries() -> Binaries | None:
    """initdb and pg_ctl from PATH, else from the newest /usr/lib/postgresql/<version>/bin."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Binaries(Path(initdb).resolve(), Path(pg_ctl).resolve())

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))

    bin_dirs = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if (d / "initdb").exists() and (d / "pg_ctl").exists()]
    if not bin_dirs:
        return None
    newest = max(bin_dirs, key=version)
    return Binaries(newest / "initdb", newest / "pg_ctl")


def require_binaries() -> Binaries:
    binaries = find_binaries()
    if binaries is None:
        reason = "PostgreSQL not found: no initdb/pg_ctl in PATH or /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if in_ci():
            pytest.fail(f"{reason}; CI must test PostgreSQL for real", pytrace=False)
        pytest.skip(reason)
    return binaries


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str | Path], as_user: dict, what: str, log: Path | None = None) -> None:
    result = subprocess.run(
        [str(a) for a in args], **as_user, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        log_tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
        raise RuntimeError(
            f"{what} failed (exit {result.returncode}): {' '.join(map(str, args))}\n"
            f"{result.stdout}{result.stderr}" + (f"\n--- {log} (tail) ---\n{log_tail}" if log_tail else "")
        )


@contextlib.contextmanager
def running_postgres(start_attempts: int = 3) -> Iterator[str]:
    """Start a private PostgreSQL server; yields its SQLAlchemy URL
    `postgresql+psycopg://postgres@127.0.0.1:PORT/postgres`. Stopped and deleted on exit."""
    binaries = require_binaries()
    base = Path(tempfile.mkdtemp(prefix="claimflow-pg-"))  # 0700; holds data/, socket, server.log
    data, log = base / "data", base / "server.log"
    as_user: dict = {"cwd": base}
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(RUN_AS)
        except KeyError:
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"running as root but there is no {RUN_AS!r} user to run PostgreSQL as") from None
        os.chown(base, pw.pw_uid, pw.pw_gid)
        env = os.environ | {"HOME": pw.pw_dir, "USER": RUN_AS, "LOGNAME": RUN_AS}
        as_user |= {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": [], "env": env}
    try:
        # --no-sync: nothing here needs to survive a crash. A fixed locale, not the caller's LANG.
        locale = "--locale=C.UTF-8" if sys.platform.startswith("linux") else "--no-locale"
        _run(
            [binaries.initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", locale, "--no-sync"],
            as_user,
            "initdb",
        )
        for attempt in range(start_attempts):
            port = free_port()  # free now; another process may still take it first, hence the retries
            options = (
                f"-p {port} -k {shlex.quote(str(base))} -c listen_addresses=127.0.0.1"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                _run([binaries.pg_ctl, "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start"], as_user, "pg_ctl start", log)
                break
            except RuntimeError:
                if attempt == start_attempts - 1:
                    raise
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                _run([binaries.pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"], as_user, "pg_ctl stop")
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server at `server_url`; yields its URL, drops it on exit
    (connections still open to it are terminated)."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
