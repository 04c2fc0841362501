"""The `notify` activity: appends a notification to the outbox, once per key.

The outbox is a JSON-lines file under the data directory. A retried activity, or two
workers delivering the same step, leave one line: the key is checked under a file lock.
"""

import fcntl
import json
from pathlib import Path

from temporalio import activity

from models.claim import Notification


class NotifyActivities:
    def __init__(self, outbox: Path):
        self.outbox = outbox

    @activity.defn(name="notify")
    def notify(self, notification: Notification) -> bool:
        """Write `notification` unless its key is already in the outbox; True if written."""
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
