"""Serving the web UI with uvicorn, inside `claims up` or alone (`claims web`)."""

import asyncio
import contextlib

import uvicorn
from temporalio.client import Client

from claimflow.settings import Settings
from claimflow.users import ensure_first_admin
from web.app import create_app


def first_admin_password(settings: Settings) -> str | None:
    """With no user yet: create `admin` and return its password, to be printed once."""
    from claimflow.db import engine_for, migrate

    engine = engine_for(settings.database_url)
    try:
        migrate(engine)
        return ensure_first_admin(engine)
    finally:
        engine.dispose()


async def serve_web(settings: Settings, stop: asyncio.Event, client: Client | None = None) -> None:
    """Serve until `stop` is set."""
    config = uvicorn.Config(
        create_app(settings, client),
        host=settings.web_host,
        port=settings.web_port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # `claims up` handles Ctrl-C for the whole stack
    task = asyncio.create_task(server.serve())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    await task
    stopped.cancel()
    if server.started is False and not stop.is_set():
        raise RuntimeError(f"the web UI could not listen on {settings.web_host}:{settings.web_port}")
