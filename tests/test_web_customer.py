"""The customer's quote page (web/routes/customer.py, web/quote_links.py): a signed link,
no account; approve or decline as the workflow's update by "customer"; an expired, used,
replaced or tampered link each gets its own page."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from claimflow.claims import act
from models.actions import ApproveQuote, ReceiveParcel, RecordInspection, SendQuote
from models.enums import ClaimState as S
from tests.web_support import csrf_of
from web.quote_links import BadLink, ExpiredLink, answer_request_id, quote_token, read_token
from web.security import secret_key

LINES = [{"item": "spare parts", "amount": "80.00"}, {"item": "labour", "amount": "40.50"}]


async def quoted(claims, policy, lines=LINES):
    """A paid repair under `policy` (man-made damage in warranty), quoted and awaiting the answer."""
    h = await claims.open(policy, bought_days_ago=30)
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="man_made_damage", notes="cracked by a fall"))
    await claims.do(h, SendQuote(by="amy", lines=lines))
    view = await claims.view(h)
    assert view.state is S.AWAITING_APPROVAL
    return h, view


def link(web, view, **kwargs) -> str:
    token = quote_token(secret_key(web.settings), view, **kwargs)
    assert token
    return f"/q/{token}"


def customer_actions(view) -> list[str]:
    return [e.summary for e in view.timeline if e.kind == "action" and e.by == "customer"]


async def test_the_customer_sees_the_quote_and_the_policy_text_behind_it(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    page = await web.anonymous().get(link(web, view))
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert view.claim_number in text and "CK-200 controller" in text
    assert "spare parts" in text and "labour" in text and "CN¥120.50" in text and "CN¥80.00" in text
    for clause in ("IV.4", "CF-QUOTE"):  # the remedy decision's and the quote deadline's clauses
        assert view.clauses[clause] in text
    remedy = [d for d in view.decisions if d.what == "remedy"][-1]
    assert all(view.clauses[c] in text for c in remedy.clause_ids)
    assert "Asia/Shanghai" in text  # valid until, in the policy's time zone
    # nothing the customer does not already know: no name, contact, agents or timeline
    for private in ("Li Wei", "li.wei@example.com", "amy", "tom", "cracked by a fall", "does not power on"):
        assert not re.search(rf"\b{re.escape(private)}\b", text), private
    assert '<meta name="robots" content="noindex' in page.text
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and " style=" not in page.text


async def test_approving_moves_the_claim_to_repairing_as_the_customer_once(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    customer, url = web.anonymous(), link(web, view)
    token = await csrf_of(customer, url)
    done = await customer.post(url, data={"csrf_token": token, "answer": "approve"})
    assert done.status_code == 200, done.text
    assert "your answer is recorded" in done.text and "we repair your product" in done.text
    after = await claims.view(h)
    assert after.state is S.REPAIRING and after.quote.answer == "approved"
    assert customer_actions(after) == ["customer approved the quote of 120.50 CNY"]

    # the request id comes from the link: the same answer sent again is the same update, done once
    again = await act(claims.client, h.id, ApproveQuote(by="customer"),
                      request_id=answer_request_id(view.claim_number, view.quote.sent_at.isoformat()))  # fmt: skip
    assert again.state is S.REPAIRING
    assert len(customer_actions(await claims.view(h))) == 1

    second = await customer.post(url, data={"csrf_token": token, "answer": "decline"})
    assert second.status_code == 410 and "already answered" in second.text and "You approved this quote" in second.text
    assert (await customer.get(url)).status_code == 410
    assert (await claims.view(h)).state is S.REPAIRING


async def test_declining_sends_the_product_back_unrepaired(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    customer, url = web.anonymous(), link(web, view)
    token = await csrf_of(customer, url)
    done = await customer.post(url, data={"csrf_token": token, "answer": "decline"})
    assert done.status_code == 200 and "send your product back to you unrepaired" in done.text
    after = await claims.view(h)
    assert after.state is S.AWAITING_SHIP_BACK
    assert customer_actions(after) == ["customer declined the quote of 120.50 CNY"]


async def test_an_answer_without_the_csrf_token_is_forbidden(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    customer, url = web.anonymous(), link(web, view)
    await customer.get(url)
    assert (await customer.post(url, data={"answer": "approve"})).status_code == 403
    assert (await customer.post(url, data={"answer": "approve", "csrf_token": "forged"})).status_code == 403
    assert (await claims.view(h)).state is S.AWAITING_APPROVAL


async def test_an_expired_then_replaced_quote_each_has_its_page(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    customer, old = web.anonymous(), link(web, view)
    await claims.sleep_until(view.quote.valid_until + timedelta(hours=1))  # the workflow expires the quote
    await claims.eventually(h, lambda v: v.state is S.QUOTE_EXPIRED)
    expired = await customer.get(old)
    assert expired.status_code == 410 and "This quote has expired" in expired.text
    assert expired.headers["referrer-policy"] == "no-referrer"

    await claims.do(h, SendQuote(by="amy", lines=[{"item": "spare parts", "amount": "60.00"}]))
    replaced = await customer.get(old)
    assert replaced.status_code == 410 and "This quote was replaced" in replaced.text
    token = await csrf_of(customer, old)
    assert (await customer.post(old, data={"csrf_token": token, "answer": "approve"})).status_code == 410
    current = await customer.get(link(web, await claims.view(h)))
    assert current.status_code == 200 and "CN¥60.00" in html.unescape(current.text)
    assert (await claims.view(h)).state is S.AWAITING_APPROVAL


async def test_a_link_expires_with_the_quote_never_later(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    secret = secret_key(web.settings)
    token = quote_token(secret, view)
    assert read_token(secret, token, view.quote.valid_until - timedelta(seconds=1)) == (
        view.claim_number, view.quote.sent_at.isoformat()
    )  # fmt: skip
    with pytest.raises(ExpiredLink):
        read_token(secret, token, view.quote.valid_until)
    later = quote_token(secret, view, until=view.quote.valid_until + timedelta(days=30))  # asked later: capped
    with pytest.raises(ExpiredLink):
        read_token(secret, later, view.quote.valid_until)

    page = await web.anonymous().get(link(web, view, until=datetime.now(UTC) - timedelta(minutes=1)))
    assert page.status_code == 410 and "This quote has expired" in page.text


@pytest.mark.parametrize("tamper", ["flip", "garbage", "other key"])
async def test_a_tampered_link_is_not_found(web, claims, changkong, tamper):
    h, view = await quoted(claims, changkong)
    token = quote_token(secret_key(web.settings), view)
    forged = {
        "flip": token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        "garbage": "not-a-token",
        "other key": quote_token("another secret key", view),
    }[tamper]
    with pytest.raises(BadLink):
        read_token(secret_key(web.settings), forged)
    page = await web.anonymous().get(f"/q/{forged}")
    assert page.status_code == 404 and "This link is not valid" in page.text and "Traceback" not in page.text


async def test_the_page_speaks_the_customers_language(web, claims, changkong):
    h, view = await quoted(claims, changkong)
    customer = web.anonymous()
    chinese = await customer.get(link(web, view), headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert chinese.status_code == 200 and '<html lang="zh-Hans">' in chinese.text
    assert "¥120.50" in html.unescape(chinese.text)
    english = await customer.get(link(web, view), headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text


async def test_a_refused_answer_shows_the_workflows_message_and_changes_nothing(web, claims, changkong, monkeypatch):
    h, view = await quoted(claims, changkong)
    customer, url = web.anonymous(), link(web, view)
    token = await csrf_of(customer, url)
    await claims.do(h, ApproveQuote(by="amy"))  # the claim moves on while the page is open
    stale = view

    async def stale_view(client, number):  # the page still believes the quote awaits an answer
        return stale

    monkeypatch.setattr("web.routes.customer.claims.view", stale_view)
    refused = await customer.post(url, data={"csrf_token": token, "answer": "decline"})
    assert refused.status_code == 409 and "could not be recorded" in refused.text
    assert "decline_quote is not allowed while the claim is repairing" in html.unescape(refused.text)
    monkeypatch.undo()
    after = await claims.view(h)
    assert after.state is S.REPAIRING and customer_actions(after) == []
