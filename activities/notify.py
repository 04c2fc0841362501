"""The `notify` activity: appends a notification to the outbox, once per key.

The outbox is a JSON-lines file under the data directory (a stand-in for e-mail/chat
delivery), and the notification is recorded in the read model. A retried activity, or
two workers delivering the same step, leave one line and one row: the key is checked
under a file lock, and the row is keyed by it.
"""

import fcntl
import json
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity

from claimflow.projection import record_notification
from models.claim import Notification


class NotifyActivities:
    def __init__(self, outbox: Path, engine: Engine):
        self.outbox = outbox
        self.engine = engine

    @activity.defn(name="notify")
    def notify(self, notification: Notification) -> bool:
        """Write `notification` unless its key is already in the outbox; True if written."""
        with Session(self.engine) as session, session.begin():
            record_notification(session, notification)
        self.outbox.parent.mkdir(parents=True, exist_ok=True)
        with open(self.outbox, "a+", encoding="utf-8") as out:
            fcntl.flock(out, fcntl.LOCK_EX)
            out.seek(0)
            if any(json.loads(line)["key"] == notification.key for line in out if line.strip()):
                activity.logger.info("notification %s already in the outbox", notification.key)
                return False
            out.write(notification.model_dump_json() + "\n")
            out.flush()
            return True


def read_outbox(outbox: Path) -> list[Notification]:
    if not outbox.exists():
        return []
    lines = outbox.read_text(encoding="utf-8").splitlines()
    return [Notification.model_validate_json(line) for line in lines if line.strip()]
