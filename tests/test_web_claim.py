"""The claim page (web/routes/claim_page.py): the live view, only the actions allowed now
as forms, actions sent as the workflow's updates with the signed-in user as `by`, refused
actions recorded, the page's own refresh, and who may do what."""

import asyncio
import contextlib
import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType

from claimflow.db import engine_for
from claimflow.refused import refused_attempts
from models.actions import ReceiveParcel, RecordInspection, SendQuote
from models.enums import ClaimState, UserRole
from models.permissions import allowed_for
from models.read_model import ClaimArchiveRow
from tests.browser import browser, chromium, sign_in
from tests.web_support import PASSWORD, USERS
from web.quote_links import read_token
from web.routes import claim_page

WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}
ACTION_FORM = re.compile(r'<form method="post" action="/claims/[^/"]+/actions/(\w+)"[^>]*data-action="(\w+)"')


def forms_on(page: str) -> list[str]:
    found = ACTION_FORM.findall(page)
    assert all(path == data for path, data in found)
    return [name for name, _ in found]


def form_of(page: str, action: str) -> str:
    """The HTML of one action's form."""
    start = page.index(f'data-action="{action}"')
    return page[start : page.index("</form>", start)]


async def changes_in_history(handle) -> int:
    """Events of the claim's history that are not workflow tasks: the time-skipping test
    server writes an empty workflow task even for an update its validator rejects."""
    return len([e async for e in handle.fetch_history_events() if e.event_type not in WORKFLOW_TASK_EVENTS])


async def post(client, number: str, action: str, **fields):
    data = {"csrf_token": client.csrf, **fields}
    return await client.post(f"/claims/{number}/actions/{action}", data=data)


async def test_a_repair_claim_is_driven_through_parcel_inspection_and_quote(web, claims, changkong):
    handle = await claims.open(changkong, bought_days_ago=300)  # out of the 180-day warranty: a paid repair
    amy = await web.as_user("amy")
    page = (await amy.get(f"/claims/{handle.id}")).text
    assert "awaiting_parcel" in page and forms_on(page)[:2] == ["record_customer_shipment", "receive_parcel"]
    assert "<script>" not in page and " style=" not in page and "<style" not in page  # the CSP allows none
    assert not re.search(r"<[^>]+\son[a-z]+=", page)

    done = await post(amy, handle.id, "receive_parcel", note="box dented")
    assert done.status_code == 303 and done.headers["location"] == f"/claims/{handle.id}?done=receive_parcel"
    page = (await amy.get(done.headers["location"])).text
    assert "inspecting" in page and "Done: receive parcel" in page and "box dented" in page
    assert forms_on(page)[0] == "record_inspection"
    assert 'name="fault"' in form_of(page, "record_inspection")

    done = await post(amy, handle.id, "record_inspection", fault="quality_fault", notes="power board")
    assert done.status_code == 303
    page = (await amy.get(f"/claims/{handle.id}")).text
    assert "awaiting_quote" in page and "send_quote" in forms_on(page)
    quote_form = form_of(page, "send_quote")
    assert quote_form.count('name="lines.item"') >= 3 and quote_form.count('name="lines.amount"') >= 3

    done = await amy.post(
        f"/claims/{handle.id}/actions/send_quote",
        data={"csrf_token": amy.csrf, "lines.item": ["spare parts", "maintenance", ""],
              "lines.amount": ["80", "40.50", ""]},
    )  # fmt: skip
    assert done.status_code == 303
    view = await claims.view(handle)
    assert view.state is ClaimState.AWAITING_APPROVAL and str(view.quote.total) == "120.50"
    assert [e.by for e in view.timeline if e.kind == "action"] == ["amy", "amy", "amy"]  # the signed-in user
    page = (await amy.get(f"/claims/{handle.id}")).text
    assert "awaiting_approval" in page and "spare parts" in page
    link = re.search(r'value="(http://[^"]+/q/([^"]+))"', page)
    assert link and link.group(1).startswith(web.settings.public_url + "/q/")
    assert read_token(web.settings.secret_key, link.group(2))[0] == handle.id
    aud = await web.as_user("aud")
    assert "/q/" not in (await aud.get(f"/claims/{handle.id}")).text  # the auditor cannot answer for the customer


