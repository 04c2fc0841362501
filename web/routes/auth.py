"""Sign in and out; the home page sends a signed-in user to the claims list."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from claimflow.users import authenticate
from web.deps import csrf, signed_in
from web.i18n import N_
from web.templating import render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no //host, no scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/claims"
    return target


@router.get("/")
def home(request: Request) -> Response:
    return RedirectResponse("/claims", status_code=303)


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    return render(request, "signin.html", next=_safe_next(next), name="", error=None)


@router.post("/signin", dependencies=[Depends(csrf)])
def signin(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=300)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/claims",
) -> Response:
    user = authenticate(request.app.state.engine, name.strip(), password)
    if user is None:
        return render(
            request, "signin.html", status_code=401, next=_safe_next(next), name=name, error=N_("wrong name or password")
        )
    request.state.session = request.app.state.sessions.new(user.name, user.password_hash)  # new session and token
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/signout", dependencies=[Depends(signed_in), Depends(csrf)])
def signout(request: Request) -> Response:
    request.state.session = request.app.state.sessions.new()
    return RedirectResponse("/signin", status_code=303)
