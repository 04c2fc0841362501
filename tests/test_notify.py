"""The notify activity decides from the database, never from the outbox file: one row and
one outbox line per key, whatever retries or concurrent workers do, on SQLite and
PostgreSQL; a broken line in the outbox stops nothing."""

import threading
from datetime import UTC, datetime

from sqlmodel import Session, select

from activities.notify import NotifyActivities, read_outbox
from claimflow.db import engine_for
from models.claim import Notification
from models.read_model import NotificationRow


def notification(key: str = "N-1/shipping#1/0") -> Notification:
    return Notification(
        key=key, claim_number=key.split("/")[0], role="agent", level="reminder", subject=f"about {key}", body="b",
        at=datetime(2026, 3, 11, 2, tzinfo=UTC),
    )  # fmt: skip


def stored(engine) -> list[NotificationRow]:
    with Session(engine) as session:
        return list(session.exec(select(NotificationRow)))


def test_a_retry_sends_nothing_and_leaves_one_row(engine, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    notify = NotifyActivities(outbox, engine).notify
    assert notify(notification()).delivered_now is True
    assert notify(notification()).delivered_now is False
    assert [n.key for n in read_outbox(outbox)] == ["N-1/shipping#1/0"]
    [row] = stored(engine)
    assert row.delivered_at is not None


def test_delivery_is_decided_by_the_database_not_the_outbox_file(engine, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    notify = NotifyActivities(outbox, engine).notify
    notify(notification())
    outbox.unlink()  # rotated away, say: the retry still knows it was delivered
    assert notify(notification()).delivered_now is False
    assert not outbox.exists()


def test_two_workers_at_once_leave_one_row_and_one_line(engine, database_url, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    engines = [engine] + [engine_for(database_url) for _ in range(5)]  # a worker each
    keys = [f"N-{i}/shipping#1/0" for i in range(10)]
    results: list[bool] = []
    failures: list[BaseException] = []

    def worker(eng) -> None:
        notify = NotifyActivities(outbox, eng).notify
        start.wait()
        for key in keys:
            try:
                results.append(notify(notification(key)).delivered_now)
            except BaseException as err:  # noqa: BLE001 - reported below
                failures.append(err)

    start = threading.Barrier(len(engines))
    threads = [threading.Thread(target=worker, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert failures == []
    assert results.count(True) == len(keys)
    assert sorted(n.key for n in read_outbox(outbox)) == sorted(keys)
    assert len(stored(engine)) == len(keys)
    for other in engines[1:]:
        other.dispose()


def test_a_truncated_or_garbage_line_in_the_outbox_stops_nothing(engine, tmp_path):
    outbox = tmp_path / "outbox.jsonl"
    outbox.write_bytes(b'not json at all\n\xff\xfe binary\n{"key": "N-0/shipping#1/0", "claim_num')  # died mid-line
    notify = NotifyActivities(outbox, engine).notify
    assert notify(notification("N-1/shipping#1/0")).delivered_now is True
    assert notify(notification("N-2/shipping#1/0")).delivered_now is True
    assert [n.key for n in read_outbox(outbox)] == ["N-1/shipping#1/0", "N-2/shipping#1/0"]
    assert outbox.read_bytes().endswith(b'"claim_num\n' + notification("N-1/shipping#1/0").model_dump_json().encode()
                                        + b"\n" + notification("N-2/shipping#1/0").model_dump_json().encode() + b"\n")
