"""E-mail: where it goes (SMTP_URL), what it says (a Notification through Jinja2
templates) and sending it (aiosmtplib).

SMTP_URL is `smtp://[user:password@]host[:port][?starttls=true|false]`, or `smtps://…` for
TLS from the first byte. The port defaults to 465 for smtps, 587 with `starttls=true`, else
25. `starttls=true` requires STARTTLS, `false` never uses it, unset uses it when the server
offers it. User and password are percent-encoded (a `@` in a password is `%40`); with them
claimflow logs in. The password is never printed: errors name the server as `smtp://host:port`.

Templates are claimflow/mail_templates/`<message>.<locale>.txt` and `.html`, for every name
in models.claim.MESSAGES and every locale in LOCALES. The text template's first line is the
subject, then a blank line, then the text. Both see the notification's fields (claim_number,
key, role, level, subject — the English one —, body, at, urgent), `link` (the claim's page in
the web UI, for the staff's claim messages), `locale`, and the notification's facts by name
(FACTS and OPTIONAL_FACTS list the ones each message uses; a fact wins over a field of its
name, but not over `locale`). A fact the notification does not carry renders as MISSING (a
missing FACTS one is logged), never an error: a message is sent however incomplete its facts. The `term` filter shows a word of claimflow's
vocabulary (a deadline, a state, a level) in the message's language, from the web UI's
catalogue. HTML is autoescaped and self-contained (its styles inline, no external asset).

Message-ID derives from the notification's key and the recipients' language (one message
per language a notification goes out in): a message sent again after a crash carries the
same id, so that mail clients show it once.

Only the standard library is imported here at start-up (settings read SMTP_URL with it);
Jinja2 and aiosmtplib are imported by the functions that use them.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import re
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

from models.enums import UI_LOCALES

if TYPE_CHECKING:
    from claimflow.settings import Settings
    from models.claim import Notification

log = logging.getLogger(__name__)
M = TypeVar("M")

TEMPLATES = Path(__file__).parent / "mail_templates"
LOCALES = UI_LOCALES  # en, zh_Hans_CN: a message in another language is sent in English
MISSING = "—"  # what a fact the notification lacks renders as
SEND_TIMEOUT = 20.0  # seconds for one whole SMTP conversation (connect, TLS, login, every message)

# The facts each message's templates use (the workflow fills them: str -> str, moments and
# amounts already formatted for the reader, with their time zone and currency). A missing
# FACTS one is logged; an OPTIONAL_FACTS one the templates show only when it is given.
FACTS: dict[str, tuple[str, ...]] = {
    "escalation": ("deadline", "due_at", "state"),
    "undelivered": (),  # the subject and body say what was not delivered, and why
    "rma_issued": ("rma_number", "due_at"),
    "quote_sent": ("total", "valid_until", "link"),  # link: added by the notify activity (quote_link)
    "payment_due": ("amount", "due_at"),
    "shipped_back": (),
    "complaint_received": ("category", "due_at"),
    "complaint_answered": ("reply",),
    "complaint_escalation": ("category", "department", "due_at", "description"),
}
OPTIONAL_FACTS: dict[str, tuple[str, ...]] = {
    "escalation": ("clauses",),
    "undelivered": (),
    "rma_issued": ("customer", "address"),
    "quote_sent": ("customer",),
    "payment_due": ("customer", "what"),
    "shipped_back": ("customer", "carrier", "tracking_number"),
    "complaint_received": ("customer",),
    "complaint_answered": ("customer",),
    "complaint_escalation": ("link", "emergency"),
}
STAFF_CLAIM_MESSAGES = frozenset({"escalation", "undelivered"})  # given `link`: the claim's page

# An address claimflow sends to: ASCII, one @, no spaces, quotes, brackets or separators (a
# contact that is a phone number is not one). Deliberately narrower than RFC 5322.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


class MailConfigError(ValueError):
    """SMTP_URL or MAIL_FROM cannot be used; the message says why (without the password)."""


class MailError(Exception):
    """The SMTP server could not be reached or did not take a message; the message names the
    server (never the password) and the reason."""


# --- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool = False  # smtps://: TLS from the first byte
    starttls: bool | None = None  # True: required; False: never; None: when the server offers it
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        """The server as errors and banners name it: no user, no password."""
        return f"{'smtps' if self.tls else 'smtp'}://{self.host}:{self.port}"


def redact(url: str) -> str:
    """`url` with the password between `user:` and the last `@` replaced by ***."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not (sep and at and ":" in userinfo):
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}"