async def test_a_wrong_state_action_is_refused_changes_nothing_and_is_recorded(web, claims, changkong):
    handle = await claims.open(changkong)
    await claims.settle(handle)
    before = await changes_in_history(handle)
    amy = await web.as_user("amy")
    refused = await post(amy, handle.id, "approve_quote", note="customer said yes")
    assert refused.status_code == 409
    assert "approve_quote is not allowed while the claim is awaiting_parcel" in refused.text
    await claims.settle(handle)
    assert await changes_in_history(handle) == before
    assert (await claims.view(handle)).state is ClaimState.AWAITING_PARCEL
    rows = refused_attempts(engine_for(web.settings.database_url), handle.id)
    assert [(r.action, r.by) for r in rows] == [("approve_quote", "amy")]
    assert "not allowed while the claim is awaiting_parcel" in rows[0].reason
    await claims.do(handle, ReceiveParcel(by="amy"))  # an action done does show in the history
    await claims.settle(handle)
    assert await changes_in_history(handle) > before
    page = (await (await web.as_user("sam")).get(f"/claims/{handle.id}")).text
    refused_section = page[page.index("Refused attempts") :]
    assert "approve quote" in refused_section and "amy" in refused_section


async def test_a_refusal_by_the_claim_is_shown_beside_its_form(web, claims, changkong):
    handle = await claims.open(changkong)
    await claims.do(handle, ReceiveParcel(by="amy"))
    amy = await web.as_user("amy")
    # allowed in this state, refused by the claim's validator: changkong's misuse is for returns only
    refused = await post(amy, handle.id, "record_inspection", fault="excluded_condition", exclusions="misuse")
    assert refused.status_code == 409
    form = form_of(refused.text, "record_inspection")
    assert re.search(r'class="error refusal"[^>]*>misuse applies to return claims', form)
    assert 'value="misuse" checked' in form and '<option value="excluded_condition" selected>' in form
    recorded = refused_attempts(engine_for(web.settings.database_url), handle.id)
    assert [r.action for r in recorded] == ["record_inspection"]


async def test_bad_input_is_shown_beside_the_field_with_what_was_typed(web, claims, changkong):
    handle = await claims.open(changkong, bought_days_ago=300)
    await claims.do(handle, ReceiveParcel(by="amy"))
    await claims.do(handle, RecordInspection(by="amy", fault="quality_fault"))
    amy = await web.as_user("amy")
    before = await changes_in_history(handle)
    response = await amy.post(
        f"/claims/{handle.id}/actions/send_quote",
        data={"csrf_token": amy.csrf, "request_id": "keep-this-id-1", "note": "call first",
              "lines.item": ["parts", "", "labour"], "lines.amount": ["lots", "", "40"]},
    )  # fmt: skip
    assert response.status_code == 422
    form = form_of(response.text, "send_quote")
    assert "“lots”: not an amount" in form
    assert form.index("“lots”") < form.index('value="labour"')  # beside its row
    assert 'value="parts"' in form and 'value="lots"' in form and "call first" in form
    assert 'name="request_id" value="keep-this-id-1"' in form and "data-dirty" in form
    assert await changes_in_history(handle) == before
    missing = await post(amy, handle.id, "send_quote")
    assert "give at least 1" in form_of(missing.text, "send_quote")


async def test_the_same_request_sent_twice_is_done_once(web, claims, changkong):
    handle = await claims.open(changkong)
    amy = await web.as_user("amy")
    first = await post(amy, handle.id, "receive_parcel", request_id="double-click-0001")
    second = await post(amy, handle.id, "receive_parcel", request_id="double-click-0001")
    assert first.status_code == second.status_code == 303
    view = await claims.view(handle)
    assert view.state is ClaimState.INSPECTING
    assert len([e for e in view.timeline if e.kind == "action"]) == 1
    assert refused_attempts(engine_for(web.settings.database_url), handle.id) == []


@pytest.mark.parametrize("name", list(USERS))
async def test_the_forms_are_the_actions_allowed_now_for_the_role(web, claims, changkong, name):
    handle = await claims.open(changkong)
    client = await web.as_user(name)
    view = await claims.view(handle)
    role = USERS[name]
    expected = allowed_for(role, view.allowed_actions)
    if role in (UserRole.SUPERVISOR, UserRole.ADMIN):
        expected.append("assign_claim")  # always available to them while the claim is open
    page = (await client.get(f"/claims/{handle.id}")).text
    assert forms_on(page) == expected
    assert 'name="by"' not in page  # the signed-in user is `by`
    if role is UserRole.AUDITOR:
        assert expected == [] and "action-form" not in page


