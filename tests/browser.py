"""A real browser for the web UI's end-to-end tests: Debian's `chromium` driven by
Playwright (never a downloaded browser), against `claims up` started by the test — the
real dev server, worker and web app, as a newcomer runs them.

Screenshots go to artifacts/screenshots/ (CI keeps the folder)."""

import os
import re
import shutil
import subprocess
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from claimflow.settings import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium() -> str | None:
    return shutil.which("chromium")


@asynccontextmanager
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


def admin_password(banner: str) -> str:
    found = re.search(r"web UI user 'admin' created with password (\S+)", banner)
    assert found, banner
    return found.group(1)


def add_user(env: dict, name: str, role: str, password: str, locale: str = "en") -> None:
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "starter.py"), "user", "add", name, "--role", role, "--locale", locale,
         "--timezone", "Asia/Shanghai", "--password-stdin"],
        input=password + "\n", env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip


async def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def sign_in(page, base: str, name: str, password: str) -> None:
    await page.goto(f"{base}/signin")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(re.compile(r".*/claims.*"))


__all__ = ["admin_password", "add_user", "browser", "chromium", "os", "screenshot", "sign_in"]
