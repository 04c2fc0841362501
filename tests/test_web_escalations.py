"""The escalations inbox (web/routes/escalations.py, claimflow/dashboard.py): what
escalated, oldest first; the engine's actions from each row, sent as the signed-in
supervisor; roles and CSRF."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from claimflow.dashboard import escalated_claims
from claimflow.db import engine_for
from models.read_model import ClaimRow, EscalationRow, RefusedAttemptRow

HTMX = {"HX-Request": "true"}
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def engine_of(web):
    return engine_for(web.settings.database_url)


def claim_row(number: str, state: str, level: str | None, *, opened: datetime, **changes) -> ClaimRow:
    return ClaimRow(
        claim_key=f"key-{number}", claim_number=number, policy="changkong", kind="repair", state=state,
        channel="return_repair", opened_at=opened, updated_at=opened, escalation_level=level, **changes,
    )  # fmt: skip


def rungs(number: str, deadline: str, passed: datetime, levels: list[str], cycle: int = 1) -> list[EscalationRow]:
    """The rungs of a ladder that fired: a reminder a day before `passed`, then one a day."""
    rows = [EscalationRow(claim_key=f"key-{number}", claim_number=number, deadline=deadline, cycle=cycle, step=0,
                          level="reminder", notify="customer", at=passed - timedelta(days=1))]  # fmt: skip
    for step, level in enumerate(levels, start=1):
        rows.append(
            EscalationRow(claim_key=f"key-{number}", claim_number=number, deadline=deadline, cycle=cycle, step=step,
                          level=level, notify=level, at=passed + timedelta(days=step - 1))  # fmt: skip
        )
    return rows


def fill(engine, *rows) -> None:
    with Session(engine) as session:
        for row in rows:
            session.add(row)
            session.flush()  # claims before their escalations
        session.commit()


def inbox_order(page: str) -> list[str]:
    return re.findall(r'<tr class="escalation[^"]*" data-claim="([^"]+)"', page)


def the_row(page: str, number: str) -> str:
    match = re.search(rf'<tr class="escalation[^"]*" data-claim="{re.escape(number)}">.*?</tr>', page, re.S)
    assert match, f"no row for {number}"
    return match.group(0)


async def test_the_inbox_lists_open_escalated_claims_oldest_first(web):
    engine = engine_of(web)
    fill(
        engine,
        claim_row("E-NEW", "inspecting", "agent", opened=T0),
        claim_row("E-OLD", "awaiting_payment", "supervisor", opened=T0 + timedelta(days=5), assignee="amy"),
        claim_row("E-MID", "expired", "manager", opened=T0 - timedelta(days=9),
                  next_deadline_at=T0 + timedelta(days=30), next_deadline_kind="reopen_window"),  # fmt: skip
        claim_row("E-DONE", "completed", "manager", opened=T0 - timedelta(days=30)),  # closed: not in the inbox
        claim_row("E-GONE", "expired", "agent", opened=T0 - timedelta(days=40)),  # reopen window over
        claim_row("E-CALM", "repairing", None, opened=T0 - timedelta(days=50)),  # never escalated
        *rungs("E-NEW", "inspection", T0 + timedelta(days=20), ["agent"]),
        # the repair deadline escalated long ago and was acknowledged; the payment deadline is what escalates now
        *rungs("E-OLD", "repair", T0 + timedelta(days=6), ["agent"]),
        *rungs("E-OLD", "payment", T0 + timedelta(days=10), ["agent", "supervisor"]),
        *rungs("E-MID", "shipping", T0 + timedelta(days=12), ["agent", "supervisor", "manager"]),
        *rungs("E-DONE", "shipping", T0, ["agent", "supervisor", "manager"]),
    )
    rows, total = escalated_claims(engine)
    assert [r.claim_number for r in rows] == ["E-OLD", "E-MID", "E-NEW"] and total == 3
    old = rows[0]
    assert (old.deadline, old.first_escalated_at, old.level) == ("payment", T0 + timedelta(days=10), "supervisor")
    assert old.escalated_deadlines == ("payment", "repair")

    sam = await web.as_user("sam")
    page = await sam.get("/escalations")
    assert page.status_code == 200
    assert inbox_order(page.text) == ["E-OLD", "E-MID", "E-NEW"]
    row = the_row(page.text, "E-OLD")
    assert ">payment<" in row and ">supervisor<" in row and ">amy<" in row and "awaiting_payment" in row
    assert "2026-03-12" not in row and "Mar 12, 2026, 5:00:00" in row  # first escalated, in sam's time zone (+8)
    assert 'data-action="acknowledge_escalation"' in row and 'data-action="reopen_claim"' not in row
    mid = the_row(page.text, "E-MID")
    assert 'data-action="reopen_claim"' in mid  # expired, in its reopen window
    assert 'data-action="acknowledge_escalation"' not in mid  # the last rung fired: nothing left to stop
    for action in ("assign_claim", "extend_deadline"):
        assert f'data-action="{action}"' in row
    assignees = re.findall(r'<option value="([^"]+)"', row.split('name="assignee"')[1].split("</select>")[0])
    assert assignees == ["amy", "sam"]  # active agents and supervisors
    assert " style=" not in page.text and "<script>" not in page.text


async def htmx_post(client, path: str, data: dict):
    """A form sent the way htmx sends it (the CSRF token in its header)."""
    return await client.post(path, data=data, headers=HTMX | {"X-CSRF-Token": client.csrf})


async def expired_and_escalated(web, claims, policy):
    """A claim whose shipping deadline passed (it expired and escalated), once the inbox can see it."""
    handle = await claims.open(policy)
    await claims.sleep(days=8)  # the 7-day shipping deadline passed
    await escalated(engine_of(web), handle.id)
    return handle


async def escalated(engine, number: str) -> ClaimRow:
    """The claim's read-model row once it shows an escalation."""
    for _ in range(300):
        with Session(engine) as session:
            row = session.exec(select(ClaimRow).where(ClaimRow.claim_number == number)).first()
        if row is not None and row.escalation_level is not None:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"claim {number} never escalated in the read model")