def parse_smtp_url(raw: str) -> SmtpServer:
    """The server SMTP_URL names; MailConfigError (one sentence, no password) when it cannot be used."""
    shown = redact(raw)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise MailConfigError(f"SMTP_URL {shown!r}: the port must be a number from 1 to 65535") from None
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise MailConfigError(f"SMTP_URL must start with smtp:// or smtps://, not {shown!r}")
    if not parts.hostname:
        raise MailConfigError(f"SMTP_URL {shown!r} names no host (smtp://host:port)")
    if port == 0:
        raise MailConfigError(f"SMTP_URL {shown!r}: the port must be a number from 1 to 65535")
    if parts.path not in ("", "/") or parts.fragment:
        raise MailConfigError(f"SMTP_URL {shown!r}: nothing may follow the host but ?starttls=true or false")
    query = parse_qs(parts.query, keep_blank_values=True)
    if unknown := sorted(set(query) - {"starttls"}):
        raise MailConfigError(f"SMTP_URL {shown!r}: unknown option {unknown[0]!r} (the only one is starttls)")
    starttls = None
    if "starttls" in query:
        value = query["starttls"][-1].lower()
        if value not in ("true", "false"):
            raise MailConfigError(f"SMTP_URL {shown!r}: starttls must be true or false, not {value!r}")
        starttls = value == "true"
    tls = scheme == "smtps"
    if tls and starttls:
        raise MailConfigError(f"SMTP_URL {shown!r}: smtps:// is TLS already; use smtp://…?starttls=true for STARTTLS")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if (user is None) != (password is None):
        raise MailConfigError(
            f"SMTP_URL {shown!r}: give both a user and a password (smtp://user:password@host), or neither"
        )
    default_port = 465 if tls else 587 if starttls else 25
    return SmtpServer(
        host=parts.hostname, port=port or default_port, tls=tls, starttls=False if tls else starttls,
        user=user, password=password,
    )  # fmt: skip


def check_sender(raw: str) -> str:
    """MAIL_FROM as given, when it is an address (`claims@example.com` or `Claims <claims@example.com>`)."""
    _, address = parseaddr(raw)
    if any(c in raw for c in "\r\n") or not _ADDRESS.fullmatch(address):
        raise MailConfigError(
            f"MAIL_FROM must be an e-mail address like claims@example.com or 'Claims <claims@example.com>', not {raw!r}"
        )
    return raw


def is_address(text: str) -> bool:
    """Whether claimflow sends to `text` (see _ADDRESS)."""
    return bool(_ADDRESS.fullmatch(text))


@dataclass(frozen=True)
class Mailer:
    """What sending needs: the server, the sender (MAIL_FROM), the web UI's public address
    and the key its customer links are signed with (web.security.secret_key)."""

    server: SmtpServer
    sender: str = "claimflow@localhost"
    public_url: str = ""
    link_secret: str | None = field(default=None, repr=False)


def mailer_for(settings: Settings) -> Mailer | None:
    """The Mailer of `settings`; None without SMTP_URL (notifications go to the outbox only)."""
    if not settings.smtp_url:
        return None
    from web.security import secret_key

    try:
        secret = secret_key(settings)
    except FileExistsError:  # the web UI made the key file just now
        secret = settings.secret_key_file.read_text().strip()
    return Mailer(parse_smtp_url(settings.smtp_url), settings.mail_from, settings.public_url, secret)


