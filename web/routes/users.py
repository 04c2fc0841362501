"""Users: the admin's page (GET /users: list, add, disable, enable) and every signed-in
user's own settings (GET/POST /me: language and time zone; POST /me/password).

Users live in the read-model database (claimflow/users.py). A disabled user is signed out
at their next request (web/deps.py checks on every request); an admin cannot disable
themself, so there is always an admin left who can undo a mistake.
"""

import re
from urllib.parse import urlencode
from dataclasses import dataclass, field
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from claimflow.claims import ClaimError
from claimflow.users import LOCALES, add_user, authenticate, check_name, check_password, get_user, list_users
from claimflow.users import set_disabled, set_password, set_preferences
from models.enums import UserRole
from models.permissions import CAN_MANAGE_USERS
from models.read_model import UserRow
from web.deps import User, csrf, role
from web.i18n import N_
from web.templating import render

router = APIRouter()
Admin = Annotated[UserRow, Depends(role(*CAN_MANAGE_USERS))]

LANGUAGES = {"en": N_("English"), "zh_Hans_CN": N_("Simplified Chinese")}
assert set(LANGUAGES) == set(LOCALES)
ROLES = [r.value for r in UserRole]
COMMON_ZONES = (
    "Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore", "Asia/Tokyo", "Asia/Kolkata",
    "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York", "America/Chicago",
    "America/Los_Angeles", "Australia/Sydney", "UTC",
)  # fmt: skip
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
TEXT_MAX = 300
NO_STORE = {"Cache-Control": "no-store"}  # forms may carry a typed password back


@dataclass(frozen=True)
class Message:
    """A message on the page (beside a field, or a notice): a msgid, and the values it names."""

    text: str
    values: dict[str, str] = field(default_factory=dict)


def _said(err: ClaimError) -> Message:
    return Message(str(err))  # claimflow.users' own words (they name what was typed)


def check_timezone(timezone: str) -> Message | None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return Message(N_("time zone %(typed)s is not known; e.g. Asia/Shanghai, Europe/Berlin, UTC"),
                       {"typed": repr(timezone)})  # fmt: skip
    return None


def check_locale(locale: str) -> Message | None:
    if locale in LOCALES:
        return None
    return Message(N_("language %(typed)s: choose one of the list"), {"typed": repr(locale)})


# --- the admin's page -----------------------------------------------------------------


def _users_page(request: Request, admin: UserRow, status_code: int = 200, **context) -> Response:
    form = context.pop("form", None) or {"name": "", "role": UserRole.AGENT.value, "locale": "en",
                                          "timezone": admin.timezone, "email": "", "password": ""}  # fmt: skip
    response = render(
        request, "users.html", status_code=status_code, users=list_users(request.app.state.reader), form=form,
        errors=context.pop("errors", {}), roles=ROLES, languages=LANGUAGES, zones=COMMON_ZONES, **context,
    )  # fmt: skip
    response.headers.update(NO_STORE)
    return response


@router.get("/users")
def users_page(request: Request, admin: Admin, done: str | None = None, who: str | None = None) -> Response:
    notices = {"added": N_("User %(name)s added: they can sign in now."), "disabled": N_("User %(name)s disabled."),
               "enabled": N_("User %(name)s enabled.")}  # fmt: skip
    known = done in notices and who and get_user(request.app.state.engine, who) is not None  # no made-up notices
    notice = Message(notices[done], {"name": who}) if known else None
    return _users_page(request, admin, notice=notice)


