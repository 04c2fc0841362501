"""The web UI in a real browser (tests/browser.py): Debian's chromium, Playwright, and
`claims up` started by the test with the real dev server, worker and web app."""

import pytest

from tests.browser import add_user, admin_password, browser, chromium, screenshot, sign_in
from tests.test_dev_stack import DevStack

pytestmark = pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """`claims up` for the module's tests, with an agent, a supervisor and an auditor."""
    data_dir = tmp_path_factory.mktemp("stack")
    stack = DevStack(data_dir)
    banner = stack.start()
    stack.admin_password = admin_password(banner)
    stack.base = f"http://127.0.0.1:{stack.web_port}"
    for name, role in (("amy", "agent"), ("sam", "supervisor"), ("aud", "auditor")):
        add_user(stack.env, name, role, PASSWORD)
    yield stack
    stack.interrupt()


async def test_the_first_admin_signs_in_with_the_printed_password(running):
    async with browser() as chrome:
        page = await chrome.new_page()
        await sign_in(page, running.base, "admin", running.admin_password)
        assert (await page.locator("header .who span").inner_text()) == "admin · admin"
        await screenshot(page, "claims-list-empty")
