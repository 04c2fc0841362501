"""The `notify` activity: e-mails a notification to its people and appends it to the
outbox, once per key.

Who gets it: the addresses the notification carries (`to`: a customer's, a department's),
and for a staff role every enabled user with an e-mail address and the matching role
(models.permissions.USERS_NOTIFIED: agent, supervisor, and admin for manager). Each reads it
in their language: one message per language (the users' own; the notification's `locale`
for the addresses it carries). Without SMTP_URL (or with nobody to send to) the outbox
alone gets it, and the result says so.

Whether a notification was delivered is decided by the read model, never by reading the
outbox or the mail server: the activity inserts the notification's row keyed by its key (an
existing row is left alone), and in the same transaction, holding that row (a row lock on
PostgreSQL, the write lock on SQLite), sends the e-mail and appends the outbox line only
when the row has no `delivered_at` yet, then sets it and commits. A retried activity, a
restarted worker, or two workers delivering the same step, send one e-mail and leave one
row and one line. An SMTP failure raises (Temporal retries it within the workflow's bound)
and marks nothing delivered.

At least once, not exactly once, in one window: should the process die (or the database
fail) after the SMTP server took the message and before the transaction commits, the retry
sends it again — with the same Message-ID (claimflow.mail.message_id), so mail clients show
it once. Likewise, when one language's message is taken and another's refused, the retry
sends both again. The SMTP conversation is bounded (claimflow.mail.SEND_TIMEOUT), and so is
the time the row stays locked.
"""

import logging
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import Engine, select
from sqlmodel import Session
from temporalio import activity

from claimflow.mail import LOCALES, Mailer, append_line, compose, is_address, read_lines, send_now
from claimflow.projection import claim_delivered, mark_delivered, record_notification
from models.claim import Delivery, Notification
from models.enums import Role
from models.limits import LIST_MAX
from models.permissions import USERS_NOTIFIED
from models.read_model import UserRow
from web.quote_links import quote_token
from workflows.names import NOTIFY

__all__ = ["NotifyActivities", "append_line", "read_outbox", "recipients"]

log = logging.getLogger(__name__)


class NotifyActivities:
    def __init__(self, outbox: Path, engine: Engine, mailer: Mailer | None = None):
        """`mailer`: where e-mail goes (claimflow.mail.mailer_for(settings)); None: nowhere,
        the outbox only."""
        self.outbox = outbox
        self.engine = engine
        self.mailer = mailer

    @activity.defn(name=NOTIFY)
    def notify(self, notification: Notification) -> Delivery:
        """Deliver `notification` unless its key was delivered before; what was done."""
        with Session(self.engine) as session, session.begin():
            record_notification(session, notification)
            if claim_delivered(session, notification.key) is not None:
                log.info("notification %s was delivered before", notification.key)
                return Delivery(note="delivered before; not sent again", delivered_now=False)
            groups, skipped = recipients(session, notification)
            delivery = self._mail(notification, groups, skipped)
            append_line(self.outbox, notification.model_dump_json())
            mark_delivered(session, notification.key)
        log.info("notification %s: %s", notification.key, delivery.note)
        return delivery

    def _mail(self, notification: Notification, groups: dict[str, list[str]], skipped: list[str]) -> Delivery:
        """E-mail each language group its message (MailError when the server fails)."""
        everyone = [address for addresses in groups.values() for address in addresses]
        aside = f"; not e-mail addresses, skipped: {', '.join(skipped)}" if skipped else ""
        if not everyone:
            return Delivery(note=f"{_nobody(notification)}; in the outbox only{aside}")
        if self.mailer is None:
            return Delivery(note=f"no SMTP server (SMTP_URL is not set): not e-mailed to {_people(len(everyone))}; "
                                 f"in the outbox only{aside}")  # fmt: skip
        notification = with_quote_link(notification, self.mailer)
        messages = [
            compose(notification, locale, addresses, self.mailer.sender, self.mailer.public_url)
            for locale, addresses in groups.items()
        ]
        refused = send_now(self.mailer.server, messages)
        sent = [address for address in everyone if address not in refused]
        if refused:
            aside += "; refused by the server: " + ", ".join(f"{a} ({why})" for a, why in sorted(refused.items()))
        return Delivery(sent_to=sent[:LIST_MAX], note=f"e-mail sent to {_people(len(sent))}{aside}")


def recipients(session: Session, notification: Notification) -> tuple[dict[str, list[str]], list[str]]:
    """Whom `notification` goes to, by language (locale -> addresses, each address once, in
    a stable order), and the addresses it carries that are not e-mail addresses."""
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()

    def add(address: str, locale: str) -> None:
        if address.lower() not in seen:
            seen.add(address.lower())
            groups.setdefault(locale if locale in LOCALES else "en", []).append(address)

    if (role := USERS_NOTIFIED.get(notification.role)) is not None:
        users = session.execute(
            select(UserRow.email, UserRow.locale)
            .where(UserRow.role == role.value, UserRow.disabled == False, UserRow.email.is_not(None))  # noqa: E712
            .order_by(UserRow.name)
        )
        for email, locale in users:
            if is_address(email.strip()):
                add(email.strip(), locale)
            else:
                log.warning("user e-mail %r is not an address; notification %s not sent to it", email, notification.key)
    skipped = []
    for address in notification.to:
        if is_address(address.strip()):
            add(address.strip(), notification.locale)
        else:
            skipped.append(address)
    return {locale: groups[locale] for locale in sorted(groups)}, skipped


def with_quote_link(notification: Notification, mailer: Mailer) -> Notification:
    """A quote_sent notification with the customer's signed link to the quote in its facts
    (`link`, web/quote_links.py: it expires with the quote). The workflow names the quote
    with the facts `quote_sent_at` and `quote_valid_until` (ISO 8601); the key that signs
    the link never enters its history. Unchanged without them, or without a public address."""
    facts = notification.facts
    if notification.message != "quote_sent" or "link" in facts or not (mailer.public_url and mailer.link_secret):
        return notification
    try:
        quote = SimpleNamespace(sent_at=datetime.fromisoformat(facts["quote_sent_at"]), answer=None,
                                valid_until=datetime.fromisoformat(facts["quote_valid_until"]))  # fmt: skip
    except (KeyError, ValueError):
        log.warning("notification %s: no quote_sent_at and quote_valid_until (ISO 8601); no link", notification.key)
        return notification
    # quote_token reads only these fields of the claim's view
    token = quote_token(mailer.link_secret, SimpleNamespace(claim_number=notification.claim_number, quote=quote))
    return notification.model_copy(update={"facts": facts | {"link": f"{mailer.public_url}/q/{token}"}})


def _nobody(notification: Notification) -> str:
    if (role := USERS_NOTIFIED.get(notification.role)) is not None:
        named = notification.role if role.value == notification.role else f"{notification.role} ({role.value})"
        return f"no one with an e-mail address has role {named}"
    if notification.role == Role.CUSTOMER:
        return "no e-mail address for the customer"
    return f"no e-mail address for {notification.role}"


def _people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


def read_outbox(outbox: Path) -> list[Notification]:
    """The notifications in the outbox; a truncated or garbled line is skipped (and logged)."""
    return [notification for _, notification in read_lines(outbox, Notification)]
