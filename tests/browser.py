"""A real browser for the web UI's end-to-end tests: Debian's `chromium` driven by
Playwright (never a downloaded browser), against `claims up` started by the test — the
real dev server, worker and web app, as a newcomer runs them (or, when a test needs
Temporal's time-skipping server, the app served in-process: tests/test_web_claim.py's
`serving`).

Screenshots go to artifacts/screenshots/ (CI keeps the folder)."""

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
STATE = ".claim-summary .badge.state"  # the claim page's state


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
    """`claims user add` against the stack's read model."""
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


def csp_violations(page) -> list[str]:
    """The Content Security Policy violations the page will report (a list that fills up)."""
    blocked: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
    return blocked


async def new_page(chrome, **context_options):
    """A page of a new browser context (its own cookies), and the CSP violations it reports."""
    context = await chrome.new_context(**context_options)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    return page, csp_violations(page)


async def signed_in_page(chrome, base: str, name: str, password: str, **context_options):
    """`new_page` with `name` signed in."""
    page, blocked = await new_page(chrome, **context_options)
    await sign_in(page, base, name, password)
    return page, blocked


async def csrf_token(page) -> str:
    """The session's CSRF token, from the page's meta tag (what app.js gives htmx)."""
    return await page.locator('meta[name="csrf-token"]').get_attribute("content")


def action_form(page, action: str):
    """The claim page's form for `action`."""
    return page.locator(f'form.action-form[data-action="{action}"]')


async def submit(page, form, button: str = "button[type=submit]") -> None:
    """Submit `form` with its `button`, as a user clicks it, and wait for the page it leads to."""
    async with page.expect_navigation():
        await form.locator(button).click()


async def do(page, action: str, **fields: str | bool) -> None:
    """Fill the claim page's form for `action` (text, a select's value, or a checkbox for a
    bool) and submit it; the page it leads to must not show a refusal or a field error."""
    form = action_form(page, action)
    for name, value in fields.items():
        field = form.locator(f'[name="{name}"]')
        tag = await field.evaluate("element => element.tagName")
        if isinstance(value, bool):
            await field.set_checked(value)
        elif tag == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await submit(page, form)
    problems = page.locator("#actions [role=alert], #actions .field-error")
    assert await problems.count() == 0, await problems.all_inner_texts()

