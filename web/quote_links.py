"""The customer's link to a quote: signed, expiring, never outliving the quote.

The token carries the claim number and the quote's `sent_at` (which quote it is for) and
expires when the quote does (`valid_until`), or earlier when asked. A link for an older
quote, an answered or expired quote, or a tampered token is refused by the customer page
(web/routes/customer.py), each with its own page.
"""

import hashlib
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer

from models.claim import ClaimView
from web.i18n import N_

SALT = "claimflow.quote-link"


def _signer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def quote_token(secret: str, view: ClaimView, until: datetime | None = None) -> str | None:
    """A token for the claim's current quote, or None when it has no quote awaiting an answer.
    It expires with the quote, or at `until` when that is earlier (never later)."""
    quote = view.quote
    if quote is None or quote.answer is not None:
        return None
    expires = min(quote.valid_until, until) if until is not None else quote.valid_until
    return _signer(secret).dumps(
        {"claim": view.claim_number, "sent": quote.sent_at.isoformat(), "until": expires.timestamp()}
    )


class BadLink(Exception):
    """The link is not one claimflow made, or it expired (the reason is for the customer)."""


class ExpiredLink(BadLink):
    """A link claimflow made, for a quote whose time to answer has passed."""


def read_token(secret: str, token: str, now: datetime | None = None) -> tuple[str, str]:
    """(claim number, the quote's sent_at as ISO text) of a valid, unexpired token;
    ExpiredLink for an expired one, BadLink for one claimflow did not make."""
    try:
        data = _signer(secret).loads(token)
    except BadSignature:
        raise BadLink(N_("this link is not valid")) from None
    if not isinstance(data, dict) or not {"claim", "sent", "until"} <= set(data):
        raise BadLink(N_("this link is not valid"))
    if (now or datetime.now(UTC)).timestamp() >= float(data["until"]):
        raise ExpiredLink(N_("this quote has expired"))
    return str(data["claim"]), str(data["sent"])


def answer_request_id(claim_number: str, sent: str) -> str:
    """The request id of the customer's answer to one quote: the same for every click on
    every link to that quote, so a double click is one update (claimflow.claims.update_id)."""
    return "customer-" + hashlib.sha256(f"{claim_number}\n{sent}".encode()).hexdigest()[:32]
