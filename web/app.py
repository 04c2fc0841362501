"""The web app: `create_app(settings)`.

Middleware: security headers on every response; the signed session read on every request
(a new anonymous one when there is none). Errors become pages (or a short message for
htmx), never a traceback.
"""

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.client import Client

from claimflow.db import engine_for, migrate, reading_engine
from claimflow.settings import TASK_QUEUE, Settings
from web.deps import SignInRequired
from web.routes import ROUTERS
from web.routes.codec import CodecCors
from web.security import COOKIE, SecurityHeaders, Sessions, secret_key
from web.templating import render

log = logging.getLogger("claimflow.web")
STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings, client: Client | None = None, task_queue: str = TASK_QUEUE) -> FastAPI:
    """The web UI for `settings`; `client`: a Temporal client to use (default: connect on
    first use); `task_queue`: where new claims' workflows run."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        app.state.engine.dispose()
        app.state.reader.dispose()

    app = FastAPI(title="claimflow", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine_for(settings.database_url)
    migrate(app.state.engine)
    # Pages read through a read-only engine: on SQLite its reads take no write lock, so they
    # neither wait for nor hold up the worker's projection (the writing engine begins every
    # transaction IMMEDIATE).
    app.state.reader = reading_engine(settings.database_url)
    app.state.client = client
    app.state.task_queue = task_queue
    app.state.sessions = Sessions(secret_key(settings), secure=settings.public_url.startswith("https://"))

    @app.middleware("http")
    async def session(request: Request, call_next) -> Response:
        sessions: Sessions = request.app.state.sessions
        current = sessions.read(request.cookies.get(COOKIE))
        request.state.session = current or sessions.new()
        request.state.user = None
        request.state.locale = None
        response = await call_next(request)
        if current is None or request.state.session is not current:
            response.set_cookie(**sessions.cookie(request.state.session))
        return response

    app.add_middleware(SecurityHeaders)
    app.add_middleware(CodecCors, ui_url=settings.temporal_ui_url)  # CORS on /codec/ only, for Temporal's Web UI
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = "/signin?next=" + request.url.path
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("error on %s %s", request.method, request.url.path)
        return _error_page(request, 500, "something went wrong on our side; it is logged")

    return app


def _error_page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request"):
        return PlainTextResponse(message, status_code=status)
    return render(request, "error.html", status_code=status, status=status, message=message)


__all__ = ["HTTPException", "create_app"]
