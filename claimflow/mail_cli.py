"""`claims mail` (the mailbox, newest first) and `claims mail show N`: what the mail catcher
of `claims up` received, that is every e-mail claimflow sent while SMTP_URL was not set."""

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from claimflow.claims import ClaimError
from claimflow.console import cli_errors, out, safe
from claimflow.mailcatcher import MailboxEntry, find_message, read_mailbox, read_message
from claimflow.settings import load_settings

MAX_LIMIT = 10_000

mail_app = typer.Typer(
    help="The mailbox of the mail catcher `claims up` runs: every e-mail claimflow sent (without SMTP_URL).",
    invoke_without_command=True,
)


def _empty_mailbox_message() -> str:
    settings = load_settings()
    if not (settings.mailbox_dir / "index.jsonl").exists():
        return (f"no mail yet: {settings.mailbox_dir} holds nothing. `claims up` runs the mail catcher, "
                "which keeps every e-mail claimflow sends there (when SMTP_URL is not set)")  # fmt: skip
    return f"the mailbox {settings.mailbox_dir} is empty"


@mail_app.callback()
@cli_errors
def mail(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="At most this many messages.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the messages as JSON.")] = False,
) -> None:
    """List the messages the mail catcher received, newest first (`claims mail show N` reads one)."""
    if ctx.invoked_subcommand is not None:
        return
    entries = read_mailbox(load_settings().mailbox_dir)
    shown = entries[:limit]
    if as_json:
        print(json.dumps([_json(entry) for entry in shown], indent=2, ensure_ascii=False))
        return
    if not entries:
        out.print(_empty_mailbox_message(), highlight=False, markup=False)
        return
    if len(shown) < len(entries):
        caption = f"showing {len(shown)} of {len(entries)} messages; --limit to see more"
    else:
        caption = f"{len(entries)} message{'' if len(entries) == 1 else 's'}; `claims mail show N` reads one"
    table = Table("#", "received (UTC)", "to", "subject", "key", caption=caption)
    for entry in shown:
        when = f"{entry.time:%Y-%m-%d %H:%M:%S}"
        cells = (str(entry.number), when, ", ".join(entry.to), entry.subject, entry.key or "")
        table.add_row(*(escape(safe(cell)) for cell in cells))
    out.print(table)


def _json(entry: MailboxEntry) -> dict:
    return entry.model_dump(mode="json", by_alias=True)


@mail_app.command("show")
@cli_errors
def show(
    number: Annotated[int, typer.Argument(help="The message's number (the # column of `claims mail`).")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part instead of the text.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the message (headers, text, HTML) as JSON.")] = False,
) -> None:
    """Show one message: its headers and its text (or, with --html, its HTML)."""
    mailbox = load_settings().mailbox_dir
    entry = find_message(mailbox, number)
    if entry is None:
        entries = read_mailbox(mailbox)
        if not entries:
            raise ClaimError(_empty_mailbox_message())
        raise ClaimError(f"there is no message {number} in the mailbox; its messages are numbered "
                         f"{min(e.number for e in entries)} to {max(e.number for e in entries)}")  # fmt: skip
    try:
        content = read_message(mailbox, entry)
    except FileNotFoundError:
        raise ClaimError(f"message {number}'s file {mailbox / entry.file} is gone") from None
    if as_json:
        print(json.dumps(_json(entry) | {"text": content.text, "html": content.html, "path": str(content.path)},
                         indent=2, ensure_ascii=False))  # fmt: skip
        return
    headers = [("From", entry.sender), ("To", ", ".join(entry.to)), ("Subject", entry.subject),
               ("Received", f"{entry.time:%Y-%m-%d %H:%M:%S} UTC"), ("Message-ID", entry.message_id or ""),
               ("Key", entry.key or ""), ("File", str(content.path))]  # fmt: skip
    for name, value in headers:
        out.print(f"{name + ':':<12}{safe(value)}", highlight=False, markup=False)
    out.print()
    body = content.html if html else content.text
    if html and not body:
        body = "(this message has no HTML part)"
    for line in body.splitlines():
        out.print(safe(line), highlight=False, markup=False)
