"""Notifications by e-mail (activities/notify.py, claimflow/mail.py, claimflow/mailcatcher.py):
a real SMTP server (aiosmtpd) on loopback receives exactly one message per notification key,
across a worker restart; staff read it in their own language, customers at their address;
an unreachable server raises a clear error and marks nothing delivered; every template
renders, whatever facts are missing; the mail catcher keeps what it receives and `claims
mail` lists it; SMTP_URL reads or says why not."""

import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

import claimflow.mailcatcher
from activities.notify import NotifyActivities, read_outbox
from claimflow.db import engine_for, migrate
from claimflow.mail import (
    FACTS, LOCALES, MISSING, OPTIONAL_FACTS, MailConfigError, MailError, Mailer, compose, message_id, parse_smtp_url,
    render, send_now, template_names, template_variables,
)  # fmt: skip
from claimflow.mailcatcher import read_mailbox, read_message, start_catcher, store
from claimflow.settings import load_settings
from claimflow.users import add_user, set_disabled
from models.claim import MESSAGES, Notification
from models.enums import UserRole
from models.read_model import NotificationRow
from starter import app

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    """What the test's SMTP server was sent: (envelope recipients, message) per message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def keys(self) -> list[str]:
        return [message["X-Claimflow-Key"] for _, message in self.messages]


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd), recording what it receives; `.url` reaches it."""
    from aiosmtpd.controller import Controller

    received = Received()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    received.url = f"smtp://127.0.0.1:{port}"
    yield received
    controller.stop()


