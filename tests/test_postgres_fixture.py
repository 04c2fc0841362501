"""The database fixtures: `database_url` gives every test its own empty database, on SQLite
and on a real PostgreSQL server (tests/postgres.py), and that server cleans up after itself."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from tests import postgres
from tests.postgres import running_postgres

metadata = sa.MetaData()
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("body", sa.String(200), nullable=False),
)


def test_round_trip(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(notes.insert(), [{"body": "does not power on"}, {"body": "无法开机"}])
        with engine.connect() as conn:
            assert conn.execute(sa.select(notes.c.body).order_by(notes.c.id)).scalars().all() == [
                "does not power on",
                "无法开机",
            ]
            if engine.dialect.name == "postgresql":
                assert conn.execute(sa.text("select version()")).scalar_one().startswith("PostgreSQL ")
                assert conn.execute(sa.text("show server_encoding")).scalar_one() == "UTF8"
    finally:
        engine.dispose()


# Databases seen by the two tests below, per backend: whichever runs second checks it got another.
seen: dict[str, list[str]] = {}


def identity(engine: sa.Engine) -> str:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            return conn.execute(sa.text("select current_database()")).scalar_one()
    return str(engine.url.database)


def claim_a_fresh_database(database_url: str) -> None:
    """The database is empty; then leave a table behind in it (the other test must not see it)."""
    engine = sa.create_engine(database_url)
    try:
        assert sa.inspect(engine).get_table_names() == []
        metadata.create_all(engine)
        backend = engine.dialect.name
        mine = identity(engine)
        assert mine not in seen.get(backend, [])
        seen.setdefault(backend, []).append(mine)
    finally:
        engine.dispose()


def test_gets_an_empty_database(database_url: str) -> None:
    claim_a_fresh_database(database_url)


def test_gets_another_empty_database(database_url: str) -> None:
    claim_a_fresh_database(database_url)


def test_databases_are_dropped_after_their_test(postgres_url: str) -> None:
    previous = seen.get("postgresql", [])
    if not previous:
        pytest.skip("no postgresql database fixture ran before this test")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            existing = set(conn.execute(sa.text("select datname from pg_database")).scalars())
    finally:
        engine.dispose()
    assert existing.isdisjoint(previous)


def test_server_is_stopped_and_deleted_when_the_block_fails() -> None:
    """A second, short-lived server: gone (process and directory) even when the block raises."""
    with pytest.raises(ZeroDivisionError):
        with running_postgres() as url:
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                data_directory = Path(conn.execute(sa.text("show data_directory")).scalar_one())
            engine.dispose()
            assert data_directory.is_dir()
            1 / 0
    assert not data_directory.parent.exists()
    engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError):
        engine.connect()
    engine.dispose()


def test_no_postgresql_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "find_binaries", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not found"):
        with running_postgres():
            pass
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must test PostgreSQL"):
        with running_postgres():
            pass
