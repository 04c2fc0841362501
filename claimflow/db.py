"""The read model's database: an engine from DATABASE_URL, and its schema migrations.

SQLite under the data directory by default; PostgreSQL (psycopg 3) when DATABASE_URL
says so, e.g. postgresql+psycopg://claims:secret@db.internal/claims.
"""

import ast
import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from claimflow.errors import DatabaseUnusable

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x636C61696D73  # "claims": the advisory lock held while migrating on PostgreSQL


__all__ = ["DatabaseUnusable", "engine_for", "migrate", "migration_lock_path", "reading_engine"]


def engine_for(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnusable(f"DATABASE_URL {url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False, "timeout": 30})
        _begin_immediate(engine)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _begin_immediate(engine: Engine) -> None:
    """SQLite: every transaction takes the write lock when it begins (BEGIN IMMEDIATE), so
    one that reads before it writes waits for another writer instead of failing with
    "database is locked" when both try to upgrade their locks."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, begins transactions
        # Write-ahead log: readers (web, CLI) never wait for the worker's writes, and a commit
        # appends to the log without an fsync (synchronous=NORMAL). A power cut may lose the
        # last commits; a crash of any process loses none. The read model is a projection
        # the workflows re-send until acknowledged, and `claims reindex` rebuilds it.
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config():
    from alembic.config import Config  # imported here: alembic alone doubles a CLI command's start-up

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migration_lock_path(engine: Engine) -> Path | None:
    """SQLite: the lock file beside the database that migrations hold (None in memory)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
        return None
    return Path(database).with_name(Path(database).name + ".migrate.lock")


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Workers starting together on one fresh SQLite file migrate one by one: an exclusive
    flock on a file beside the database, held for the whole migration."""
    path = migration_lock_path(engine)
    if path is None:
        yield
        return
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create the read-model tables, or bring them to the newest schema (idempotent).
    (`revision`: an older one, for tests of the migrations.)"""
    from alembic import command

    config = _alembic_config()
    try:
        with _sqlite_migration_lock(engine), engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # workers starting together migrate one by one
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except Exception as err:  # any driver's connection error: one clear line
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        if "connect" in reason.lower() or "unable to open" in reason.lower():
            raise DatabaseUnusable(f"cannot reach the read-model database {engine.url!r}: {reason}") from None
        raise


def _head_revision() -> str:
    """The newest schema's revision: the one no other migration revises, read from the
    migrations' files as text (importing alembic for it would double `claims list`'s start-up).
    Alembic says what is wrong when there is not exactly one."""
    revised: dict[str, tuple[str, ...]] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names = {}
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                names[node.targets[0].id] = node.value
        if "revision" in names:
            down = ast.literal_eval(names["down_revision"]) if "down_revision" in names else None
            revised[ast.literal_eval(names["revision"])] = (down,) if isinstance(down, str) else tuple(down or ())
    heads = revised.keys() - {down for downs in revised.values() for down in downs}
    if len(heads) == 1:
        return heads.pop()
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def reading_engine(url: str) -> Engine:
    """An engine that only reads the read model, as the commands that list and show claims
    do: it never creates nor migrates anything. A missing, unreadable or unmigrated
    database is DatabaseUnusable, with what to do."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnusable(f"DATABASE_URL {url!r} is not a database URL") from None
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUnusable(f"the read model {shown} is in memory: there is nothing to read")
        if not path.is_file():
            raise DatabaseUnusable(
                f"no read model at {path}: a worker creates it when it starts (`claims up` or `claims worker`)"
            )
        # mode=ro: SQLite opens the file for reading only, whatever the file's permissions.
        engine = create_engine(f"sqlite:///file:{path.absolute()}?mode=ro&uri=true")
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    head = _head_revision()
    try:
        with engine.connect() as connection:
            try:
                current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except SQLAlchemyError:
                current = None
    except SQLAlchemyError as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        raise DatabaseUnusable(f"cannot reach the read-model database {shown}: {reason}") from None
    if current != head:
        found = f"at schema {current}" if current else "without claimflow's tables"
        raise DatabaseUnusable(
            f"the read model {shown} is {found}, this claimflow reads schema {head}: "
            "start a worker (`claims up` or `claims worker`), which migrates it"
        )
    return engine
