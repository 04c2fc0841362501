"""Jinja2 pages: every template gets the signed-in user, the CSRF token, gettext (`_`,
`ngettext`) in the user's language, and formatters for dates and money in their time zone."""

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from models import permissions
from web.i18n import Formatter, translations

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page in the viewer's language and time zone."""
    user = getattr(request.state, "user", None)
    locale = getattr(request.state, "locale", None) or (user.locale if user else "en")
    tz = ZoneInfo(user.timezone) if user else ZoneInfo("UTC")
    catalogue = translations(locale)
    session = getattr(request.state, "session", None)
    html = env.get_template(template).render(
        request=request,
        user=user,
        locale=locale,
        csrf_token=session.csrf if session else "",
        _=catalogue.gettext,
        ngettext=catalogue.ngettext,
        fmt=Formatter(locale, tz),
        settings=request.app.state.settings,
        permissions=permissions,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
