"""The web UI's sign-in, sessions, CSRF and security headers (web/security.py, web/deps.py)."""

import pytest

from claimflow.claims import ClaimError
from claimflow.db import engine_for
from claimflow.users import add_user, authenticate, ensure_first_admin, list_users, set_disabled
from models.enums import UserRole
from tests.web_support import PASSWORD, csrf_of
from web.security import COOKIE


async def test_a_page_needs_sign_in_and_sign_in_leads_back(web):
    client = web.anonymous()
    response = await client.get("/claims?state=repairing")
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=/claims"
    token = await csrf_of(client, "/signin")
    wrong = await client.post("/signin", data={"name": "amy", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    right = await client.post(
        "/signin", data={"name": "amy", "password": PASSWORD, "csrf_token": token, "next": "/dashboard"}
    )
    assert right.status_code == 303 and right.headers["location"] == "/dashboard"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
async def test_sign_in_never_redirects_off_site(web, target):
    client = web.anonymous()
    token = await csrf_of(client, "/signin")
    response = await client.post("/signin", data={"name": "amy", "password": PASSWORD, "csrf_token": token, "next": target})
    assert response.headers["location"] == "/claims"


async def test_sign_in_without_the_csrf_token_is_forbidden(web):
    client = web.anonymous()
    await client.get("/signin")
    response = await client.post("/signin", data={"name": "amy", "password": PASSWORD})
    assert response.status_code == 403 and "CSRF" in response.text
    response = await client.post("/signin", data={"name": "amy", "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403


async def test_signing_in_replaces_the_session_and_its_token(web):
    client = web.anonymous()
    before = await csrf_of(client, "/signin")
    await client.post("/signin", data={"name": "amy", "password": PASSWORD, "csrf_token": before})
    after = await csrf_of(client, "/signin")
    assert after != before  # no session fixation: the anonymous token is gone


async def test_the_session_cookie_is_signed_httponly_and_samesite(web):
    client = web.anonymous()
    response = await client.get("/signin")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    client.cookies.set(COOKIE, client.cookies[COOKIE][:-3] + "xyz")  # tampered: a new anonymous session
    again = await client.get("/claims")
    assert again.status_code == 303


async def test_every_response_carries_the_security_headers(web):
    client = web.anonymous()
    for path in ("/signin", "/static/app.css", "/nowhere"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_inline_script_or_style_in_the_sign_in_page(web):
    page = (await web.anonymous().get("/signin")).text
    assert "<script>" not in page and "<style" not in page and " style=" not in page and "onclick" not in page


async def test_a_disabled_user_is_signed_out_at_the_next_request(web):
    amy = await web.as_user("amy")
    assert (await amy.get("/signin")).status_code == 200
    set_disabled(engine_for(web.settings.database_url), "amy")
    assert (await amy.get("/claims")).status_code == 303


async def test_sign_out(web):
    amy = await web.as_user("amy")
    response = await amy.post("/signout", data={"csrf_token": amy.csrf})
    assert response.status_code == 303
    assert (await amy.get("/claims")).status_code == 303


async def test_an_unknown_page_is_a_page_not_a_traceback(web):
    response = await (await web.as_user("amy")).get("/no/such/page")
    assert response.status_code == 404 and "Traceback" not in response.text and "<html" in response.text


# --- users (claimflow/users.py) ------------------------------------------------------


def test_users_are_stored_with_argon2_and_checked(tmp_path):
    engine = engine_for(f"sqlite:///{tmp_path / 'u.db'}")
    from claimflow.db import migrate

    migrate(engine)
    row = add_user(engine, "li.wei", UserRole.SUPERVISOR, "a long password", locale="zh_Hans_CN")
    assert row.password_hash.startswith("$argon2id$") and "a long password" not in row.password_hash
    assert authenticate(engine, "li.wei", "a long password").name == "li.wei"
    assert authenticate(engine, "li.wei", "a long passwore") is None
    assert authenticate(engine, "nobody", "a long password") is None
    with pytest.raises(ClaimError, match="already exists"):
        add_user(engine, "li.wei", UserRole.AGENT, "another password")
    with pytest.raises(ClaimError, match="10 to 256 characters"):
        add_user(engine, "short", UserRole.AGENT, "short")
    with pytest.raises(ClaimError, match="time zone 'Mars/Base'"):
        add_user(engine, "tz", UserRole.AGENT, "a long password", timezone="Mars/Base")
    assert ensure_first_admin(engine) is None  # there are users already


def test_the_first_start_creates_an_admin_once(tmp_path):
    from claimflow.db import migrate

    engine = engine_for(f"sqlite:///{tmp_path / 'u.db'}")
    migrate(engine)
    password = ensure_first_admin(engine)
    assert password and authenticate(engine, "admin", password).role == "admin"
    assert ensure_first_admin(engine) is None
    assert [u.name for u in list_users(engine)] == ["admin"]


async def test_a_password_change_ends_the_users_other_sessions(web):
    from claimflow.users import set_password

    amy = await web.as_user("amy")
    assert (await amy.get("/claims")).status_code == 200
    set_password(engine_for(web.settings.database_url), "amy", "a brand new password")  # e.g. from another session
    response = await amy.get("/claims")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
