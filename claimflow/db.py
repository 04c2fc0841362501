"""The read model's database: an engine from DATABASE_URL, and its schema migrations.

SQLite under the data directory by default; PostgreSQL (psycopg 3) when DATABASE_URL
says so, e.g. postgresql+psycopg://claims:secret@db.internal/claims.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x636C61696D73  # "claims": the advisory lock held while migrating on PostgreSQL


class DatabaseUnusable(Exception):
    """DATABASE_URL is malformed or the database cannot be reached; the message says which."""


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

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create the read-model tables, or bring them to the newest schema (idempotent).
    (`revision`: an older one, for tests of the migrations.)"""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # workers starting together migrate one by one
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except Exception as err:  # any driver's connection error: one clear line
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        if "connect" in reason.lower() or "unable to open" in reason.lower():
            raise DatabaseUnusable(f"cannot reach the read-model database {engine.url!r}: {reason}") from None
        raise
