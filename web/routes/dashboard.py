"""The dashboard (every signed-in role): open claims per state and per policy, SLA breaches
and escalations per ISO week, the median time to resolve per policy and per remedy, the
oldest open claims. Figures from the read model (claimflow/dashboard.py, aggregated in
SQL), drawn as server-rendered SVG (web/charts.py), each with a table of the same numbers.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import Response

from claimflow.dashboard import Count, Median, dashboard
from web import charts
from web.deps import User
from web.i18n import N_
from web.templating import render

router = APIRouter()
NO_REMEDY = N_("no remedy")


def _count_bars(counts: list[Count], locale: str) -> list[charts.Bar]:
    return [charts.Bar(c.key, c.count, format_decimal(c.count, locale=locale)) for c in counts]


def _median_bars(medians: list[Median], locale: str) -> list[charts.Bar]:
    return [
        charts.Bar(m.key if m.key is not None else NO_REMEDY, m.days, format_decimal(m.days, "#,##0.0", locale=locale))
        for m in medians
    ]


@router.get("/dashboard")
def show(request: Request, user: User) -> Response:
    locale = request.state.locale or "en"
    figures = dashboard(request.app.state.reader, datetime.now(UTC), ZoneInfo(user.timezone))
    return render(
        request,
        "dashboard.html",
        figures=figures,
        charts=charts,
        by_state=_count_bars(figures.by_state, locale),
        by_policy=_count_bars(figures.by_policy, locale),
        resolve_by_policy=_median_bars(figures.resolve_by_policy, locale),
        resolve_by_remedy=_median_bars(figures.resolve_by_remedy, locale),
    )
