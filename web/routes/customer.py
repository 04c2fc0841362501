"""The customer's quote page: GET /q/{token} shows the quote and the policy text behind it,
POST /q/{token} approves or declines it (the workflow's update, by "customer").

Public (no account): the signed link is the only key (web/quote_links.py). The page shows
what the customer already knows (their claim number, product and the quote), never the
timeline or who worked on the claim. Its language comes from Accept-Language; its times
are in the policy's time zone. Every answer it cannot take has its own page: expired,
used (already answered), replaced (a newer quote), closed (410) and tampered (404).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import Response
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from claimflow import claims
from models.actions import ApproveQuote, DeclineQuote
from models.claim import ClaimView, Quote
from models.enums import ClaimState, DeadlineKind
from web.deps import csrf, temporal
from web.i18n import N_, Formatter, best_match
from web.quote_links import BadLink, ExpiredLink, answer_request_id, read_token
from web.security import secret_key
from web.templating import render

router = APIRouter()

CUSTOMER = "customer"  # the `by` of the customer's answer
ANSWERS = {"approve": ApproveQuote, "decline": DeclineQuote}
# the decisions a quote rests on (and the quote deadline's clauses)
QUOTE_DECISIONS = ("remedy", "fees")
# the link's pages and their words; 410: the link was good once, 404: it never was
GONE = {
    "expired": (410, N_("This quote has expired"), N_(
        "The time to answer this quote has passed. If you still want the repair, please contact our customer "
        "service: they can send you a new quote.")),
    "used": (410, N_("This quote is already answered"), N_(
        "Your answer to this quote is recorded; nothing more is needed from you on this page.")),
    "replaced": (410, N_("This quote was replaced"), N_(
        "We sent you a newer quote for this claim. Please open the link in our latest message.")),
    "closed": (410, N_("This claim is closed"), N_("There is no quote on this claim waiting for your answer.")),
    "tampered": (404, N_("This link is not valid"), N_(
        "Please check that the whole link was copied from our message, or contact our customer service.")),
    "unavailable": (503, N_("We cannot show this quote right now"), N_(
        "Our system is busy or being maintained. Please try again in a few minutes; your link stays valid "
        "until the quote expires.")),
    "refused": (409, N_("Your answer could not be recorded"), N_(
        "The claim changed while you were answering, so nothing was recorded. Please open the link again, "
        "or contact our customer service.")),
}  # fmt: skip
# what happens after the answer, by the answer and where the claim went
NEXT_STEPS = {
    ("approve", ClaimState.REPAIRING): N_(
        "What happens next: we repair your product and check it. We will contact you about the payment, and send "
        "the product back to you once it is paid."),
    ("decline", ClaimState.AWAITING_SHIP_BACK): N_(
        "What happens next: we send your product back to you unrepaired. The return shipping follows the policy "
        "terms of your claim."),
}  # fmt: skip
NEXT_STEPS_OTHERWISE = N_("What happens next: our service team will contact you about the next steps.")
HEADERS = {
    "Referrer-Policy": "no-referrer",  # the token must not leave in a Referer header
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",
}


class LinkProblem(Exception):
    def __init__(self, kind: str, view: ClaimView | None = None, detail: str | None = None):
        super().__init__(kind)
        self.kind, self.view, self.detail = kind, view, detail


@dataclass(frozen=True)
class QuoteLink:
    claim_number: str
    sent: str  # the quote's sent_at, as the token carries it
    view: ClaimView

    @property
    def quote(self) -> Quote:
        assert self.view.quote is not None
        return self.view.quote


def problem_of(view: ClaimView, sent: str) -> str | None:
    """Why the customer cannot answer the quote sent at `sent` on this claim now (None: they can)."""
    quote = view.quote
    if quote is None:
        return "closed"
    if quote.sent_at != datetime.fromisoformat(sent):
        return "replaced"
    if quote.answer == "expired" or view.state is ClaimState.QUOTE_EXPIRED or quote.valid_until <= view.as_of:
        return "expired"
    if quote.answer is not None:
        return "used"
    if view.state is not ClaimState.AWAITING_APPROVAL:
        return "closed"
    return None


def policy_clauses(view: ClaimView) -> list[tuple[str, str]]:
    """(clause id, text) of the clauses the quote rests on: those of the latest remedy and
    fees decisions and of the quote deadline, each once, in that order."""
    ids: list[str] = []
    for what in QUOTE_DECISIONS:
        decided = [d for d in view.decisions if d.what == what]
        ids += decided[-1].clause_ids if decided else []
    quote_deadlines = [d for d in view.deadlines if d.kind is DeadlineKind.QUOTE]
    ids += quote_deadlines[-1].clause_ids if quote_deadlines else []
    return [(cid, view.clauses[cid]) for cid in dict.fromkeys(ids) if cid in view.clauses]


async def _client(request: Request) -> Client:
    try:
        return await temporal(request)
    except HTTPException:
        raise LinkProblem("unavailable") from None


async def _open(request: Request, token: str) -> QuoteLink:
    """The quote behind `token`, answerable now; LinkProblem otherwise."""
    try:
        number, sent = read_token(secret_key(request.app.state.settings), token, datetime.now(UTC))
        datetime.fromisoformat(sent)
    except ExpiredLink:
        raise LinkProblem("expired") from None
    except (BadLink, ValueError):
        raise LinkProblem("tampered") from None
    view = await _view(request, number)
    problem = problem_of(view, sent)
    if problem:
        raise LinkProblem(problem, view)
    return QuoteLink(number, sent, view)


async def _view(request: Request, number: str) -> ClaimView:
    client = await _client(request)
    try:
        return await claims.view(client, number)
    except RPCError as err:
        raise LinkProblem("closed" if err.status == RPCStatusCode.NOT_FOUND else "unavailable") from None


def _page(
    request: Request, template: str, status_code: int = 200, view: ClaimView | None = None, **context
) -> Response:
    """A customer page: language from Accept-Language, times in the policy's time zone."""
    request.state.locale = best_match(request.headers.get("accept-language"))
    tz = ZoneInfo(view.timezone if view else "UTC")
    local = Formatter(request.state.locale, tz)
    response = render(request, template, status_code=status_code, view=view, local=local, **context)
    response.headers.update(HEADERS)
    return response


