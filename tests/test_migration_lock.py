"""Workers starting together on a fresh SQLite read model migrate one by one (a file lock)."""

import fcntl
import multiprocessing
import threading
import time

from sqlalchemy import text

from claimflow.db import engine_for, migrate, migration_lock_path


def _migrate_at(url: str, start_at: float) -> None:
    engine = engine_for(url)
    while time.time() < start_at:
        pass
    migrate(engine)


def test_workers_migrating_a_fresh_sqlite_file_together_both_come_up(tmp_path):
    url = f"sqlite:///{tmp_path}/claims.db"
    start_at = time.time() + 1
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_migrate_at, args=(url, start_at)) for _ in range(2)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0, 0]

    # The lock is what orders them: a migration waits while another holds it.
    fresh = engine_for(f"sqlite:///{tmp_path}/fresh.db")
    with open(migration_lock_path(fresh), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        second = threading.Thread(target=migrate, args=(fresh,))
        second.start()
        time.sleep(0.5)
        assert second.is_alive()  # waiting for the lock
        fcntl.flock(lock, fcntl.LOCK_UN)
    second.join(30)
    assert not second.is_alive()
    with fresh.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM claims")).scalar() == 0