async def test_a_supervisor_acknowledges_an_escalation_from_the_inbox(web, claims, changkong):
    handle = await expired_and_escalated(web, claims, changkong)
    sam = await web.as_user("sam")
    page = await sam.get("/escalations")
    row = the_row(page.text, handle.id)
    assert 'data-action="acknowledge_escalation"' in row and ">shipping<" in row
    request_id = re.search(r'name="request_id" value="([0-9a-f]+)"', row).group(1)

    form = {"deadline": "shipping", "note": "calling the customer", "request_id": request_id}
    answer = await htmx_post(sam, f"/escalations/{handle.id}/acknowledge_escalation", form)
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith("<tr") and "shipping escalation acknowledged" in answer.text
    assert 'data-action="acknowledge_escalation"' not in answer.text  # the row no longer offers it
    assert 'data-action="reopen_claim"' in answer.text  # still expired: a supervisor may reopen it
    view = await claims.view(handle)
    shipping = next(d for d in view.deadlines if d.kind == "shipping")
    assert shipping.acknowledged_by == "sam"
    assert (view.timeline[-1].by, view.timeline[-1].summary) == (
        "sam", "escalation of the shipping deadline acknowledged — calling the customer"
    )  # fmt: skip


async def test_a_refused_action_shows_the_workflows_message_on_the_row(web, claims, changkong):
    handle = await expired_and_escalated(web, claims, changkong)
    sam = await web.as_user("sam")
    before = len((await claims.view(handle)).timeline)
    form = {"deadline": "quote", "days": "3", "reason": "customer abroad"}
    answer = await htmx_post(sam, f"/escalations/{handle.id}/extend_deadline", form)
    assert answer.status_code == 200
    assert "the quote deadline cannot be extended now" in answer.text
    assert 'value="customer abroad"' in answer.text  # nothing typed is lost
    assert len((await claims.view(handle)).timeline) == before
    with Session(engine_of(web)) as session:
        refused = session.exec(select(RefusedAttemptRow).where(RefusedAttemptRow.claim_number == handle.id)).all()
    assert [(r.action, r.by) for r in refused] == [("extend_deadline", "sam")]
    assert "cannot be extended" in refused[0].reason


async def test_reopen_without_htmx_reloads_the_inbox(web, claims, changkong):
    handle = await expired_and_escalated(web, claims, changkong)
    root = await web.as_user("root")
    answer = await root.post(
        f"/escalations/{handle.id}/reopen_claim", data={"reason": "parcel arrived late", "csrf_token": root.csrf}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/escalations"
    view = await claims.view(handle)
    assert view.state == "awaiting_parcel"
    assert any(e.by == "root" and e.summary == "claim reopened: parcel arrived late" for e in view.timeline)


async def test_bad_input_is_named_beside_its_field_and_nothing_is_sent(web, claims, changkong):
    handle = await expired_and_escalated(web, claims, changkong)
    sam = await web.as_user("sam")
    before = len((await claims.view(handle)).timeline)
    form = {"deadline": "shipping", "days": "abc", "reason": "waiting on the carrier", "note": "n1"}
    answer = await htmx_post(sam, f"/escalations/{handle.id}/extend_deadline", form)
    assert answer.status_code == 200
    assert "“abc” is not a whole number of days from 1 to 90" in answer.text
    assert 'value="waiting on the carrier"' in answer.text and 'value="n1"' in answer.text
    assignee = await sam.post(
        f"/escalations/{handle.id}/assign_claim", data={"assignee": "aud", "csrf_token": sam.csrf}
    )
    assert assignee.status_code == 422 and "“aud” is not an active agent or supervisor" in assignee.text
    assert len((await claims.view(handle)).timeline) == before


@pytest.mark.parametrize("name", ["amy", "aud"])
async def test_agents_and_auditors_may_not_use_the_inbox(web, name):
    client = await web.as_user(name)
    assert (await client.get("/escalations")).status_code == 403
    for action in ("acknowledge_escalation", "assign_claim", "extend_deadline", "reopen_claim"):
        response = await client.post(
            f"/escalations/C-1/{action}", data={"deadline": "shipping", "reason": "x", "csrf_token": client.csrf}
        )
        assert response.status_code == 403, action


async def test_a_post_without_the_csrf_token_is_forbidden(web):
    sam = await web.as_user("sam")
    response = await sam.post("/escalations/C-1/acknowledge_escalation", data={"deadline": "shipping"})
    assert response.status_code == 403 and "CSRF" in response.text
    forged = await sam.post(
        "/escalations/C-1/acknowledge_escalation", data={"deadline": "shipping", "csrf_token": "forged"}
    )
    assert forged.status_code == 403


async def test_an_action_the_inbox_does_not_offer_is_not_found(web):
    sam = await web.as_user("sam")
    response = await sam.post("/escalations/C-1/cancel_claim", data={"reason": "x", "csrf_token": sam.csrf})
    assert response.status_code == 404


async def test_the_inbox_needs_sign_in(web):
    response = await web.anonymous().get("/escalations")
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