# --- composing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def _environment():
    from jinja2 import ChainableUndefined, Environment, FileSystemLoader, pass_context, select_autoescape
    from jinja2.runtime import Undefined

    class Missing(ChainableUndefined):
        """A fact the notification lacks: MISSING, never an error (it is logged by render)."""

        def __str__(self) -> str:
            return MISSING

    @pass_context
    def term(context, word) -> str:
        if isinstance(word, Undefined):
            return MISSING
        if context.get("locale") == "en":
            return str(word).replace("_", " ")
        from web.i18n import translations  # the web UI's catalogue: one translation of each word

        return translations(context["locale"]).gettext(str(word))

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=Missing,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["term"] = term
    return env


@cache
def template_variables(name: str) -> frozenset[str]:
    """The names template `name` reads from its context (its tests keep FACTS honest)."""
    from jinja2 import meta, nodes

    env = _environment()
    tree = env.parse(env.loader.get_source(env, name)[0])
    macros = {n if isinstance(n, str) else n[1] for i in tree.find_all(nodes.FromImport) for n in i.names}
    return frozenset(meta.find_undeclared_variables(tree)) - set(env.globals) - macros


def template_names(message: str, locale: str) -> tuple[str, str]:
    return f"{message}.{locale}.txt", f"{message}.{locale}.html"


def render(notification: Notification, locale: str, public_url: str = "") -> Rendered:
    """The subject, text and HTML of `notification` in `locale` (English when claimflow has
    no such language; the escalation message when it has no such template)."""
    from models.claim import MESSAGES

    locale = locale if locale in LOCALES else "en"
    message = notification.message
    if message not in MESSAGES:
        log.warning("notification %s: no message %r; sent as an escalation", notification.key, message)
        message = "escalation"
    context: dict[str, object] = {
        "claim_number": notification.claim_number,
        "key": notification.key,
        "role": notification.role,
        "level": notification.level.value,
        "subject": notification.subject,
        "body": notification.body,
        "at": notification.at.strftime("%Y-%m-%d %H:%M UTC"),
        "urgent": notification.urgent,
    }
    if message in STAFF_CLAIM_MESSAGES:  # (no link without a public address: none is expected)
        context["link"] = f"{public_url}/claims/{quote(notification.claim_number, safe='')}" if public_url else None
    context.update(notification.facts)
    context["locale"] = locale  # (the language rendered in: never a fact's)
    text_name, html_name = template_names(message, locale)
    missing = [fact for fact in FACTS[message] if fact not in context]
    if missing:
        log.warning("notification %s (%s, %s): no %s; shown as %s", notification.key, message, locale,
                    ", ".join(missing), MISSING)  # fmt: skip
    env = _environment()
    first, _, text = env.get_template(text_name).render(context).partition("\n")
    subject = " ".join(first.split())[:250] or notification.subject
    html = env.get_template(html_name).render(context, title=subject)
    return Rendered(subject=subject, text=text.lstrip("\n"), html=html)


def message_id(key: str, locale: str, sender: str) -> str:
    """The Message-ID of `key`'s message in `locale`: the same every time it is composed."""
    digest = hashlib.sha256(f"{key}\n{locale}".encode()).hexdigest()[:24]
    domain = parseaddr(sender)[1].rpartition("@")[2]
    domain = domain if re.fullmatch(r"[A-Za-z0-9.-]+", domain or "") else "claimflow.invalid"
    return f"<cf.{digest}.{locale.replace('_', '-')}@{domain}>"