@pytest.fixture
def sqlite(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    migrate(engine)
    yield engine
    engine.dispose()


def mailer(url: str) -> Mailer:
    return Mailer(parse_smtp_url(url), "Claims <claims@example.com>", "http://claims.example.com")


def notification(key: str = "C-1/shipping#1/0", **changes) -> Notification:
    fields = dict(
        key=key, claim_number=key.split("/")[0], role="agent", level="agent",
        subject=f"[agent] claim {key.split('/')[0]}: shipping deadline passed", body="The shipping deadline passed.",
        at=datetime(2026, 3, 11, 2, tzinfo=UTC), facts={"deadline": "shipping", "due_at": "2026-03-11 10:00 (Asia/Shanghai)",
                                                        "state": "awaiting_parcel"},
    )  # fmt: skip
    return Notification(**(fields | changes))


def delivered(engine, key: str):
    with Session(engine) as session:
        row = session.exec(select(NotificationRow).where(NotificationRow.key == key)).first()
        return row.delivered_at if row else None


def staff(engine, *people: tuple[str, UserRole, str, str | None]) -> None:
    for name, role, locale, email in people:
        add_user(engine, name, role, PASSWORD, locale=locale, email=email)


# --- the notify activity against a real SMTP server -------------------------------------


def test_one_message_per_key_across_a_worker_restart(engine, tmp_path, smtp):
    staff(engine, ("amy", UserRole.AGENT, "en", "amy@example.com"))
    outbox = tmp_path / "outbox.jsonl"
    first = NotifyActivities(outbox, engine, mailer(smtp.url)).notify(notification())
    assert first.sent_to == ["amy@example.com"] and first.note == "e-mail sent to 1 person"
    restarted = NotifyActivities(outbox, engine, mailer(smtp.url))  # a new worker process: the database remembers
    again = restarted.notify(notification())
    assert not again.delivered_now and again.sent_to == [] and "delivered before" in again.note
    assert smtp.keys() == ["C-1/shipping#1/0"]
    assert [n.key for n in read_outbox(outbox)] == ["C-1/shipping#1/0"]
    assert delivered(engine, "C-1/shipping#1/0") is not None
    restarted.notify(notification("C-1/shipping#1/1"))
    assert smtp.keys() == ["C-1/shipping#1/0", "C-1/shipping#1/1"]


def test_staff_read_it_in_their_own_language(sqlite, tmp_path, smtp):
    staff(
        sqlite,
        ("amy", UserRole.AGENT, "en", "amy@example.com"),
        ("li", UserRole.AGENT, "zh_Hans_CN", "li@example.com"),
        ("noe", UserRole.AGENT, "en", None),  # no address: not mailed
        ("old", UserRole.AGENT, "en", "old@example.com"),  # disabled below: not mailed
        ("sam", UserRole.SUPERVISOR, "en", "sam@example.com"),  # another role
    )
    set_disabled(sqlite, "old", True)
    delivery = NotifyActivities(tmp_path / "outbox.jsonl", sqlite, mailer(smtp.url)).notify(
        notification(to=["returns@example.com"])
    )
    assert sorted(delivery.sent_to) == ["amy@example.com", "li@example.com", "returns@example.com"]
    assert delivery.note == "e-mail sent to 3 people"
    by_language = {message["Content-Language"]: (to, message) for to, message in smtp.messages}
    assert set(by_language) == {"en", "zh-Hans"} and len(smtp.messages) == 2
    to, english = by_language["en"]
    assert sorted(to) == ["amy@example.com", "returns@example.com"]
    assert english["Subject"] == "[agent] claim C-1: shipping deadline passed"
    assert "Deadline: shipping" in english.get_body(("plain",)).get_content()
    to, chinese = by_language["zh-Hans"]
    assert to == ["li@example.com"]
    assert chinese["Subject"] == "【客服专员】索赔 C-1：客户寄件期限需要处理"
    text = chinese.get_body(("plain",)).get_content()
    assert "期限：客户寄件" in text and "状态：待客户寄件" in text and "http://claims.example.com/claims/C-1" in text
    for message in (english, chinese):
        assert message["From"] == "Claims <claims@example.com>" and message["X-Claimflow-Key"] == "C-1/shipping#1/0"
        assert message.get_body(("html",)) is not None and message["Auto-Submitted"] == "auto-generated"
    # the Message-ID is the key's and the language's, the same when composed again
    assert english["Message-ID"] != chinese["Message-ID"]
    again = compose(notification(), "zh_Hans_CN", ["x@example.com"], "claims@example.com")
    assert again["Message-ID"] == chinese["Message-ID"].strip() == message_id("C-1/shipping#1/0", "zh_Hans_CN", "c@example.com")


def test_a_manager_notification_goes_to_the_admins(sqlite, tmp_path, smtp):
    staff(sqlite, ("root", UserRole.ADMIN, "en", "root@example.com"), ("sam", UserRole.SUPERVISOR, "en", "sam@example.com"))
    delivery = NotifyActivities(tmp_path / "outbox.jsonl", sqlite, mailer(smtp.url)).notify(
        notification(role="manager", level="manager")
    )
    assert delivery.sent_to == ["root@example.com"]
    assert [to for to, _ in smtp.messages] == [["root@example.com"]]


def test_a_customer_message_goes_to_the_customers_address_in_their_language(sqlite, tmp_path, smtp):
    staff(sqlite, ("amy", UserRole.AGENT, "en", "amy@example.com"))
    facts = {"customer": "王小明", "rma_number": "RMA-7", "due_at": "2026-03-18 18:00 (Asia/Shanghai)"}
    delivery = NotifyActivities(tmp_path / "outbox.jsonl", sqlite, mailer(smtp.url)).notify(
        notification("C-1/rma", role="customer", level="reminder", message="rma_issued", facts=facts,
                     to=["wang@example.com", "+86 138 0000 0000"], locale="zh_Hans_CN")  # fmt: skip
    )
    assert delivery.sent_to == ["wang@example.com"]
    assert delivery.note == "e-mail sent to 1 person; not e-mail addresses, skipped: +86 138 0000 0000"
    [(to, message)] = smtp.messages
    assert to == ["wang@example.com"] and message["Subject"] == "您的退货授权 RMA-7（索赔 C-1）"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("王小明，您好：") and "请于 2026-03-18 18:00 (Asia/Shanghai) 之前寄出产品" in text


def test_a_quote_message_carries_the_customers_signed_link(sqlite, tmp_path, smtp):
    from web.quote_links import read_token

    sent_at, valid_until = datetime(2099, 3, 11, 2, 30, 15, tzinfo=UTC), datetime(2099, 3, 25, 15, 59, tzinfo=UTC)
    linking = Mailer(parse_smtp_url(smtp.url), "claims@example.com", "https://claims.example.com", "link-secret")
    facts = {"total": "120.00 CNY", "valid_until": "2099-03-25 15:59 UTC", "quote_sent_at": sent_at.isoformat(),
             "quote_valid_until": valid_until.isoformat()}  # fmt: skip
    NotifyActivities(tmp_path / "outbox.jsonl", sqlite, linking).notify(
        notification("C-1/quote_sent/quote#1", role="customer", message="quote_sent", facts=facts, to=["kim@example.com"])
    )
    [(_, message)] = smtp.messages
    text = message.get_body(("plain",)).get_content()
    [token] = re.findall(r"https://claims\.example\.com/q/(\S+)", text)
    assert read_token("link-secret", token, now=sent_at) == ("C-1", sent_at.isoformat())
    assert f'href="https://claims.example.com/q/{token}"' in message.get_body(("html",)).get_content()
    assert "link-secret" not in bytes(message).decode() and [n.facts.get("link") for n in read_outbox(tmp_path / "outbox.jsonl")] == [None]


@pytest.mark.parametrize(
    ("role", "note"),
    [
        ("manager", "no one with an e-mail address has role manager (admin); in the outbox only"),
        ("customer", "no e-mail address for the customer; in the outbox only"),
        ("warehouse", "no e-mail address for warehouse; in the outbox only"),
    ],
)
def test_nobody_to_mail_is_delivered_to_the_outbox_only_and_says_so(sqlite, tmp_path, smtp, role, note):
    staff(sqlite, ("amy", UserRole.AGENT, "en", "amy@example.com"), ("root", UserRole.ADMIN, "en", None))
    outbox = tmp_path / "outbox.jsonl"
    delivery = NotifyActivities(outbox, sqlite, mailer(smtp.url)).notify(notification(role=role))
    assert delivery.sent_to == [] and delivery.note == note and delivery.delivered_now
    assert smtp.messages == [] and [n.key for n in read_outbox(outbox)] == ["C-1/shipping#1/0"]
    assert delivered(sqlite, "C-1/shipping#1/0") is not None


def test_without_smtp_the_outbox_alone_gets_it(sqlite, tmp_path):
    staff(sqlite, ("amy", UserRole.AGENT, "en", "amy@example.com"))
    delivery = NotifyActivities(tmp_path / "outbox.jsonl", sqlite).notify(notification())
    assert delivery.sent_to == []
    assert delivery.note == "no SMTP server (SMTP_URL is not set): not e-mailed to 1 person; in the outbox only"


def test_an_unreachable_smtp_server_raises_and_marks_nothing_delivered(sqlite, tmp_path, smtp):
    staff(sqlite, ("amy", UserRole.AGENT, "en", "amy@example.com"))
    outbox = tmp_path / "outbox.jsonl"
    port = free_port()  # nothing listens there
    down = NotifyActivities(outbox, sqlite, mailer(f"smtp://claims:s3cret-pw@127.0.0.1:{port}"))
    with pytest.raises(MailError) as failed:
        down.notify(notification())
    message = str(failed.value)
    assert message == f"cannot reach the SMTP server smtp://127.0.0.1:{port}: Connection refused"
    assert "s3cret" not in message
    assert delivered(sqlite, "C-1/shipping#1/0") is None and not outbox.exists()
    # Temporal retries it; once the server is back, it is sent once
    back = NotifyActivities(outbox, sqlite, mailer(smtp.url))
    assert back.notify(notification()).sent_to == ["amy@example.com"]
    assert back.notify(notification()).delivered_now is False
    assert smtp.keys() == ["C-1/shipping#1/0"]


def test_a_server_that_never_answers_fails_within_the_bound():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts the connection, never greets
    try:
        server = parse_smtp_url(f"smtp://127.0.0.1:{listener.getsockname()[1]}")
        with pytest.raises(MailError, match=r"^the SMTP server smtp://127.0.0.1:\d+ did not answer within 0.5 s$"):
            send_now(server, [compose(notification(), "en", ["a@example.com"], "claims@example.com")], timeout=0.5)
    finally:
        listener.close()


async def test_a_claims_escalations_are_e_mailed_by_the_worker_once_per_language(env, sqlite, tmp_path, changkong, smtp):
    """The activity in a real worker (its thread pool) on the time-skipping server: each
    ladder step's e-mail reaches the SMTP server once per language of its people."""
    from tests.conftest import Claims
    from tests.test_claim_deadlines import ladder_of
    from worker import build_worker

    staff(sqlite, ("amy", UserRole.AGENT, "en", "amy@example.com"), ("li", UserRole.AGENT, "zh_Hans_CN", "li@example.com"),
          ("sam", UserRole.SUPERVISOR, "en", "sam@example.com"))  # fmt: skip
    outbox, queue = tmp_path / "outbox.jsonl", f"mail-{uuid.uuid4().hex[:8]}"
    claims = Claims(env=env, task_queue=queue, outbox=outbox)
    async with build_worker(env.client, outbox, task_queue=queue, engine=sqlite, mailer=mailer(smtp.url)):
        h = await claims.open(changkong)
        shipping = (await claims.view(h)).open_deadlines[0]
        await claims.sleep_until(shipping.due_at + timedelta(hours=24, minutes=5))  # reminder, agent, supervisor
        await claims.eventually(h, lambda v: ladder_of(v, "shipping") == ["reminder", "agent", "supervisor"])
        await claims.settle(h)
        await claims.terminate_open_claims()
    sent = [(m["X-Claimflow-Key"], m["Content-Language"], sorted(to)) for to, m in smtp.messages]
    assert len({(key, language) for key, language, _ in sent}) == len(sent)  # once per key and language
    assert (f"{h.id}/shipping#1/1", "en", ["amy@example.com"]) in sent
    assert (f"{h.id}/shipping#1/1", "zh-Hans", ["li@example.com"]) in sent
    assert (f"{h.id}/shipping#1/2", "en", ["sam@example.com"]) in sent
    keys = [n.key for n in read_outbox(outbox)]
    assert len(keys) == len(set(keys)) and {f"{h.id}/shipping#1/1", f"{h.id}/shipping#1/2"} <= set(keys)


# --- templates -------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("message", MESSAGES)
def test_every_template_renders_with_no_facts_and_logs_what_is_missing(message, locale, caplog):
    n = notification(message=message, facts={}, locale=locale)
    with caplog.at_level("WARNING", logger="claimflow.mail"):
        rendered = render(n, locale, "http://claims.example.com")
    assert rendered.subject and "\n" not in rendered.subject and rendered.text.strip()
    assert rendered.html.startswith("<!doctype html>") and f"<title>{rendered.subject}</title>" in rendered.html
    if FACTS[message]:
        assert MISSING in rendered.text + rendered.subject
        assert all(fact in caplog.text for fact in FACTS[message]) and "C-1/shipping#1/0" in caplog.text
    # self-contained: no image, stylesheet, font or script from elsewhere
    for outside in ("<img", "<link", "<script", "url(", "@import", 'src="'):
        assert outside not in rendered.html


@pytest.mark.parametrize("message", MESSAGES)
def test_facts_lists_what_each_message_uses(message):
    given = {"claim_number", "key", "role", "level", "subject", "body", "at", "urgent", "locale", "link"}
    for locale in LOCALES:
        used = set().union(*(template_variables(name) for name in template_names(message, locale)))
        assert used - given == set(FACTS[message] + OPTIONAL_FACTS[message]) - given, locale


def test_html_escapes_the_facts_and_text_keeps_them():
    n = notification(message="complaint_answered", role="customer",
                     facts={"customer": "<b>Kim</b>", "reply": "Fixed & <script>alert(1)</script>"})  # fmt: skip
    rendered = render(n, "en")
    assert "Dear <b>Kim</b>," in rendered.text and "Fixed & <script>alert(1)</script>" in rendered.text
    assert "&lt;b&gt;Kim&lt;/b&gt;" in rendered.html and "<script>" not in rendered.html and "Fixed &amp;" in rendered.html


def test_an_unknown_language_is_english():
    assert render(notification(), "fr").subject == "[agent] claim C-1: shipping deadline passed"


# --- the mail catcher and `claims mail` -----------------------------------------------


def test_the_catcher_keeps_what_it_receives_and_claims_mail_lists_it(sqlite, tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SMTP_URL", raising=False)
    mailbox = load_settings().mailbox_dir
    port = free_port()
    catcher = start_catcher(mailbox, port)
    try:
        staff(sqlite, ("amy", UserRole.AGENT, "en", "amy@example.com"))
        notify = NotifyActivities(tmp_path / "outbox.jsonl", sqlite, mailer(f"smtp://127.0.0.1:{port}")).notify
        notify(notification("C-1/shipping#1/0"))
        notify(notification("C-2/quote#1/0", claim_number="C-2"))
    finally:
        catcher.stop()
    entries = read_mailbox(mailbox)
    assert [(e.number, e.key, e.to) for e in entries] == [
        (2, "C-2/quote#1/0", ["amy@example.com"]), (1, "C-1/shipping#1/0", ["amy@example.com"])
    ]  # fmt: skip
    assert entries[1].subject == "[agent] claim C-1: shipping deadline passed"
    assert entries[1].sender == "claims@example.com" and entries[1].message_id.startswith("<cf.")
    content = read_message(mailbox, entries[1])
    assert "Claim C-1 needs attention." in content.text and "<html" in content.html and content.path.exists()

    runner = CliRunner()
    listed = runner.invoke(app, ["mail", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [(r["number"], r["key"], r["from"]) for r in rows] == [(2, "C-2/quote#1/0", "claims@example.com"),
                                                                  (1, "C-1/shipping#1/0", "claims@example.com")]  # fmt: skip
    assert json.loads(runner.invoke(app, ["mail", "--json", "--limit", "1"]).output)[0]["number"] == 2
    table = runner.invoke(app, ["mail"])
    assert table.exit_code == 0 and "C-2/quote#1/0" in table.output and "2 messages" in table.output
    shown = runner.invoke(app, ["mail", "show", "1"])
    assert shown.exit_code == 0 and "Claim C-1 needs attention." in shown.output and "Key:        C-1/shipping#1/0" in shown.output
    assert "<html" in runner.invoke(app, ["mail", "show", "1", "--html"]).output
    missing = runner.invoke(app, ["mail", "show", "9"])
    assert missing.exit_code == 1 and "there is no message 9 in the mailbox; its messages are numbered 1 to 2" in missing.output


def test_claims_mail_on_no_mailbox_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    listed = runner.invoke(app, ["mail"])
    assert listed.exit_code == 0 and "no mail yet" in listed.output and "claims up" in listed.output
    assert json.loads(runner.invoke(app, ["mail", "--json"]).output) == []
    shown = runner.invoke(app, ["mail", "show", "1"])
    assert shown.exit_code == 1 and "no mail yet" in shown.output and "Traceback" not in shown.output


def test_the_catcher_refuses_a_message_over_its_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(claimflow.mailcatcher, "MAX_MESSAGE_BYTES", 4096)
    port = free_port()
    catcher = start_catcher(tmp_path / "mail", port)
    try:
        big = notification(facts={"deadline": "x" * 1900, "state": "y" * 1900})
        with pytest.raises(MailError, match="552"):
            send_now(parse_smtp_url(f"smtp://127.0.0.1:{port}"), [compose(big, "en", ["a@example.com"], "c@example.com")])
    finally:
        catcher.stop()
    assert read_mailbox(tmp_path / "mail") == []


def test_the_mailbox_takes_concurrent_writers(tmp_path):
    mailbox = tmp_path / "mail"

    def write(writer: int) -> None:
        for i in range(10):
            message = compose(notification(f"C-{writer}/shipping#1/{i}"), "en", ["a@example.com"], "c@example.com")
            store(mailbox, "c@example.com", ["a@example.com"], bytes(message))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = read_mailbox(mailbox)
    assert sorted(e.number for e in entries) == list(range(1, 61))
    assert len({e.key for e in entries}) == 60 and len({e.file for e in entries}) == 60
    assert all((mailbox / e.file).stat().st_size == e.size for e in entries)
    assert not list(mailbox.glob(".*.part"))


def test_a_garbled_index_line_is_skipped_and_the_numbers_stay(tmp_path):
    mailbox = tmp_path / "mail"
    for key in ("K/1", "K/2"):
        store(mailbox, "c@example.com", ["a@example.com"], bytes(compose(notification(key), "en", ["a@example.com"], "c@example.com")))
        with open(mailbox / "index.jsonl", "ab") as index:
            index.write(b'{"time": "2026-03-11T02:00:00Z", "from": "x", "to": [], "subject": "", "file": "../claims.db", "size": 1}\n'
                        b"\xff\xfe not json\n")  # fmt: skip
    assert [(e.number, e.key) for e in read_mailbox(mailbox)] == [(4, "K/2"), (1, "K/1")]


# --- SMTP_URL and MAIL_FROM ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "starttls", "user", "password"),
    [
        ("smtp://localhost", "localhost", 25, False, None, None, None),
        ("smtp://127.0.0.1:8025", "127.0.0.1", 8025, False, None, None, None),
        ("smtps://mail.example.com", "mail.example.com", 465, True, False, None, None),
        ("smtp://u:pw-9Xq@mail.example.com?starttls=true", "mail.example.com", 587, False, True, "u", "pw-9Xq"),
        ("smtp://mail.example.com:2525?starttls=false", "mail.example.com", 2525, False, False, None, None),
        ("SMTP://claims%40example.com:p%40ss%2Fw:rd@mail.example.com:587/", "mail.example.com", 587, False, None,
         "claims@example.com", "p@ss/w:rd"),
    ],
)  # fmt: skip
def test_smtp_urls_that_read(url, host, port, tls, starttls, user, password):
    server = parse_smtp_url(url)
    assert (server.host, server.port, server.tls, server.starttls, server.user, server.password) == (
        host, port, tls, starttls, user, password
    )  # fmt: skip
    assert password is None or password not in repr(server) + str(server)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example.com", "SMTP_URL must start with smtp:// or smtps://, not 'http://mail.example.com'"),
        ("mail.example.com:25", "SMTP_URL must start with smtp:// or smtps://, not 'mail.example.com:25'"),
        ("smtp://", "SMTP_URL 'smtp://' names no host (smtp://host:port)"),
        ("smtp://u:hunter2@mail.example.com:99999", "SMTP_URL 'smtp://u:***@mail.example.com:99999': the port must be a number from 1 to 65535"),
        ("smtp://mail.example.com:abc", "SMTP_URL 'smtp://mail.example.com:abc': the port must be a number from 1 to 65535"),
        ("smtp://mail.example.com?starttls=maybe", "SMTP_URL 'smtp://mail.example.com?starttls=maybe': starttls must be true or false, not 'maybe'"),
        ("smtp://mail.example.com?tls=1", "SMTP_URL 'smtp://mail.example.com?tls=1': unknown option 'tls' (the only one is starttls)"),
        ("smtps://mail.example.com?starttls=true", "SMTP_URL 'smtps://mail.example.com?starttls=true': smtps:// is TLS already; use smtp://…?starttls=true for STARTTLS"),
        ("smtp://u@mail.example.com", "SMTP_URL 'smtp://u@mail.example.com': give both a user and a password (smtp://user:password@host), or neither"),
        ("smtp://mail.example.com/inbox", "SMTP_URL 'smtp://mail.example.com/inbox': nothing may follow the host but ?starttls=true or false"),
        ("smtp://u:p@ss@mail.example.com:x", "SMTP_URL 'smtp://u:***@mail.example.com:x': the port must be a number from 1 to 65535"),
    ],
)  # fmt: skip
def test_smtp_urls_that_do_not_read_say_why_without_the_password(url, message):
    with pytest.raises(MailConfigError) as failed:
        parse_smtp_url(url)
    assert str(failed.value) == message
    assert "hunter2" not in message and "p@ss" not in message


def test_settings_read_mail_and_report_bad_values(monkeypatch):
    for name in ("SMTP_URL", "MAIL_FROM", "CLAIMFLOW_MAIL_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert (settings.smtp_url, settings.mail_from, settings.mail_port) == (None, "claimflow@localhost", 8025)
    assert settings.mailbox_dir == settings.data_dir / "mail"
    monkeypatch.setenv("SMTP_URL", "smtps://claims:hunter2@mail.example.com")
    monkeypatch.setenv("MAIL_FROM", "Claims <claims@example.com>")
    monkeypatch.setenv("CLAIMFLOW_MAIL_PORT", "2525")
    settings = load_settings()
    assert settings.problems == () and settings.mail_from == "Claims <claims@example.com>" and settings.mail_port == 2525
    assert "hunter2" not in repr(settings)
    monkeypatch.setenv("SMTP_URL", "smtp://claims:hunter2@mail.example.com:0")
    monkeypatch.setenv("MAIL_FROM", "claims at example")
    monkeypatch.setenv("CLAIMFLOW_MAIL_PORT", "eighty")
    settings = load_settings()
    assert settings.problems == (
        "SMTP_URL 'smtp://claims:***@mail.example.com:0': the port must be a number from 1 to 65535",
        "MAIL_FROM must be an e-mail address like claims@example.com or 'Claims <claims@example.com>', not 'claims at example'",
        "CLAIMFLOW_MAIL_PORT must be a whole number from 1 to 65535, not 'eighty'",
    )  # fmt: skip
    assert settings.smtp_url is None and settings.mail_from == "claimflow@localhost"


def test_an_emergency_is_not_mailed_as_a_late_reply():
    """An emergency reaches the leader as it is taken in: its mail says so, in both languages."""
    n = Notification(
        key="CP-1/emergency", claim_number="CP-1", role="leader", level="manager", subject="s", body="b",
        at=datetime(2026, 1, 1, tzinfo=UTC), message="complaint_escalation", urgent=True,
        facts={"emergency": "yes", "category": "short quantity", "department": "warehouse",
               "due_at": "2026-01-02 08:00 Asia/Shanghai", "description": "two figures missing"},
    )  # fmt: skip
    english, chinese = render(n, "en"), render(n, "zh_Hans_CN")
    assert "EMERGENCY" in english.subject and "at once" in english.text and "not answered" not in english.text
    assert "紧急投诉" in chinese.subject and "未按时答复" not in chinese.text
    late = render(n.model_copy(update={"facts": {**n.facts, "emergency": "no"}}), "en")
    assert "not answered in time" in late.text
