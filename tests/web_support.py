"""The web UI under test: the app over a temporary read model, a worker on the
time-skipping server (the `claims` fixture), and users of every role, each with their own
HTTP client (httpx2, in the test's event loop; no server, no threads)."""

import re
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from fastapi import FastAPI

from claimflow.db import engine_for
from claimflow.settings import REPO_ROOT, Settings
from claimflow.users import add_user
from models.enums import UserRole
from web.app import create_app

PASSWORD = "correct horse battery"
USERS = {"amy": UserRole.AGENT, "sam": UserRole.SUPERVISOR, "aud": UserRole.AUDITOR, "root": UserRole.ADMIN}
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def web_settings(data_dir: Path) -> Settings:
    return Settings(
        temporal_address="localhost:7233",
        temporal_namespace="default",
        data_dir=data_dir,
        policy_dir=REPO_ROOT / "policies",
        secret_key="test-secret-key-for-claimflow",
    )


@dataclass
class Web:
    app: FastAPI
    settings: Settings
    clients: dict[str, httpx2.AsyncClient] = field(default_factory=dict)

    def anonymous(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.app), base_url="http://claimflow.test", follow_redirects=False
        )

    async def as_user(self, name: str) -> httpx2.AsyncClient:
        """A client signed in as `name` (one of USERS), with its CSRF token in `.csrf`."""
        if name in self.clients:
            return self.clients[name]
        client = self.anonymous()
        token = await csrf_of(client, "/signin")
        response = await client.post("/signin", data={"name": name, "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.text
        client.csrf = await csrf_of(client, "/signin")  # the new session's token
        self.clients[name] = client
        return client

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


async def csrf_of(client: httpx2.AsyncClient, path: str) -> str:
    page = await client.get(path)
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def build_web(data_dir: Path, temporal_client, task_queue: str) -> Web:
    settings = web_settings(data_dir)
    app = create_app(settings, temporal_client, task_queue=task_queue)
    engine = engine_for(settings.database_url)
    for name, role in USERS.items():
        add_user(engine, name, role, PASSWORD, timezone="Asia/Shanghai")
    engine.dispose()
    return Web(app=app, settings=settings)
