"""Every route of the web UI against every role: who may, who gets 403, who is sent to
sign in. The table below is the expectation, taken from models/permissions.py; a route the
app has that the table does not list fails the test, so a new page must state its roles."""

import pytest
from fastapi.routing import APIRoute

from models.enums import UserRole
from models.permissions import CAN_MANAGE_USERS, CAN_OPEN_CLAIMS, CAN_READ, CAN_READ_MAIL, CAN_WORK_ESCALATIONS, may_act
from models.permissions import CAN_OPEN_COMPLAINTS, may_act_on_complaint
from tests.web_support import USERS
from web.routes import ROUTERS

PUBLIC = "public"
EVERYONE = frozenset(CAN_READ)


def acting(action: str) -> frozenset[UserRole]:
    return frozenset(role for role in UserRole if may_act(role, action))


def acting_on_complaints(action: str) -> frozenset[UserRole]:
    return frozenset(role for role in UserRole if may_act_on_complaint(role, action))


# (method, path pattern, concrete path, who may): {n} is a real claim, {c} a real complaint, {t} a link token.
ROUTES = [
    ("GET", "/", "/", PUBLIC),
    ("GET", "/signin", "/signin", PUBLIC),
    ("POST", "/signin", "/signin", PUBLIC),
    ("POST", "/signout", "/signout", EVERYONE),
    ("GET", "/claims", "/claims", EVERYONE),
    ("GET", "/claims/new", "/claims/new", CAN_OPEN_CLAIMS),
    ("GET", "/claims/new/fields", "/claims/new/fields", CAN_OPEN_CLAIMS),
    ("POST", "/claims/new", "/claims/new", CAN_OPEN_CLAIMS),
    ("GET", "/claims/{number}", "/claims/{n}", EVERYONE),
    ("GET", "/claims/{number}/live", "/claims/{n}/live", EVERYONE),
    ("GET", "/claims/{number}/audit", "/claims/{n}/audit", EVERYONE),
    ("GET", "/claims/{number}/audit.html", "/claims/{n}/audit.html", EVERYONE),
    ("POST", "/claims/{number}/actions/{action}", "/claims/{n}/actions/receive_parcel", acting("receive_parcel")),
    ("POST", "/claims/{number}/actions/{action}", "/claims/{n}/actions/extend_deadline", acting("extend_deadline")),
    ("GET", "/escalations", "/escalations", CAN_WORK_ESCALATIONS),
    ("POST", "/escalations/{number}/{action}", "/escalations/{n}/acknowledge_escalation", CAN_WORK_ESCALATIONS),
    ("GET", "/dashboard", "/dashboard", EVERYONE),
    ("GET", "/q/{token}", "/q/{t}", PUBLIC),
    ("POST", "/q/{token}", "/q/{t}", PUBLIC),
    ("GET", "/users", "/users", CAN_MANAGE_USERS),
    ("POST", "/users", "/users", CAN_MANAGE_USERS),
    ("POST", "/users/{name}/disable", "/users/nobody/disable", CAN_MANAGE_USERS),
    ("POST", "/users/{name}/enable", "/users/nobody/enable", CAN_MANAGE_USERS),
    ("GET", "/me", "/me", EVERYONE),
    ("POST", "/me", "/me", EVERYONE),
    ("POST", "/me/password", "/me/password", EVERYONE),
    ("GET", "/mailbox", "/mailbox", CAN_READ_MAIL),
    ("GET", "/mailbox/{number}", "/mailbox/1", CAN_READ_MAIL),
    ("GET", "/mailbox/{number}.eml", "/mailbox/1.eml", CAN_READ_MAIL),
    ("GET", "/complaints", "/complaints", EVERYONE),
    ("GET", "/complaints/new", "/complaints/new", CAN_OPEN_COMPLAINTS),
    ("POST", "/complaints/new", "/complaints/new", CAN_OPEN_COMPLAINTS),
    ("GET", "/complaints/{number}", "/complaints/{c}", EVERYONE),
    ("POST", "/complaints/{number}/act/{action}", "/complaints/{c}/act/record_reply",
     acting_on_complaints("record_reply")),
    ("POST", "/complaints/{number}/act/{action}", "/complaints/{c}/act/close_complaint",
     acting_on_complaints("close_complaint")),
    ("POST", "/codec/decode", "/codec/decode", EVERYONE),
    ("POST", "/codec/encode", "/codec/encode", EVERYONE),
]
API = {"/codec/decode", "/codec/encode"}  # anonymous gets 401 there, not the sign-in page
WHO = [None, *USERS]  # anonymous, then amy (agent), sam (supervisor), aud (auditor), root (admin)


def test_the_table_lists_every_route_of_the_app():
    routes = {
        (method, route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method != "HEAD"
    }
    assert routes == {(method, pattern) for method, pattern, _, _ in ROUTES}


@pytest.fixture(scope="module")
async def site(env, tmp_path_factory, changkong, figures):
    """One web app, worker and claim for the whole table (the requests change nothing that
    matters to another: actions are refused or fail validation)."""
    from tests.conftest import claims_on
    from tests.web_support import build_web

    data_dir = tmp_path_factory.mktemp("authorisation")
    async with claims_on(env, data_dir) as claims:
        web = build_web(data_dir, claims.client, claims.task_queue)
        web.claim = (await claims.open(changkong)).id
        web.complaint = await _complaint(claims, figures)
        yield web
        await web.close()


async def _complaint(claims, policy) -> str:
    """A complaint under `policy`, terminated with the claims."""
    from claimflow.complaints import complaint_input, new_complaint_number, open_complaint
    from models.complaint import ComplaintIntake

    intake = ComplaintIntake(
        complaint_number=new_complaint_number(), policy=policy.name, channel="phone",
        category=policy.complaints.categories[0].id, description="the paint peels",
        customer={"name": "Wang Fang", "contact": "+86 138 0000 0000"}, opened_by="reception",
    )  # fmt: skip
    handle = await open_complaint(claims.client, complaint_input(intake, policy, await claims.today(policy)),
                                  claims.task_queue)  # fmt: skip
    claims.opened.append(handle)
    return handle.id


@pytest.mark.parametrize("who", WHO, ids=lambda w: w or "anonymous")
@pytest.mark.parametrize(("method", "pattern", "path", "allowed"), ROUTES, ids=lambda v: v if isinstance(v, str) else "")
async def test_each_role_on_each_route(site, who, method, pattern, path, allowed):
    web = site
    path = path.replace("{n}", web.claim).replace("{c}", web.complaint).replace("{t}", "not-a-token")
    client = await web.as_user(who) if who else web.anonymous()
    token = getattr(client, "csrf", None)
    if token is None:  # anonymous: the session's token from the sign-in page
        from tests.web_support import csrf_of

        token = await csrf_of(client, "/signin")
    if method == "GET":
        response = await client.get(path)
    else:
        response = await client.post(path, data={"csrf_token": token})
    if path == "/signout" and who is not None:
        await web.clients.pop(who).aclose()  # that session is over: the next test signs in again
    signed_out = response.status_code == 303 and response.headers["location"].startswith("/signin?next=")
    if allowed == PUBLIC:
        assert response.status_code != 403 and not signed_out
    elif who is None:
        assert signed_out or (pattern in API and response.status_code == 401), (response.status_code, response.text[:200])
    elif USERS[who] in allowed:
        assert response.status_code != 403 and not signed_out, (response.status_code, response.text[:300])
    else:
        assert response.status_code == 403, (response.status_code, response.text[:300])