def _gone(request: Request, problem: LinkProblem) -> Response:
    status, title, text = GONE[problem.kind]
    quote = problem.view.quote if problem.view else None
    answer = quote.answer if quote is not None and problem.kind == "used" else None
    return _page(
        request, "customer_gone.html", status, kind=problem.kind, title=title, text=text, answer=answer,
        detail=problem.detail,
    )  # fmt: skip


@router.get("/q/{token}")
async def quote_page(request: Request, token: str) -> Response:
    try:
        link = await _open(request, token)
    except LinkProblem as problem:
        return _gone(request, problem)
    return _page(request, "customer_quote.html", view=link.view, quote=link.quote, token=token,
                 clauses=policy_clauses(link.view))  # fmt: skip


@router.post("/q/{token}", dependencies=[Depends(csrf)])
async def answer_quote(request: Request, token: str, answer: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        link = await _open(request, token)
        if answer not in ANSWERS:
            return _page(request, "customer_quote.html", 400, view=link.view, quote=link.quote, token=token,
                         clauses=policy_clauses(link.view), error=N_("Please choose approve or decline."))  # fmt: skip
        action = ANSWERS[answer](by=CUSTOMER)
        settings = request.app.state.settings
        client = await _client(request)
        try:
            result = await claims.act(
                client, link.claim_number, action,
                request_id=answer_request_id(link.claim_number, link.sent), wait=settings.act_timeout,
            )  # fmt: skip
        except WorkflowUpdateFailedError as err:
            raise await _refused(request, link, getattr(err.cause, "message", None) or str(err)) from None
        except (claims.ClaimError, RPCError):  # no worker, no answer in time, Temporal unreachable
            raise LinkProblem("unavailable") from None
    except LinkProblem as problem:
        return _gone(request, problem)
    next_step = NEXT_STEPS.get((answer, result.state), NEXT_STEPS_OTHERWISE)
    return _page(request, "customer_done.html", view=link.view, quote=link.quote, answer=answer, next_step=next_step)


async def _refused(request: Request, link: QuoteLink, message: str) -> LinkProblem:
    """Why the workflow refused the answer, in the customer's words: the claim as it is now
    tells (expired, answered, replaced); else the general page, with the workflow's words."""
    try:
        view = await _view(request, link.claim_number)
    except LinkProblem as problem:
        return problem
    problem = problem_of(view, link.sent)
    return LinkProblem(problem, view) if problem else LinkProblem("refused", view, detail=message)