def _header(text: str) -> str:
    """One line: control characters (a line break) become spaces."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())


def compose(notification: Notification, locale: str, to: list[str], sender: str, public_url: str = "") -> EmailMessage:
    """The e-mail of `notification` in `locale` to the addresses `to` (each checked by is_address)."""
    rendered = render(notification, locale, public_url)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Subject"] = _header(rendered.subject)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notification.key, locale, sender)
    message["X-Claimflow-Key"] = _header(notification.key)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    if notification.urgent:
        message["Importance"] = "high"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    message["Content-Language"] = "zh-Hans" if locale == "zh_Hans_CN" else "en"  # (set_content drops Content-*)
    return message


# --- sending ---------------------------------------------------------------------------


async def send(server: SmtpServer, messages: list[EmailMessage], timeout: float = SEND_TIMEOUT) -> dict[str, str]:
    """Send `messages` in one SMTP conversation, all within `timeout` seconds; the
    recipients the server refused (address -> its answer), when it took the others.
    MailError when the server cannot be reached, refuses the login, the sender or every
    recipient, or does not answer in time."""
    import aiosmtplib

    refused: dict[str, str] = {}
    try:
        async with asyncio.timeout(timeout):
            smtp = aiosmtplib.SMTP(
                hostname=server.host, port=server.port, use_tls=server.tls, start_tls=server.starttls,
                username=server.user, password=server.password, timeout=timeout,
                local_hostname=socket.gethostname() or "localhost",
            )  # fmt: skip
            async with smtp:
                for message in messages:
                    errors, _ = await smtp.send_message(message)
                    refused.update({address: f"{code} {text}" for address, (code, text) in errors.items()})
    except TimeoutError:
        raise MailError(f"the SMTP server {server} did not answer within {timeout:g} s") from None
    except aiosmtplib.SMTPConnectError as err:
        raise MailError(f"cannot reach the SMTP server {server}: {_reason(err.__cause__ or err, server)}") from None
    except aiosmtplib.SMTPAuthenticationError as err:
        reason = _reason(err, server)
        raise MailError(f"the SMTP server {server} refused the login of {server.user}: {reason}") from None
    except aiosmtplib.SMTPException as err:
        raise MailError(f"the SMTP server {server} refused: {_reason(err, server)}") from None
    except OSError as err:  # TLS, DNS
        raise MailError(f"cannot reach the SMTP server {server}: {_reason(err, server)}") from None
    return refused


def _reason(err: BaseException, server: SmtpServer) -> str:
    """What went wrong, in one short line without the password."""
    import ssl

    if isinstance(err, ssl.SSLError):
        text = f"TLS failed ({err.reason or err})"
    elif isinstance(err, socket.gaierror):
        text = f"the host name does not resolve ({err.strerror})"
    elif isinstance(err, OSError) and (err.errno or err.strerror):
        text = os.strerror(err.errno) if err.errno else err.strerror
    elif hasattr(err, "code") and hasattr(err, "message"):
        text = f"{err.code} {err.message}"
    else:
        text = str(err) or type(err).__name__
    text = " ".join(text.split())[:300]
    return text.replace(server.password, "***") if server.password else text


def send_now(server: SmtpServer, messages: list[EmailMessage], timeout: float = SEND_TIMEOUT) -> dict[str, str]:
    """`send` from synchronous code with no event loop running (an activity's thread)."""
    return asyncio.run(send(server, messages, timeout))


# --- journals --------------------------------------------------------------------------


def append_line(path: Path, line: str) -> None:
    """Append one line under an exclusive file lock (the outbox, the mailbox's index). A last
    line left without its newline (a writer that died half-way) is ended first, so the new
    line stays whole."""
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


def read_lines(path: Path, model: type[M]) -> list[tuple[int, M]]:
    """The lines of a JSON-lines journal (the outbox, the mailbox's index) read as `model`
    (a pydantic model), each with its line number from 1; [] when there is no file. A
    truncated or garbled line is skipped (and logged)."""
    from pydantic import ValidationError

    if not path.exists():
        return []
    read = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            read.append((number, model.model_validate_json(line)))
        except (ValidationError, ValueError):
            log.warning("%s line %d is not a %s; skipped", path, number, model.__name__)
    return read
