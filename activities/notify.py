"""The `notify` activity: appends a notification to the outbox, once per key.

The outbox is a JSON-lines file under the data directory (a stand-in for e-mail/chat
delivery). Whether a notification was delivered is decided by the read model, never by
reading the outbox: the activity inserts the notification's row keyed by its key (an
existing row is left alone), and in the same transaction, holding that row (a row lock on
PostgreSQL, the write lock on SQLite), appends the line only when the row has no
`delivered_at` yet, then sets it and commits. A retried activity, or two workers
delivering the same step, leave one row and one line.

At least once, not exactly once: should the process die after the line is appended and
before the transaction commits, the retry appends the line a second time.
"""

import fcntl
import json
import logging
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from claimflow.projection import claim_delivered, mark_delivered, record_notification
from models.claim import Notification
from workflows.names import NOTIFY

log = logging.getLogger(__name__)


class NotifyActivities:
    def __init__(self, outbox: Path, engine: Engine):
        self.outbox = outbox
        self.engine = engine

    @activity.defn(name=NOTIFY)
    def notify(self, notification: Notification) -> bool:
        """Deliver `notification` unless its key was delivered before; True if delivered now."""
        with Session(self.engine) as session, session.begin():
            record_notification(session, notification)
            if claim_delivered(session, notification.key) is not None:
                activity.logger.info("notification %s was delivered before", notification.key)
                return False
            append_line(self.outbox, notification.model_dump_json())
            mark_delivered(session, notification.key)
            return True


def append_line(path: Path, line: str) -> None:
    """Append one line under an exclusive file lock. A last line left without its newline
    (a writer that died half-way) is ended first, so the new line stays whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab+") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        size = out.seek(0, 2)
        if size:
            out.seek(size - 1)
            ended = out.read(1) == b"\n"
        else:
            ended = True
        out.write((b"" if ended else b"\n") + line.encode("utf-8") + b"\n")
        out.flush()


def read_outbox(outbox: Path) -> list[Notification]:
    """The notifications in the outbox; a truncated or garbled line is skipped (and logged)."""
    if not outbox.exists():
        return []
    notifications = []
    for number, line in enumerate(outbox.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            notifications.append(Notification.model_validate_json(line))
        except (ValidationError, json.JSONDecodeError, ValueError):
            log.warning("%s line %d is not a notification; skipped", outbox, number)
    return notifications
