"""The mail catcher: an SMTP server on 127.0.0.1 (aiosmtpd) that delivers nothing and keeps
every message it receives in the mailbox directory, so that a laptop install shows each
message a real install would send (`claims up` runs it; `claims mail` and the web UI's
mailbox page read it).

The mailbox (Settings.mailbox_dir, `{data_dir}/mail`) holds one `.eml` file per message,
written whole under a temporary name and then renamed, and `index.jsonl`: one line per
message (time, from, to, subject, message_id, key — the X-Claimflow-Key header —, file,
size), appended under a file lock. Several writers may share it. A message is numbered by
its line in the index, from 1: the numbers stay as messages arrive. Messages over
MAX_MESSAGE_BYTES are refused (552).

aiosmtpd is imported by `start_catcher` only: readers import this module without it.
"""

import asyncio
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from claimflow.mail import append_line, read_lines

log = logging.getLogger(__name__)

INDEX = "index.jsonl"
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a notification is a few kB; this bounds what the disk takes per message
HOST = "127.0.0.1"
_FILE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]*\.eml")  # a name `store` writes: no path, no traversal


class MailboxEntry(BaseModel):
    """One message of the mailbox, as the index has it (`number`: its line, from 1)."""

    model_config = ConfigDict(populate_by_name=True)

    number: int = 0
    time: datetime
    sender: str = Field(alias="from")
    to: list[str]
    subject: str
    message_id: str | None = None
    key: str | None = None  # X-Claimflow-Key: the notification's key
    file: str
    size: int


@dataclass(frozen=True)
class MailContent:
    """A stored message's parts: the text, the HTML ('' when it has none), the .eml file."""

    text: str
    html: str
    path: Path


def store(mailbox: Path, sender: str, recipients: list[str], data: bytes) -> MailboxEntry:
    """Keep one received message: its .eml file, then its index line."""
    mailbox.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    name = f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.eml"
    temporary = mailbox / f".{name}.part"
    temporary.write_bytes(data)
    os.replace(temporary, mailbox / name)
    try:
        headers = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        subject, message_id, key = (_one_line(headers.get(h)) for h in ("subject", "message-id", "x-claimflow-key"))
    except Exception:  # noqa: BLE001 - a malformed header still leaves the message kept
        log.warning("mail catcher: could not read the headers of %s", name, exc_info=True)
        subject, message_id, key = "", None, None
    entry = MailboxEntry(time=now, sender=sender, to=recipients, subject=subject or "", message_id=message_id,
                         key=key, file=name, size=len(data))  # fmt: skip
    append_line(mailbox / INDEX, entry.model_dump_json(by_alias=True, exclude={"number"}))
    return entry


def _one_line(value: object) -> str | None:
    return " ".join(str(value).split()) if value is not None else None


def read_mailbox(mailbox: Path) -> list[MailboxEntry]:
    """The messages of the mailbox, newest first; [] when it is empty or missing. A garbled
    index line is skipped (and logged), keeping the numbers of the others."""
    entries = read_lines(mailbox / INDEX, MailboxEntry)
    return [entry.model_copy(update={"number": n}) for n, entry in reversed(entries) if _FILE.fullmatch(entry.file)]


def find_message(mailbox: Path, number: int) -> MailboxEntry | None:
    return next((entry for entry in read_mailbox(mailbox) if entry.number == number), None)


def read_message(mailbox: Path, entry: MailboxEntry) -> MailContent:
    """The text and HTML parts of a stored message (FileNotFoundError when its file is gone)."""
    path = mailbox / entry.file
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return MailContent(text=_part(message, "plain"), html=_part(message, "html"), path=path)


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return ""
    try:
        return part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        return part.get_payload(decode=True).decode("utf-8", errors="replace")


class _Keep:
    """The aiosmtpd handler: every message into the mailbox."""

    def __init__(self, mailbox: Path):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope) -> str:
        data = envelope.original_content or envelope.content
        data = data if isinstance(data, bytes) else data.encode("utf-8")
        await asyncio.to_thread(store, self.mailbox, envelope.mail_from, list(envelope.rcpt_tos), data)
        return "250 Message kept"


def start_catcher(mailbox: Path, port: int):
    """Start the catcher on 127.0.0.1:`port` (its own thread and event loop); returns the
    running aiosmtpd Controller (`.stop()` it). A ClaimError (one line for the CLI) when the
    port cannot be had."""
    from aiosmtpd.controller import Controller

    from claimflow.claims import ClaimError  # (Temporal's client: imported when a catcher starts, not by readers)

    controller = Controller(
        _Keep(mailbox), hostname=HOST, port=port, data_size_limit=MAX_MESSAGE_BYTES, ready_timeout=10,
        server_hostname="claimflow-mail-catcher",
    )  # fmt: skip
    try:
        controller.start()
    except Exception as err:  # aiosmtpd re-raises the bind failure from its thread
        raise ClaimError(f"the mail catcher could not listen on {HOST}:{port}: {err}") from None
    return controller


async def serve_catcher(mailbox: Path, port: int, stop: asyncio.Event) -> None:
    """Run the catcher until `stop` is set (`claims up`)."""
    controller = await asyncio.to_thread(start_catcher, mailbox, port)
    try:
        await stop.wait()
    finally:
        await asyncio.to_thread(controller.stop)
