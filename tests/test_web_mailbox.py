"""The mailbox page (web/routes/mailbox.py): supervisors, auditors and admins read what the
mail catcher received, newest first, one message's headers and text (escaped), and download
its .eml; agents may not; an empty mailbox and an unknown message say so; the page keeps to
the CSP (no inline script or style) and has no form."""

import re
from datetime import UTC, datetime

import pytest

from claimflow.mail import compose
from claimflow.mailcatcher import store
from models.claim import Notification
from tests.web_support import build_web


@pytest.fixture
async def web(tmp_path):
    """The web UI alone: the mailbox needs no Temporal (a client is never connected)."""
    harness = build_web(tmp_path, None, "unused")
    yield harness
    await harness.close()


def received(web, key: str, **changes) -> None:
    """A message as the mail catcher keeps it."""
    fields = dict(
        key=key, claim_number=key.split("/")[0], role="customer", level="reminder", subject="s", body="b",
        at=datetime(2026, 3, 11, 2, tzinfo=UTC), message="complaint_answered",
        facts={"customer": "Kim", "reply": "We replaced it. <script>alert(1)</script>"},
    )  # fmt: skip
    message = compose(Notification(**(fields | changes)), "en", ["kim@example.com"], "claims@example.com")
    store(web.settings.mailbox_dir, "claims@example.com", ["kim@example.com"], bytes(message))


def assert_keeps_to_the_csp(page: str) -> None:
    assert "<script>" not in page.replace("&lt;script&gt;", "") and " style=" not in page and "<style" not in page
    assert not re.search(r"<[^>]+\son[a-z]+=", page)
    assert "<iframe" not in page


async def test_a_supervisor_reads_the_mailbox_and_a_message(web):
    received(web, "K-1/complaint_answered#1")
    received(web, "K-2/complaint_answered#1", claim_number="K-2")
    sam = await web.as_user("sam")
    listing = await sam.get("/mailbox")
    assert listing.status_code == 200
    page = listing.text
    assert page.index('href="/mailbox/2"') < page.index('href="/mailbox/1"')  # newest first
    assert "Our reply to your complaint K-2" in page and "K-1/complaint_answered#1" in page
    assert "kim@example.com" in page and 'href="/mailbox"' in page  # the nav link
    assert_keeps_to_the_csp(page)
    assert page.count("<form") == 1  # the header's sign-out only

    message = await sam.get("/mailbox/1")
    assert message.status_code == 200
    page = message.text
    assert "Our reply to your complaint K-1" in page and "claims@example.com" in page
    assert "We replaced it. &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the text part, escaped
    assert "<html" not in page.split("<body", 1)[1]  # not the HTML part
    assert 'href="/mailbox/1.eml"' in page
    assert_keeps_to_the_csp(page)

    eml = await sam.get("/mailbox/1.eml")
    assert eml.status_code == 200 and eml.headers["content-type"].startswith("message/rfc822")
    assert eml.headers["content-disposition"] == 'attachment; filename="message-1.eml"'
    assert b"X-Claimflow-Key: K-1/complaint_answered#1" in eml.content


async def test_auditors_and_admins_read_it_agents_may_not(web):
    received(web, "K-1/complaint_answered#1")
    for name in ("aud", "root"):
        client = await web.as_user(name)
        assert (await client.get("/mailbox")).status_code == 200
        assert 'href="/mailbox"' in (await client.get("/claims")).text
    amy = await web.as_user("amy")
    for path in ("/mailbox", "/mailbox/1", "/mailbox/1.eml"):
        assert (await amy.get(path)).status_code == 403
    assert 'href="/mailbox"' not in (await amy.get("/claims")).text


async def test_an_empty_mailbox_and_an_unknown_message_say_so(web):
    sam = await web.as_user("sam")
    page = (await sam.get("/mailbox")).text
    assert "No e-mail yet." in page and "<table" not in page
    for path in ("/mailbox/1", "/mailbox/1.eml", "/mailbox/x", "/mailbox/-1", "/mailbox/1e3", "/mailbox/²"):
        response = await sam.get(path)
        assert response.status_code == 404 and "there is no such message in the mailbox" in response.text
    assert (await sam.get("/mailbox/..%2Fclaims.db")).status_code == 404


async def test_a_message_whose_file_is_gone_is_404(web):
    received(web, "K-1/complaint_answered#1")
    for eml in web.settings.mailbox_dir.glob("*.eml"):
        eml.unlink()
    sam = await web.as_user("sam")
    for path in ("/mailbox/1", "/mailbox/1.eml"):
        response = await sam.get(path)
        assert response.status_code == 404 and "the message&#39;s file is gone" in response.text