async def test_an_auditor_gets_403_on_a_forced_post(web, claims, changkong):
    handle = await claims.open(changkong)
    await claims.settle(handle)
    before = await changes_in_history(handle)
    aud = await web.as_user("aud")
    response = await post(aud, handle.id, "receive_parcel")
    assert response.status_code == 403
    assert await changes_in_history(handle) == before
    assert refused_attempts(engine_for(web.settings.database_url), handle.id) == []


async def test_an_agent_gets_403_on_a_supervisor_action_and_a_supervisor_assigns(web, claims, changkong):
    handle = await claims.open(changkong)
    assert "extend_deadline" in (await claims.view(handle)).allowed_actions
    amy = await web.as_user("amy")
    assert (await post(amy, handle.id, "extend_deadline", deadline="shipping", days="3", reason="x")).status_code == 403
    assert (await post(amy, handle.id, "assign_claim", assignee="amy")).status_code == 403
    sam = await web.as_user("sam")
    page = (await sam.get(f"/claims/{handle.id}")).text
    assert '<option value="shipping">' in form_of(page, "extend_deadline")
    assert (await post(sam, handle.id, "assign_claim", assignee="amy", note="yours")).status_code == 303
    assert (await claims.view(handle)).assignee == "amy"


async def test_a_post_without_the_csrf_token_is_forbidden(web, claims, changkong):
    handle = await claims.open(changkong)
    amy = await web.as_user("amy")
    response = await amy.post(f"/claims/{handle.id}/actions/receive_parcel", data={"note": "x"})
    assert response.status_code == 403
    assert (await claims.view(handle)).state is ClaimState.AWAITING_PARCEL


async def test_the_page_refreshes_only_when_the_claim_changed(web, claims, changkong):
    handle = await claims.open(changkong)
    amy = await web.as_user("amy")
    page = (await amy.get(f"/claims/{handle.id}")).text
    version = re.search(r'data-version="([^"]+)"', page).group(1)
    assert f'hx-get="/claims/{handle.id}/live?v={version}"' in page and "data-keep-forms" in page
    assert f"{web.settings.temporal_ui_url}/namespaces/default/workflows/{handle.id}" in page
    assert (await amy.get(f"/claims/{handle.id}/live?v={version}")).status_code == 204
    await claims.do(handle, ReceiveParcel(by="amy"))
    live = await amy.get(f"/claims/{handle.id}/live?v={version}")
    assert live.status_code == 200 and "inspecting" in live.text and "<html" not in live.text
    assert 'id="claim-live"' in live.text


def deadline_row(page: str, kind: str) -> str:
    table = page[page.index('class="deadlines"') : page.index("</table>", page.index('class="deadlines"'))]
    return next(row for row in table.split("<tr")[1:] if f"<td>{kind}" in row)


async def test_deadlines_show_the_time_left_and_mark_overdue_ones(web, claims, changkong):
    handle = await claims.open(changkong)
    amy = await web.as_user("amy")
    row = deadline_row((await amy.get(f"/claims/{handle.id}")).text, "shipping")
    due = (await claims.view(handle)).deadlines[0].due_at
    left = due - datetime.now(UTC)  # by the wall clock (the test server's clock may run ahead of it)
    assert re.search(rf"{left.days} days? {left.seconds // 3600} h", row)
    assert "overdue" not in row and "paused" not in row
    await claims.do(handle, ReceiveParcel(by="amy"))
    # the inspection is due within 2 working days: past its due moment, whatever holidays the
    # shared test server's (skipped-ahead) calendar falls on
    inspection = next(d for d in (await claims.view(handle)).open_deadlines if d.kind.value == "inspection")
    await claims.sleep_until(inspection.due_at + timedelta(days=1))
    await claims.eventually(handle, lambda v: v.overdue)
    row = deadline_row((await amy.get(f"/claims/{handle.id}")).text, "inspection")
    assert 'class="overdue"' in row and re.search(r'badge bad">overdue</span> by \d+', row)


async def test_a_paused_deadline_is_marked_with_the_time_left_when_it_stopped(web, claims, shanghai):
    handle = await claims.open(shanghai, bought_days_ago=800)  # out of warranty: a paid repair
    await claims.sleep(days=2)  # the claim's clock runs ahead of the wall clock: the page must not mix them
    await claims.do(handle, ReceiveParcel(by="amy"))  # its repair SLA runs from the parcel's arrival
    await claims.do(handle, RecordInspection(by="amy", fault="quality_fault"))
    await claims.do(handle, SendQuote(by="amy", lines=[{"item": "spare parts", "amount": "50"}]))
    view = await claims.view(handle)
    repair = next(d for d in view.open_deadlines if d.kind.value == "repair")
    assert repair.paused
    page = (await (await web.as_user("amy")).get(f"/claims/{handle.id}")).text
    row = deadline_row(page, "repair")
    assert 'class="paused"' in row and '<span class="badge warn">paused</span>' in row
    left = repair.due_at - repair.paused_at
    assert f"{left.days} days {left.seconds // 3600} h" in row