@router.post("/users", dependencies=[Depends(csrf)])
def add_user_form(
    request: Request,
    admin: Admin,
    name: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    role: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    locale: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    timezone: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    email: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    password: Annotated[str, Form(max_length=TEXT_MAX)] = "",
) -> Response:
    name, timezone, email = name.strip(), timezone.strip(), email.strip()
    form = {"name": name, "role": role, "locale": locale, "timezone": timezone, "email": email, "password": password}
    errors: dict[str, Message] = {}
    try:
        check_name(name)
    except ClaimError as err:
        errors["name"] = _said(err)
    try:
        check_password(password)
    except ClaimError as err:
        errors["password"] = _said(err)
        form["password"] = ""
    if role not in ROLES:
        errors["role"] = Message(N_("role %(typed)s: choose one of the list"), {"typed": repr(role)})
    if problem := check_locale(locale):
        errors["locale"] = problem
    if problem := check_timezone(timezone):
        errors["timezone"] = problem
    if email and not EMAIL.match(email):
        errors["email"] = Message(N_("e-mail %(typed)s does not look like an address"), {"typed": repr(email)})
    if not errors:
        try:
            add_user(request.app.state.engine, name, UserRole(role), password, locale=locale, timezone=timezone,
                     email=email or None)  # fmt: skip
        except ClaimError as err:  # the name is taken
            errors["name"] = _said(err)
    if errors:
        return _users_page(request, admin, 400, form=form, errors=errors)
    return RedirectResponse("/users?" + urlencode({"done": "added", "who": name}), status_code=303)


@router.post("/users/{name}/disable", dependencies=[Depends(csrf)])
def disable_user(request: Request, admin: Admin, name: str) -> Response:
    if name == admin.name:
        return _users_page(request, admin, 400, problem=Message(N_("you cannot disable yourself; ask another admin")))
    return _set_disabled(request, name, True)


@router.post("/users/{name}/enable", dependencies=[Depends(csrf)])
def enable_user(request: Request, admin: Admin, name: str) -> Response:
    return _set_disabled(request, name, False)


def _set_disabled(request: Request, name: str, disabled: bool) -> Response:
    try:
        set_disabled(request.app.state.engine, name, disabled)
    except ClaimError:
        raise HTTPException(404, "no such user") from None
    done = "disabled" if disabled else "enabled"
    return RedirectResponse("/users?" + urlencode({"done": done, "who": name}), status_code=303)


# --- my settings ----------------------------------------------------------------------


def _me_page(request: Request, user: UserRow, status_code: int = 200, **context) -> Response:
    form = context.pop("form", None) or {"locale": user.locale, "timezone": user.timezone}
    response = render(request, "users_me.html", status_code=status_code, form=form, errors=context.pop("errors", {}),
                      languages=LANGUAGES, zones=COMMON_ZONES, **context)  # fmt: skip
    response.headers.update(NO_STORE)
    return response


@router.get("/me")
def my_settings(request: Request, user: User, done: str | None = None) -> Response:
    notices = {"saved": N_("Your settings are saved."), "password": N_("Your password is changed.")}
    return _me_page(request, user, notice=Message(notices[done]) if done in notices else None)


@router.post("/me", dependencies=[Depends(csrf)])
def save_my_settings(
    request: Request,
    user: User,
    locale: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    timezone: Annotated[str, Form(max_length=TEXT_MAX)] = "",
) -> Response:
    timezone = timezone.strip()
    errors = {key: p for key, p in (("locale", check_locale(locale)), ("timezone", check_timezone(timezone))) if p}
    if errors:
        return _me_page(request, user, 400, form={"locale": locale, "timezone": timezone}, errors=errors)
    set_preferences(request.app.state.engine, user.name, locale, timezone)
    return RedirectResponse("/me?done=saved", status_code=303)


@router.post("/me/password", dependencies=[Depends(csrf)])
def change_my_password(
    request: Request,
    user: User,
    current: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    new: Annotated[str, Form(max_length=TEXT_MAX)] = "",
) -> Response:
    engine = request.app.state.engine
    errors: dict[str, Message] = {}
    if authenticate(engine, user.name, current) is None:
        errors["current"] = Message(N_("this is not your current password"))
    try:
        check_password(new)
    except ClaimError as err:
        errors["new"] = _said(err)
    if not errors:
        set_password(engine, user.name, new)
        changed = get_user(engine, user.name)
        assert changed is not None
        # a fresh session and CSRF token, stamped with the new password: every other session ends
        request.state.session = request.app.state.sessions.new(user.name, changed.password_hash)
        return RedirectResponse("/me?done=password", status_code=303)
    return _me_page(request, user, 400, password_errors=errors)

