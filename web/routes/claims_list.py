"""The claims list: filters, search, counts per state, keyset pages, from the read model.

GET /claims for every signed-in role. The filter form is a plain GET form; with htmx it
asks for the results alone (HX-Target `claims-results`, field messages swapped out of
band beside their fields) or, from a link, for the whole section (`claims-page`). A
filter that cannot be read gets a message beside its field naming what was typed, and
the list is shown with the other filters. Queries: claimflow.claim_lists (one page of
PAGE_SIZE read in index order, and the counts per state).
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from claimflow.claim_lists import ClaimFilter, PageKey, list_view
from claimflow.policy_files import policy_names
from models.enums import ClaimState
from models.permissions import CAN_READ
from models.policy import Channel
from models.read_model import UserRow
from web.deps import role
from web.i18n import N_
from web.templating import render

router = APIRouter()

FIELDS = ("q", "state", "policy", "channel", "overdue", "escalated", "assignee", "opened_from", "opened_to")
STATES = [s.value for s in ClaimState]
CHANNELS = list(get_args(Channel.model_fields["kind"].annotation))
YES, NO = {"yes", "true", "1", "on"}, {"no", "false", "0", "off"}
TEXT_MAX = 200  # characters of the assignee or search fields
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # days "opened between" takes

NOT_A_DATE = N_("“%(value)s” is not a date: write it as YYYY-MM-DD")
NOT_YES_OR_NO = N_("“%(value)s” is not yes or no")
TOO_LONG = N_("“%(value)s” is too long: at most %(max)d characters")


@dataclass
class Filters:
    """The filter form as typed, what could be read of it, and a message per field that could not."""

    typed: dict[str, str]
    where: ClaimFilter = ClaimFilter()
    errors: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # field: (message, its values)
    after: PageKey | None = None
    page_error: str | None = None

    def fail(self, name: str, message: str, **values: Any) -> None:
        value = self.typed[name]
        shown = value if len(value) <= 40 else value[:40] + "…"
        self.errors[name] = (message, {"value": shown, "max": TEXT_MAX} | values)

    def url(self, **changes: str | None) -> str:
        """This list's address with `changes` (None: left out), from the first page unless `after` is given."""
        params = {k: v for k, v in self.typed.items() if v and k not in self.errors} | {"after": None} | changes
        query = urlencode({k: v for k, v in params.items() if v})
        return "/claims" + (f"?{query}" if query else "")


def read_filters(params: Mapping[str, str], zone: ZoneInfo, policies: list[str]) -> Filters:
    """The filters in `params` (a query string); dates are days in `zone`."""
    filters = Filters(typed={name: params.get(name, "").strip() for name in FIELDS})
    typed = filters.typed
    where: dict[str, Any] = {}
    for name in ("q", "assignee"):
        if len(typed[name]) > TEXT_MAX:
            filters.fail(name, TOO_LONG)
        elif typed[name]:
            where["search" if name == "q" else name] = typed[name]
    for name, known, message in (
        ("state", STATES, N_("there is no state “%(value)s”")),
        ("policy", policies, N_("there is no policy “%(value)s”")),
        ("channel", CHANNELS, N_("there is no channel “%(value)s”")),
    ):
        if typed[name] and typed[name] not in known:
            filters.fail(name, message)
        elif typed[name]:
            where[name] = typed[name]
    for name in ("overdue", "escalated"):
        answer = typed[name].lower()
        if answer and answer not in YES | NO:
            filters.fail(name, NOT_YES_OR_NO)
        elif answer:
            where[name] = answer in YES
    days: dict[str, date] = {}
    for name in ("opened_from", "opened_to"):
        if not typed[name]:
            continue
        try:
            days[name] = date.fromisoformat(typed[name]) if ISO_DAY.fullmatch(typed[name]) else None
        except ValueError:
            pass
        if days.get(name) is None:
            filters.fail(name, NOT_A_DATE)
        elif not FIRST_DAY <= days[name] <= LAST_DAY:
            filters.fail(name, N_("“%(value)s” is too far from today"))
            del days[name]
    first, last = days.get("opened_from"), days.get("opened_to")
    if first and last and last < first:
        filters.fail("opened_to", N_("“%(value)s” is before the first day, %(first)s"), first=first.isoformat())
        last = None
    if first:  # days in the viewer's time zone
        where["opened_from"] = datetime.combine(first, time(), zone).astimezone(UTC)
    if last:
        where["opened_before"] = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    filters.where = ClaimFilter(**where)
    if token := params.get("after"):
        try:
            filters.after = PageKey.parse(token)
        except ValueError:
            filters.page_error = N_("that page link is out of date; this is the first page")
    return filters


def time_left(due: datetime | None, now: datetime) -> tuple[str, dict[str, int]] | None:
    """How long until `due`, or since: a short text to translate and its numbers."""
    if due is None:
        return None
    seconds = (due - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    span = {"days": minutes // 1440, "hours": minutes // 60 % 24, "minutes": minutes % 60}
    if seconds >= 0:
        if span["days"]:
            return N_("in %(days)d d %(hours)d h"), span
        return (N_("in %(hours)d h"), span) if span["hours"] else (N_("in %(minutes)d min"), span)
    if span["days"]:
        return N_("%(days)d d %(hours)d h overdue"), span
    return (N_("%(hours)d h overdue"), span) if span["hours"] else (N_("%(minutes)d min overdue"), span)


@router.get("/claims")
def claims_list(request: Request, user: UserRow = Depends(role(*CAN_READ))) -> Response:
    policies = policy_names(request.app.state.settings.policy_dir)
    filters = read_filters(request.query_params, ZoneInfo(user.timezone), policies)
    page, counts = list_view(request.app.state.reader, filters.where, filters.after)
    now = datetime.now(UTC)
    rows = [(row, time_left(row.due_at, now), row.overdue or (row.due_at is not None and row.due_at < now))
            for row in page.rows]  # fmt: skip
    state = filters.where.state
    total = counts.get(state, 0) if state else sum(counts.values())
    target = request.headers.get("hx-target") if request.headers.get("hx-request") else None
    template = {"claims-results": "claims_list_results.html", "claims-page": "claims_list_page.html"}
    response = render(
        request, template.get(target, "claims_list.html"), filters=filters, rows=rows, page=page, total=total,
        all_count=sum(counts.values()), counts=[(s, counts.get(s, 0)) for s in STATES if counts.get(s) or s == state],
        oob=target == "claims-results", fields=FIELDS, states=STATES, channels=CHANNELS, policies=policies,
    )  # fmt: skip
    response.headers["Vary"] = "HX-Request, HX-Target"  # one address, a page or a part of it
    return response
