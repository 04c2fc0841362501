"""FastAPI dependencies: the signed-in user, role checks, CSRF, the database and Temporal.

Every route states what it needs with one of these; a route without `signed_in` (or
`role`) is public, and only sign-in and the customer's quote page are.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine
from temporalio.client import Client

from claimflow.temporal import TemporalUnreachable, connect
from claimflow.users import get_user
from models.enums import UserRole
from models.read_model import UserRow
from web.security import CSRF_FIELD, CSRF_HEADER, password_stamp, same_token


class SignInRequired(Exception):
    """Not signed in: a page redirects to the sign-in form, htmx gets a redirect header."""


def engine(request: Request) -> Engine:
    return request.app.state.engine


def reader(request: Request) -> Engine:
    """The read-only engine pages read lists, counts and users through."""
    return request.app.state.reader


async def temporal(request: Request) -> Client:
    """The app's Temporal client, connected on first use (and again after a failure)."""
    state = request.app.state
    if state.client is None:
        try:
            state.client = await connect(state.settings)
        except TemporalUnreachable as err:
            raise HTTPException(503, str(err)) from None
    return state.client


def signed_in(request: Request) -> UserRow:
    session = request.state.session
    user = get_user(request.app.state.reader, session.user) if session.user else None
    if user is None or user.disabled or not same_token(session.stamp, password_stamp(user.password_hash)):
        raise SignInRequired()  # unknown, disabled, or the password changed since this session began
    request.state.user = user
    request.state.locale = user.locale
    return user


def role(*roles: UserRole) -> Callable[..., UserRow]:
    """The signed-in user, who must have one of `roles` (403 otherwise)."""
    allowed = {r.value for r in roles}

    def check(user: Annotated[UserRow, Depends(signed_in)]) -> UserRow:
        if user.role not in allowed:
            raise HTTPException(403, "your role may not do this")
        return user

    return check


async def csrf(request: Request) -> None:
    """A state-changing request carries the session's CSRF token (403 otherwise)."""
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        given = (await request.form()).get(CSRF_FIELD)
    if not same_token(given if isinstance(given, str) else None, request.state.session.csrf):
        raise HTTPException(403, "the form is out of date or was not sent by claimflow (CSRF); reload the page")


User = Annotated[UserRow, Depends(signed_in)]
