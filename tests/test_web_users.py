"""The admin's users page and every user's own settings (web/routes/users.py)."""

import html

import pytest

from claimflow.db import engine_for
from claimflow.users import get_user
from tests.web_support import PASSWORD, csrf_of

NEW = {"name": "li.na", "role": "supervisor", "locale": "zh_Hans_CN", "timezone": "Asia/Shanghai",
       "email": "li.na@example.com", "password": "a long enough password"}  # fmt: skip


async def sign_in(web, name: str, password: str):
    client = web.anonymous()
    token = await csrf_of(client, "/signin")
    response = await client.post("/signin", data={"name": name, "password": password, "csrf_token": token})
    return client, response.status_code


def user_row(web, name: str):
    engine = engine_for(web.settings.database_url)
    try:
        return get_user(engine, name)
    finally:
        engine.dispose()


async def test_the_admin_sees_the_users_and_adds_one_who_can_sign_in(web):
    root = await web.as_user("root")
    page = await root.get("/users")
    assert page.status_code == 200
    for name in ("amy", "sam", "aud", "root"):
        assert f"<td>{name}</td>" in page.text
    assert "Asia/Shanghai" in page.text and "active" in page.text

    added = await root.post("/users", data=NEW | {"csrf_token": root.csrf})
    assert added.status_code == 303
    listed = await root.get(added.headers["location"])
    assert "<td>li.na</td>" in listed.text and "User li.na added" in listed.text
    row = user_row(web, "li.na")
    assert [row.role, row.locale, row.timezone, row.email] == [NEW[k] for k in ("role", "locale", "timezone", "email")]
    client, status = await sign_in(web, "li.na", NEW["password"])
    assert status == 303
    assert '<html lang="zh-Hans">' in (await client.get("/me")).text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "li na!"}, "name", "user name 'li na!': 1-64 letters"),
        ({"name": "amy"}, "name", "user amy already exists"),
        ({"password": "short"}, "password", "a password has 10 to 256 characters; this one has 5"),
        ({"timezone": "Mars/Base"}, "timezone", "time zone 'Mars/Base' is not known"),
        ({"email": "not an address"}, "email", "e-mail 'not an address' does not look like an address"),
    ],
)
async def test_bad_input_is_named_beside_its_field_and_nothing_typed_is_lost(web, changes, field, message):
    root = await web.as_user("root")
    typed = NEW | changes
    page = await root.post("/users", data=typed | {"csrf_token": root.csrf})
    assert page.status_code == 400
    text = html.unescape(page.text)
    assert f'id="{field}-error" role="alert">{message}' in text
    assert text.count('class="field-error"') == 1
    for name in ("name", "timezone", "email"):
        assert f'name="{name}" value="{typed[name]}"' in text
    assert '<option value="supervisor" selected>' in text and '<option value="zh_Hans_CN" selected>' in text
    if field != "password":  # the initial password stays too, unless it is what was wrong
        assert f'value="{NEW["password"]}"' in text
    else:
        assert 'name="password" type="password" value=""' in text
    assert user_row(web, typed["name"]) is None or typed["name"] == "amy"


@pytest.mark.parametrize("who", ["amy", "sam", "aud"])
async def test_only_an_admin_manages_users(web, who):
    client = await web.as_user(who)
    assert (await client.get("/users")).status_code == 403
    assert (await client.post("/users", data=NEW | {"csrf_token": client.csrf})).status_code == 403
    assert (await client.post("/users/amy/disable", data={"csrf_token": client.csrf})).status_code == 403
    assert user_row(web, "li.na") is None and not user_row(web, "amy").disabled
    assert "/users" not in (await client.get("/me")).text  # no link to the page either


async def test_a_post_without_csrf_is_forbidden(web):
    root = await web.as_user("root")
    assert (await root.post("/users", data=NEW)).status_code == 403
    assert (await root.post("/users/amy/disable")).status_code == 403
    assert user_row(web, "li.na") is None and not user_row(web, "amy").disabled


async def test_disabling_signs_the_user_out_and_enabling_lets_them_back(web):
    root, amy = await web.as_user("root"), await web.as_user("amy")
    assert (await amy.get("/me")).status_code == 200
    response = await root.post("/users/amy/disable", data={"csrf_token": root.csrf})
    assert response.status_code == 303 and "User amy disabled" in (await root.get(response.headers["location"])).text
    assert (await amy.get("/me")).status_code == 303  # signed out at the next request
    assert (await sign_in(web, "amy", PASSWORD))[1] == 401
    assert (await root.post("/users/amy/enable", data={"csrf_token": root.csrf})).status_code == 303
    assert (await sign_in(web, "amy", PASSWORD))[1] == 303
    assert (await root.post("/users/nobody/disable", data={"csrf_token": root.csrf})).status_code == 404


async def test_an_admin_cannot_disable_themself(web):
    root = await web.as_user("root")
    page = await root.get("/users")
    assert 'action="/users/root/disable"' not in page.text and 'action="/users/amy/disable"' in page.text
    refused = await root.post("/users/root/disable", data={"csrf_token": root.csrf})
    assert refused.status_code == 400 and "you cannot disable yourself" in refused.text
    assert not user_row(web, "root").disabled
    assert (await root.get("/users")).status_code == 200


async def test_my_settings_change_the_language_and_time_zone(web):
    amy = await web.as_user("amy")
    page = await amy.get("/me")
    assert page.status_code == 200 and '<html lang="en">' in page.text
    bad = await amy.post("/me", data={"locale": "zh_Hans_CN", "timezone": "Nowhere/City", "csrf_token": amy.csrf})
    assert bad.status_code == 400 and "time zone 'Nowhere/City' is not known" in html.unescape(bad.text)
    assert 'value="Nowhere/City"' in bad.text and '<option value="zh_Hans_CN" selected>' in bad.text
    saved = await amy.post("/me", data={"locale": "zh_Hans_CN", "timezone": "Europe/Berlin", "csrf_token": amy.csrf})
    assert saved.status_code == 303
    after = await amy.get(saved.headers["location"])
    assert '<html lang="zh-Hans">' in after.text and 'value="Europe/Berlin"' in after.text
    row = user_row(web, "amy")
    assert (row.locale, row.timezone) == ("zh_Hans_CN", "Europe/Berlin")


async def test_my_settings_change_the_password(web):
    amy = await web.as_user("amy")
    wrong = await amy.post("/me/password", data={"current": "not it at all", "new": "a brand new password",
                                                 "csrf_token": amy.csrf})  # fmt: skip
    assert wrong.status_code == 400 and "this is not your current password" in wrong.text
    short = await amy.post("/me/password", data={"current": PASSWORD, "new": "short", "csrf_token": amy.csrf})
    assert short.status_code == 400 and "this one has 5" in short.text
    assert (await sign_in(web, "amy", PASSWORD))[1] == 303  # nothing changed yet

    changed = await amy.post("/me/password", data={"current": PASSWORD, "new": "a brand new password",
                                                   "csrf_token": amy.csrf})  # fmt: skip
    assert changed.status_code == 303
    assert "Your password is changed" in (await amy.get(changed.headers["location"])).text  # still signed in
    assert (await sign_in(web, "amy", PASSWORD))[1] == 401  # the old one stops working
    assert (await sign_in(web, "amy", "a brand new password"))[1] == 303


async def test_my_settings_need_sign_in(web):
    client = web.anonymous()
    assert (await client.get("/me")).status_code == 303
    assert (await client.get("/users")).status_code == 303