async def test_an_unknown_claim_is_a_404_page_and_an_archived_one_is_read_from_the_archive(web, claims, changkong):
    amy = await web.as_user("amy")
    missing = await amy.get("/claims/NO-SUCH-CLAIM")
    assert missing.status_code == 404 and "<html" in missing.text
    assert (await amy.get("/claims/..%2Fetc")).status_code == 404
    handle = await claims.open(changkong)
    view = (await claims.view(handle)).model_copy(update={"claim_number": "ARCHIVED-1"})
    engine = engine_for(web.settings.database_url)
    with Session(engine) as session:
        session.add(ClaimArchiveRow(
            workflow_id="ARCHIVED-1", run_id="r1", first_run_id="r1", claim_number="ARCHIVED-1",
            workflow_type="ClaimWorkflow", close_status="completed", close_time=datetime.now(UTC),
            history_sha256="0", history_json="{}", final_view_json=view.model_dump_json(),
            archived_at=datetime.now(UTC),
        ))  # fmt: skip
        session.commit()
    page = await amy.get("/claims/archived-1")
    assert page.status_code == 200 and "From the archive" in page.text
    assert forms_on(page.text) == [] and "hx-get" not in page.text.split('id="claim-live"')[1][:300]


def test_refused_attempts_are_kept_per_claim_newest_first(tmp_path):
    from claimflow.db import migrate
    from claimflow.refused import record_refused

    engine = engine_for(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(engine)
    record_refused(engine, "C-1", "approve_quote", "amy", "not now", at=datetime(2026, 1, 1, tzinfo=UTC))
    record_refused(engine, "C-1", "ship_back", "sam", "not yet", at=datetime(2026, 1, 2, tzinfo=UTC))
    record_refused(engine, "C-2", "ship_back", "sam", "other claim")
    assert [r.action for r in refused_attempts(engine, "C-1")] == ["ship_back", "approve_quote"]
    assert [r.action for r in refused_attempts(engine, "C-1", limit=1)] == ["ship_back"]


# --- in a real browser: the page refreshes itself without losing a half-filled form ---------


@contextlib.asynccontextmanager
async def serving(app):
    """The app over HTTP on a free local port, in the test's event loop."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
async def test_in_a_browser_the_page_refreshes_but_keeps_a_half_filled_form(web, claims, changkong, monkeypatch):
    monkeypatch.setattr(claim_page, "POLL_SECONDS", 1)
    handle = await claims.open(changkong, bought_days_ago=300)
    async with serving(web.app) as base, browser() as chrome:
        page = await chrome.new_page()
        page.set_default_timeout(5000)
        blocked = []
        page.on("console", lambda message: "Content Security Policy" in message.text and blocked.append(message.text))
        await sign_in(page, base, "amy", PASSWORD)
        await page.goto(f"{base}/claims/{handle.id}")
        await page.click("#dec-1-1 summary")  # the policy check's clause, unfolded by the reader
        carrier = page.locator('form[data-action="record_customer_shipment"] input[name="carrier"]')
        await carrier.fill("SF Express")
        await page.click("h1")  # no focus in the form: what was typed alone keeps it
        await claims.do(handle, ReceiveParcel(by="sam"))
        await asyncio.sleep(3)  # three polls
        assert await carrier.input_value() == "SF Express"
        assert await page.locator(".claim-summary .badge.state").inner_text() == "awaiting_parcel"
        await carrier.fill("")  # nothing typed any more: the next poll refreshes the page
        await page.click("h1")
        await page.wait_for_selector(".claim-summary .badge.state:text('inspecting')", timeout=5000)
        assert await page.locator("#dec-1-1").get_attribute("open") is not None  # still unfolded
        assert await page.locator('form[data-action="record_inspection"]').count() == 1
        # an action sent from the page: the page that comes back shows it done
        await page.select_option('form[data-action="record_inspection"] select[name="fault"]', "quality_fault")
        await page.click('form[data-action="record_inspection"] button[type="submit"]')
        await page.wait_for_selector(".claim-summary .badge.state:text('awaiting_quote')", timeout=5000)
        assert blocked == []
