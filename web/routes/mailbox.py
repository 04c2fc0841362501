"""The mailbox (supervisors, auditors, admins): the messages the mail catcher of `claims up`
received — every e-mail claimflow sent while SMTP_URL was not set —, newest first, and one
message's headers and text with its .eml file to download.

Read from the mailbox directory (claimflow/mailcatcher.py), never from the database. The
HTML part is not shown: the page's CSP allows no inline style, which mail HTML is made of;
it is in the .eml file. Read-only: no forms.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from claimflow.mail import parse_smtp_url
from claimflow.mailcatcher import MailboxEntry, find_message, read_mailbox, read_message
from models.permissions import CAN_READ_MAIL
from models.read_model import UserRow
from web.deps import role
from web.i18n import N_
from web.templating import render

router = APIRouter()
Reader = Annotated[UserRow, Depends(role(*CAN_READ_MAIL))]

SHOWN = 200  # the newest this many messages are listed
TEXT_SHOWN = 100_000  # characters of a message's text shown (the .eml has it all)


def _mail_server(request: Request) -> str | None:
    """Where e-mail goes instead of the catcher, when SMTP_URL is set (without its password)."""
    smtp_url = request.app.state.settings.smtp_url
    return str(parse_smtp_url(smtp_url)) if smtp_url else None


def _entry(request: Request, number: str) -> MailboxEntry:
    digits = number.isascii() and number.isdigit()
    entry = find_message(request.app.state.settings.mailbox_dir, int(number)) if digits else None
    if entry is None:
        raise HTTPException(404, N_("there is no such message in the mailbox"))
    return entry


@router.get("/mailbox")
def mailbox(request: Request, user: Reader) -> Response:
    entries = read_mailbox(request.app.state.settings.mailbox_dir)
    return render(request, "mailbox.html", entries=entries[:SHOWN], total=len(entries), entry=None,
                  mail_server=_mail_server(request))  # fmt: skip


@router.get("/mailbox/{number}.eml")
def download(request: Request, number: str, user: Reader) -> Response:
    entry = _entry(request, number)
    try:
        data = (request.app.state.settings.mailbox_dir / entry.file).read_bytes()
    except FileNotFoundError:
        raise HTTPException(404, N_("the message's file is gone from the mailbox")) from None
    return Response(data, media_type="message/rfc822",
                    headers={"Content-Disposition": f'attachment; filename="message-{entry.number}.eml"'})  # fmt: skip


@router.get("/mailbox/{number}")
def message(request: Request, number: str, user: Reader) -> Response:
    entry = _entry(request, number)
    try:
        content = read_message(request.app.state.settings.mailbox_dir, entry)
    except FileNotFoundError:
        raise HTTPException(404, N_("the message's file is gone from the mailbox")) from None
    return render(request, "mailbox.html", entry=entry, text=content.text[:TEXT_SHOWN],
                  cut=len(content.text) > TEXT_SHOWN, has_html=bool(content.html),
                  mail_server=_mail_server(request))  # fmt: skip
