"""Complaints (seed 004's complaint system) on the time-skipping server: routing by category,
the reply clock in wall-clock and in service hours (across a weekend and a public holiday),
the level-by-level ladder, emergencies, reopening, refused actions, and the read model.

Moments are computed from the test server's own clock (far ahead, and moving): the tests
skip to a weekday or a holiday they find in the real `holidays` data, never to a fixed date.
"""

import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError

from claimflow.calendars import work_calendar
from claimflow.claims import ClaimError
from claimflow.complaints import act, complaint_input, open_complaint
from models.calendar import WorkCalendar, local_date, local_text
from models.complaint import (
    AcknowledgeComplaintEscalation,
    CancelComplaint,
    CloseComplaint,
    ComplaintAction,
    ComplaintInput,
    ComplaintIntake,
    ComplaintView,
    Reassign,
    RecordReply,
    RecordSatisfaction,
    route,
)
from models.enums import ComplaintState as C
from models.limits import COMPLAINT_REASSIGNS_MAX, COMPLAINT_REOPENS_MAX, NAME_MAX, NOTE_MAX, TEXT_MAX
from models.policy import Policy, ServiceHours
from tests.conftest import Claims
from workflows.complaint import ComplaintWorkflow


def at_about(actual: datetime, expected: datetime) -> bool:
    """Timers fire at their moment, give or take the few milliseconds of a workflow task."""
    return timedelta(0) <= actual - expected < timedelta(seconds=1)


def complaint(policy: Policy, **changes) -> ComplaintIntake:
    data = {
        "complaint_number": f"CP-{uuid.uuid4().hex[:10].upper()}",
        "policy": policy.name,
        "channel": "phone",
        "category": policy.complaints.categories[0].id,
        "description": "the figure's paint peels after a week",
        "customer": {"name": "Wang Fang", "contact": "wang.fang@example.com"},
        "opened_by": "reception.lin",
    }
    return ComplaintIntake.model_validate(data | changes)


async def take(claims: Claims, policy: Policy, **changes) -> WorkflowHandle:
    """Take a complaint in under `policy` now (the server's clock), its calendar from the real holidays data."""
    today = await claims.today(policy)
    handle = await open_complaint(claims.client, complaint_input(complaint(policy, **changes), policy, today),
                                  claims.task_queue)  # fmt: skip
    claims.opened.append(handle)
    return handle


async def view(handle: WorkflowHandle) -> ComplaintView:
    return await handle.query(ComplaintWorkflow.view)


async def do(claims: Claims, handle: WorkflowHandle, action: ComplaintAction):
    return await act(claims.client, handle.id, action)


async def refusal(claims: Claims, handle: WorkflowHandle, action: ComplaintAction) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await do(claims, handle, action)
    return refused.value.cause.message


async def eventually(handle: WorkflowHandle, check: Callable[[ComplaintView], bool]) -> ComplaintView:
    import asyncio

    for _ in range(200):
        current = await view(handle)
        if check(current):
            return current
        await asyncio.sleep(0.02)
    raise AssertionError(f"never held; complaint is {current.state.value}, timeline: {current.timeline[-4:]}")


def levels(v: ComplaintView, cycle: int = 1) -> list[str]:
    return [e.level for e in v.escalations if e.cycle == cycle]


def decision(v: ComplaintView, what: str):
    return [d for d in v.decisions if d.what == what][-1]


def sent(claims: Claims, number: str) -> list:
    return [n for n in claims.notifications() if n.claim_number == number]


# --- reply in time ----------------------------------------------------------------------


async def test_a_reply_in_time_then_satisfied_closes(claims, figures, record_history):
    h = await take(claims, figures, category="damaged_packaging")
    v = await view(h)
    assert v.state is C.AWAITING_REPLY and v.department == "warehouse" and v.counting == "wall_clock"
    reply = v.reply_clock
    assert reply.due_at == reply.started_at + timedelta(hours=24)  # System 9: 24 hours, wall clock
    assert reply.clause_ids == ["System 9"]
    routing = decision(v, "routing")
    assert (routing.outcome, routing.clause_ids) == ("warehouse", ["System 6", "CF-COMPLAINT-ADDRESSES"])
    assert [s.level for s in v.ladder] == ["handler", "department_head", "leader"]
    assert [s.at for s in v.ladder] == [reply.due_at, reply.due_at + timedelta(hours=8), reply.due_at + timedelta(hours=16)]

    await claims.sleep(hours=23)
    result = await do(claims, h, RecordReply(by="warehouse.zhou", reply="We send the missing box today."))
    assert result.state is C.ANSWERED and result.allowed_actions == ["record_satisfaction", "close_complaint",
                                                                     "cancel_complaint"]  # fmt: skip
    v = await view(h)
    assert decision(v, "reply").outcome == "in_time" and v.escalations == [] and not v.overdue
    assert v.replies[0].late is False
    result = await do(claims, h, RecordSatisfaction(by="reception.lin", satisfied=True))
    assert result.state is C.CLOSED and result.allowed_actions == []
    final = await h.result()
    assert final.state is C.CLOSED and final.satisfied is True and not final.open_deadlines
    messages = [(n.message, n.to) for n in sent(claims, h.id)]
    assert messages == [("complaint_received", ["wang.fang@example.com"]),
                        ("complaint_answered", ["wang.fang@example.com"])]  # fmt: skip
    received = sent(claims, h.id)[0]
    assert received.facts["due_at"] == local_text(reply.due_at, figures.timezone) and received.facts["department"] == "warehouse"
    assert "sent" in [e.summary for e in final.timeline if e.kind == "delivery"][0]
    await record_history(h, "figures_answered_in_time", "complaint")


# --- no reply: the ladder, level by level ------------------------------------------------


async def test_no_reply_escalates_level_by_level_on_the_wall_clock(claims, figures, record_history):
    h = await take(claims, figures, category="staff_conduct", channel="visit")
    due = (await view(h)).reply_clock.due_at

    await claims.sleep_until(due + timedelta(hours=1))
    v = await eventually(h, lambda v: levels(v) == ["handler"])
    assert v.overdue and v.escalation_level == "handler" and "acknowledge_escalation" in v.allowed_actions
    assert decision(v, "reply_deadline").outcome == "overdue" and decision(v, "reply_deadline").clause_ids == ["System 9"]

    await claims.sleep_until(due + timedelta(hours=40, minutes=1))  # past the leader's own 24 hours
    v = await eventually(h, lambda v: any(d.what == "leader_deadline" for d in v.decisions))
    assert levels(v) == ["handler", "department_head", "leader"] and v.escalation_level == "leader"
    for escalation, hours in zip(v.escalations, (0, 8, 16)):  # System 4 and CF-COMPLAINT-LEVELS: 8 h, 8 h, 24 h
        assert at_about(escalation.at, due + timedelta(hours=hours)), (escalation.level, escalation.at)
    assert at_about(decision(v, "leader_deadline").at, due + timedelta(hours=40))
    clocks = [(d.kind.value, d.started_at, d.due_at) for d in v.deadlines]
    assert clocks[1:] == [
        ("handler", due, due + timedelta(hours=8)),
        ("department_head", due + timedelta(hours=8), due + timedelta(hours=16)),
        ("leader", due + timedelta(hours=16), due + timedelta(hours=40)),
    ]
    assert [(s.level, s.at, s.fired) for s in v.ladder] == [
        ("handler", due, True), ("department_head", due + timedelta(hours=8), True),
        ("leader", due + timedelta(hours=16), True),
    ]  # fmt: skip
    escalations = [n for n in sent(claims, h.id) if n.message == "complaint_escalation"]
    assert [(n.role, n.level.value, n.to, n.urgent) for n in escalations] == [
        ("sales", "agent", ["sales@model-figures.example"], False),
        ("sales", "supervisor", ["sales.head@model-figures.example"], False),
        ("leader", "manager", ["leader@model-figures.example"], True),
    ]
    assert [n.key for n in escalations] == [f"{h.id}/reply#1/{level}" for level in ("handler", "department_head", "leader")]
    assert all(n.facts["due_at"] == local_text(due, figures.timezone) and n.facts["department"] == "sales department"
               for n in escalations)  # fmt: skip
    assert [e.summary for e in v.timeline if e.kind == "escalation"][0].startswith(
        f"[handler] complaint {h.id}: no reply by {due:%Y-%m-%d %H:%M} UTC"
    )

    await do(claims, h, RecordReply(by="sales.head", reply="We apologise; the salesman has been retrained."))
    v = await view(h)
    assert v.state is C.ANSWERED and decision(v, "reply").outcome == "late" and v.replies[0].late
    assert not v.overdue and v.escalation_level is None
    assert [d.kind.value for d in v.open_deadlines] == ["feedback"]
    await do(claims, h, RecordSatisfaction(by="reception.lin", satisfied=True))
    assert (await h.result()).state is C.CLOSED
    await record_history(h, "figures_escalated_to_the_leader", "complaint")


async def test_an_acknowledged_escalation_climbs_no_further(claims, figures):
    h = await take(claims, figures, category="intermediary")
    due = (await view(h)).reply_clock.due_at
    assert "acknowledge_escalation" in await refusal(claims, h, AcknowledgeComplaintEscalation(by="after-sales.li"))
    await claims.sleep_until(due + timedelta(hours=9))
    await eventually(h, lambda v: levels(v) == ["handler", "department_head"])
    result = await do(claims, h, AcknowledgeComplaintEscalation(by="after-sales.head"))
    assert "acknowledge_escalation" not in result.allowed_actions
    await claims.sleep_until(due + timedelta(days=3))
    v = await view(h)
    assert levels(v) == ["handler", "department_head"] and v.overdue  # the reply is still owed
    assert [d.kind.value for d in v.open_deadlines] == ["reply"]
    assert [n.level.value for n in sent(claims, h.id) if n.message == "complaint_escalation"] == ["agent", "supervisor"]


# --- service hours: a weekend, a public holiday -------------------------------------------


def working_days_only(policy: Policy) -> Policy:
    """The policy with its service hours on working days only (closed at weekends and on holidays)."""
    hours = policy.service_hours.model_copy(update={"days": "working_days"})
    return policy.model_copy(update={"service_hours": hours})


def local(day: date, hhmm: str, tz: str) -> datetime:
    if hhmm == "24:00":  # the midnight that ends `day`
        return local(day + timedelta(days=1), "00:00", tz)
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=ZoneInfo(tz))


def service_end(start: datetime, hours: int, policy: Policy, open_on: Callable[[date], bool]) -> datetime:
    """The reference: walk the days, adding each open window's time, until `hours` are used."""
    service, tz = policy.service_hours, policy.timezone
    remaining, day = timedelta(hours=hours), local_date(start, tz)
    while True:
        if open_on(day):
            opens, closes = local(day, service.opens, tz), local(day, service.closes, tz)
            begin = max(opens, start)
            if begin < closes:
                if remaining <= closes - begin:
                    return begin + remaining
                remaining -= closes - begin
        day += timedelta(days=1)


async def calendar_now(claims: Claims, policy: Policy) -> WorkCalendar:
    return work_calendar(policy.holiday_country, policy.holiday_subdivision, await claims.today(policy))


def first_day(start: date, fits: Callable[[date], bool], within: int = 800) -> date:
    return next(start + timedelta(days=n) for n in range(within) if fits(start + timedelta(days=n)))


async def test_service_hours_stop_at_the_weekend(claims, shanghai, record_history):
    policy = working_days_only(shanghai)  # 8:30-18:00 (Guarantee 1), here on working days only
    tz, calendar = policy.timezone, await calendar_now(claims, policy)
    regular = lambda d: calendar.is_working_day(d) == (d.weekday() < 5)  # noqa: E731
    friday = first_day(await claims.today(policy) + timedelta(days=1),
                       lambda d: d.weekday() == 4 and all(regular(d + timedelta(days=n)) for n in range(14)))  # fmt: skip
    await claims.sleep_until(local(friday, "15:00", tz))
    h = await take(claims, policy, category="repair_or_maintenance")
    v = await view(h)
    monday = friday + timedelta(days=3)
    wednesday, thursday = monday + timedelta(days=2), monday + timedelta(days=3)
    # 24 service hours of 9.5 a day: Friday 3, Monday 9.5, Tuesday 9.5, Wednesday 2
    assert at_about(v.reply_clock.due_at, local(wednesday, "10:30", tz))  # (opened a few ms after 15:00)
    assert v.counting == "service_hours"
    expected = [  # handler 8 h: Wed 7.5 + Thu 0.5; head 8 h: Thu; leader 24 h: Thu 1, Fri 9.5, Mon 9.5, Tue 4
        ("handler", local(wednesday, "10:30", tz), local(thursday, "09:00", tz)),
        ("department_head", local(thursday, "09:00", tz), local(thursday, "17:00", tz)),
        ("leader", local(thursday, "17:00", tz), local(monday + timedelta(days=8), "12:30", tz)),
    ]
    assert [s.level for s in v.ladder] == [level for level, _, _ in expected]
    assert all(at_about(s.at, at) and at_about(s.until, until) for s, (_, at, until) in zip(v.ladder, expected))

    await claims.sleep_until(expected[2][2] + timedelta(minutes=1))
    v = await eventually(h, lambda v: any(d.what == "leader_deadline" for d in v.decisions))
    assert [(e.level, e.department) for e in v.escalations] == [
        ("handler", "technical_service"), ("department_head", "technical_service"), ("leader", "technical_service")
    ]  # fmt: skip
    assert all(at_about(e.at, at) for e, (_, at, _) in zip(v.escalations, expected))
    assert at_about(decision(v, "leader_deadline").at, expected[2][2])
    sent_at = [e.at for e in v.timeline if e.kind == "delivery" and e.summary.startswith("complaint_escalation")]
    assert all(at_about(at, moment) for at, (_, moment, _) in zip(sent_at, expected))  # inside service hours: at once
    await do(claims, h, RecordReply(by="technical.he", reply="The engineer comes on Wednesday."))
    await do(claims, h, RecordSatisfaction(by="service.xu", satisfied=True))
    assert (await h.result()).state is C.CLOSED
    await record_history(h, "shanghai_service_hours_escalated", "complaint")


async def test_service_hours_skip_a_public_holiday_and_every_day_hours_do_not(claims, shanghai):
    tz, calendar = shanghai.timezone, await calendar_now(claims, shanghai)
    holiday = first_day(await claims.today(shanghai) + timedelta(days=2),
                        lambda d: d in calendar.holidays and d.weekday() < 5
                        and calendar.is_working_day(d - timedelta(days=1)))  # fmt: skip
    eve = holiday - timedelta(days=1)
    start = local(eve, "16:00", tz)
    await claims.sleep_until(start)
    every_day = await take(claims, shanghai)  # "8:30 to 18:00 every day": holidays count
    working_days = await take(claims, working_days_only(shanghai))
    due_every_day = (await view(every_day)).reply_clock.due_at
    due_working_days = (await view(working_days)).reply_clock.due_at

    opened = (await view(every_day)).opened_at  # (a few ms after 16:00)
    assert at_about(due_every_day, local(eve + timedelta(days=3), "11:30", tz))
    assert due_every_day == service_end(opened, 24, shanghai, lambda d: True)
    assert due_working_days == service_end((await view(working_days)).opened_at, 24, shanghai, calendar.is_working_day)
    without_the_holiday = service_end(opened, 24, shanghai, lambda d: d == holiday or calendar.is_working_day(d))
    assert due_working_days > without_the_holiday  # the holiday was skipped
    assert local_date(due_working_days, tz) not in calendar.holidays

    # the ladder after the holiday counts working days only, and fires at its moments
    ladder_ = (await view(working_days)).ladder
    assert ladder_[0].until == service_end(ladder_[0].at, 8, shanghai, calendar.is_working_day)
    await claims.sleep_until(ladder_[1].at + timedelta(minutes=1))
    v = await eventually(working_days, lambda v: levels(v) == ["handler", "department_head"])
    assert all(at_about(e.at, step.at) for e, step in zip(v.escalations, ladder_))


async def test_best_lighting_feedback_answered_within_its_service_hours(claims, best_lighting, record_history):
    h = await take(claims, best_lighting, category="technical", channel="email", locale="zh_Hans_CN")
    v = await view(h)
    assert (v.department, v.counting) == ("technical", "service_hours")  # TS: 9:00-24:00, Monday to Sunday
    assert v.reply_clock.due_at == service_end(v.opened_at, 24, best_lighting, lambda d: True)
    assert decision(v, "routing").clause_ids == ["TS", "CF-COMPLAINT-ROUTING", "CF-COMPLAINT-ADDRESSES"]
    await do(claims, h, RecordReply(by="technical.gao", reply="请按说明书第 5 页重新设置。"))
    await do(claims, h, RecordSatisfaction(by="service.xu", satisfied=True))
    final = await h.result()
    assert final.state is C.CLOSED
    assert {n.locale for n in sent(claims, h.id)} == {"zh_Hans_CN"}
    await record_history(h, "best_lighting_answered", "complaint")


# --- emergencies ------------------------------------------------------------------------


async def test_an_emergency_goes_to_the_leader_at_once_and_still_gets_its_reply_clock(claims, shanghai, record_history):
    tz = shanghai.timezone
    evening = first_day(await claims.today(shanghai) + timedelta(days=1), lambda d: True)
    await claims.sleep_until(local(evening, "20:00", tz))  # after the service center closed
    h = await take(claims, shanghai, category="product_quality", emergency=True, description="the unit smokes")
    v = await view(h)
    assert v.state is C.AWAITING_REPLY and v.emergency
    [emergency] = v.escalations
    assert (emergency.level, emergency.emergency, emergency.urgent, emergency.to) == (
        "leader", True, True, ["leader@shanghai-equipment.example"]
    )
    assert decision(v, "emergency").clause_ids == ["CF-COMPLAINT-EMERGENCY"]
    assert v.reply_clock.due_at == service_end(v.opened_at, 24, shanghai, lambda d: True)
    assert v.reply_clock.due_at == local(evening + timedelta(days=3), "13:30", tz)  # 9.5 + 9.5 + 5 service hours
    assert levels(v, cycle=1) == [] and not v.overdue  # the emergency is no escalation of the reply clock
    v = await eventually(h, lambda v: any(e.kind == "delivery" for e in v.timeline))
    first = next(e for e in v.timeline if e.kind == "delivery")
    assert first.summary.startswith("complaint_escalation for leader sent") and at_about(first.at, emergency.at)
    assert [n.message for n in sent(claims, h.id)] == ["complaint_escalation"]  # the customer's waits for 8:30

    await claims.sleep_until(local(evening + timedelta(days=1), "08:31", tz))
    v = await eventually(h, lambda v: len([e for e in v.timeline if e.kind == "delivery"]) == 2)
    received = [e for e in v.timeline if e.kind == "delivery"][1]
    assert received.summary.startswith("complaint_received for customer sent")
    assert at_about(received.at, local(evening + timedelta(days=1), "08:30", tz))
    assert [(n.message, n.key) for n in sent(claims, h.id)] == [
        ("complaint_escalation", f"{h.id}/emergency"), ("complaint_received", f"{h.id}/received#1")
    ]  # fmt: skip
    await do(claims, h, CancelComplaint(by="service.head", reason="recorded twice; see the other complaint"))
    final = await h.result()
    assert final.state is C.CANCELLED and final.closed_at is not None
    await record_history(h, "shanghai_emergency_cancelled", "complaint")


# --- routing ----------------------------------------------------------------------------

# Category -> department, as the seeds say (004 System 5-8) or claimflow reads them (003, 000).
ROUTES = {
    "model_figures": {"product_quality": "product_quality", "damaged_packaging": "warehouse",
                      "short_quantity": "warehouse", "staff_conduct": "sales", "intermediary": "coordination"},
    "shanghai_equipment": {"product_quality": "technical_service", "repair_or_maintenance": "technical_service",
                           "customer_service": "customer_service"},
    "best_lighting": {"sales": "sales", "technical": "technical", "product_quality": "quality_inspection"},
}  # fmt: skip


def test_every_category_of_every_policy_is_routed_as_its_seed_says(changkong, konjump, shanghai, figures, best_lighting):
    policies = {p.name: p for p in (changkong, konjump, shanghai, figures, best_lighting)}
    assert {name for name, p in policies.items() if p.complaints is not None} == set(ROUTES)
    for name, routes in ROUTES.items():
        policy = policies[name]
        assert [c.id for c in policy.complaints.categories] == list(routes)
        for category, department in routes.items():
            routed = route(policy, category)
            assert routed.outcome == department, (name, category)
            own = policy.complaints.category(category).clause_ids
            assert routed.clause_ids[: len(own)] == own and set(policy.complaints.department(department).clause_ids) <= set(routed.clause_ids)


async def test_every_category_routes_its_complaint_to_its_department(claims, shanghai, figures, best_lighting):
    handles = {}
    for policy in (shanghai, figures, best_lighting):
        for category in ROUTES[policy.name]:
            handles[policy.name, category] = await take(claims, policy, category=category)
    for (name, category), h in handles.items():
        v = await view(h)
        assert (v.department, v.state) == (ROUTES[name][category], C.AWAITING_REPLY), (name, category)


async def test_reassigning_sends_the_next_escalation_to_the_new_department(claims, figures):
    h = await take(claims, figures, category="product_quality")
    due = (await view(h)).reply_clock.due_at
    result = await do(claims, h, Reassign(by="reception.lin", department="warehouse", note="it is a packaging fault"))
    assert result.message == "complaint is with the warehouse"
    assert "already" in await refusal(claims, h, Reassign(by="x", department="warehouse"))
    assert "its departments: product_quality, warehouse" in await refusal(claims, h, Reassign(by="x", department="nobody"))
    await claims.sleep_until(due + timedelta(minutes=1))
    v = await eventually(h, lambda v: levels(v) == ["handler"])
    assert v.reply_clock.due_at == due  # the customer's clock ran on
    assert v.escalations[0].to == ["warehouse@model-figures.example"]


def test_a_policy_without_complaints_and_an_unknown_category_are_refused_at_intake(changkong, figures):
    with pytest.raises(ClaimError, match="policy changkong takes no complaints"):
        complaint_input(complaint(figures).model_copy(update={"policy": "changkong"}), changkong, date(2099, 1, 5))
    with pytest.raises(ClaimError, match="no complaint category 'paint'; its categories: product_quality, "):
        complaint_input(complaint(figures, category="paint"), figures, date(2099, 1, 5))


# --- reopening ----------------------------------------------------------------------------


async def test_not_satisfied_reopens_with_a_new_reply_clock(claims, figures, record_history):
    h = await take(claims, figures, category="short_quantity")
    await do(claims, h, RecordReply(by="warehouse.zhou", reply="Two figures were missing; they are on their way."))
    await claims.sleep(hours=30)
    result = await do(claims, h, RecordSatisfaction(by="reception.lin", satisfied=False, note="still one missing"))
    assert result.state is C.AWAITING_REPLY
    v = await view(h)
    now = await claims.env.get_current_time()
    replies = [(d.cycle, d.cleared) for d in v.deadlines if d.kind == "reply"]
    assert replies == [(1, True), (2, False)] and v.reopens == 1
    second = v.reply_clock
    assert at_about(now, second.started_at) and second.due_at == second.started_at + timedelta(hours=24)
    assert decision(v, "satisfaction").outcome == "reopened"
    assert "answered → reopened" in [e.summary for e in v.timeline] and "reopened → awaiting_reply" in [
        e.summary for e in v.timeline
    ]
    await claims.sleep_until(second.due_at + timedelta(minutes=1))
    v = await eventually(h, lambda v: levels(v, cycle=2) == ["handler"])
    assert at_about(v.escalations[-1].at, second.due_at)
    await do(claims, h, RecordReply(by="warehouse.head", reply="The last figure was sent by express."))
    await do(claims, h, RecordSatisfaction(by="reception.lin", satisfied=True))
    final = await h.result()
    assert final.state is C.CLOSED and [r.late for r in final.replies] == [False, True]
    keys = [n.key for n in sent(claims, h.id)]
    assert f"{h.id}/received#2" in keys and f"{h.id}/answered#2" in keys
    await record_history(h, "figures_reopened_then_closed", "complaint")


async def test_reopening_is_bounded(claims, figures):
    h = await take(claims, figures)
    for _ in range(COMPLAINT_REOPENS_MAX):
        await do(claims, h, RecordReply(by="qa", reply="looked into it"))
        await do(claims, h, RecordSatisfaction(by="reception", satisfied=False))
    await do(claims, h, RecordReply(by="qa", reply="looked into it again"))
    refused = await refusal(claims, h, RecordSatisfaction(by="reception", satisfied=False))
    assert refused == f"at most {COMPLAINT_REOPENS_MAX} reopenings of one complaint; a supervisor closes it (close_complaint)"
    assert (await do(claims, h, CloseComplaint(by="sue.supervisor", reason="settled by phone"))).state is C.CLOSED


async def test_reassigning_is_bounded(claims, figures):
    h = await take(claims, figures, category="damaged_packaging")
    for n in range(COMPLAINT_REASSIGNS_MAX):
        await do(claims, h, Reassign(by="sue", department=["sales", "warehouse"][n % 2]))
    refused = await refusal(claims, h, Reassign(by="sue", department="coordination"))
    assert refused == f"at most {COMPLAINT_REASSIGNS_MAX} reassignments of one complaint"


# --- windows that closed ------------------------------------------------------------------


async def test_no_word_within_the_feedback_window_closes_the_complaint(claims, figures, record_history):
    h = await take(claims, figures, channel="letter", customer={"name": "Zhao Lei", "contact": "+86 138 0000 0000"})
    await do(claims, h, RecordReply(by="quality.wu", reply="The paint was repaired."))
    feedback = (await view(h)).open_deadlines[0]
    assert feedback.kind == "feedback" and feedback.clause_ids == ["System 9", "CF-COMPLAINT-FEEDBACK"]
    assert "refused" not in await refusal(claims, h, RecordReply(by="x", reply="again"))  # not in this state
    final = await h.result()
    assert final.state is C.CLOSED and final.satisfied is None
    closed = decision(final, "feedback")
    assert closed.outcome == "closed" and at_about(closed.at, feedback.due_at)
    assert sent(claims, h.id) == []  # a phone number: the customer is not mailed
    await record_history(h, "figures_closed_without_feedback", "complaint")


def test_a_satisfaction_after_the_feedback_window_is_refused_before_its_timer_fires():
    """The same-activation case (the timer and the action handled together after a worker
    outage): the validator looks ahead with `state_at`."""
    from models.complaint import ComplaintDeadline, escalated_at, state_at

    due = datetime(2099, 3, 2, 16, tzinfo=ZoneInfo("UTC"))
    window = ComplaintDeadline(kind="feedback", cycle=1, started_at=due - timedelta(days=7), due_at=due, clause_ids=["9"])
    assert state_at(C.ANSWERED, [window], due - timedelta(seconds=1)) == (C.ANSWERED, None)
    assert state_at(C.ANSWERED, [window], due) == (C.CLOSED, window)
    reply = ComplaintDeadline(kind="reply", cycle=1, started_at=due - timedelta(days=1), due_at=due, clause_ids=["9"])
    assert not escalated_at(C.AWAITING_REPLY, [reply], due - timedelta(seconds=1))
    assert escalated_at(C.AWAITING_REPLY, [reply], due)  # acknowledgeable at once, the timer not yet fired
    assert not escalated_at(C.AWAITING_REPLY, [reply.model_copy(update={"acknowledged_by": "sue"})], due)


async def test_actions_that_do_not_fit_are_refused_with_the_state_and_what_is_allowed(claims, figures):
    h = await take(claims, figures)
    refused = await refusal(claims, h, RecordSatisfaction(by="x", satisfied=True))
    assert refused == ("record_satisfaction is not allowed while the complaint is awaiting_reply; allowed now: "
                       "record_reply, reassign, close_complaint, cancel_complaint")  # fmt: skip
    await do(claims, h, CancelComplaint(by="sue", reason="opened by mistake"))
    assert (await h.result()).state is C.CANCELLED


# --- nothing a user types fails a workflow task ----------------------------------------------


async def test_maximal_inputs_and_a_long_life_fail_no_workflow_task(claims, figures):
    name = "姓" * NAME_MAX
    contact = ("a" * (NAME_MAX - len("@x.example"))) + "@x.example"
    h = await take(claims, figures, description="漆" * TEXT_MAX, customer={"name": name, "contact": contact},
                   opened_by=name, claim_number="CK-" + "9" * 37, locale="zh_Hans_CN")  # fmt: skip
    long_reply = ("回复" * (NOTE_MAX // 2 - 1) + "\n")[:NOTE_MAX]
    for round_ in range(COMPLAINT_REOPENS_MAX + 1):
        await claims.sleep(hours=30)  # late every time: the ladder climbs each cycle
        await eventually(h, lambda v: levels(v, cycle=round_ + 1)[:1] == ["handler"])
        await do(claims, h, AcknowledgeComplaintEscalation(by=name, note="注" * NOTE_MAX))
        await do(claims, h, Reassign(by=name, department=["warehouse", "sales"][round_ % 2], note="注" * NOTE_MAX))
        await do(claims, h, RecordReply(by=name, reply=long_reply, note="注" * NOTE_MAX))
        if round_ < COMPLAINT_REOPENS_MAX:
            await do(claims, h, RecordSatisfaction(by=name, satisfied=False, note="注" * NOTE_MAX))
    await do(claims, h, RecordSatisfaction(by=name, satisfied=True, note="注" * NOTE_MAX))
    final = await h.result()
    assert final.state is C.CLOSED and final.reopens == COMPLAINT_REOPENS_MAX
    history = await h.fetch_history()
    assert not [e for e in history.events if e.HasField("workflow_task_failed_event_attributes")]
    assert sum(len(e.SerializeToString()) for e in history.events) < 2_000_000
    assert {n.locale for n in sent(claims, h.id) if n.role == "customer"} == {"zh_Hans_CN"}


async def test_a_complaint_started_around_the_client_fails_its_workflow_with_the_reason(claims, figures):
    """The client refuses such an intake (complaint_input); started directly, the workflow
    fails at once with the reason, no workflow task fails."""
    today = await claims.today(figures)
    good = complaint_input(complaint(figures), figures, today)
    bad = ComplaintInput(intake=good.intake.model_copy(update={"category": "paint"}), policy=figures,
                         calendar=good.calendar)  # fmt: skip
    h = await open_complaint(claims.client, bad, claims.task_queue)
    with pytest.raises(WorkflowFailureError) as failed:
        await h.result()
    assert "no complaint category 'paint'" in str(failed.value.cause)


# --- the read model -----------------------------------------------------------------------------


async def projected(claims: Claims, engine, h: WorkflowHandle):
    """The complaint's row once it holds the whole timeline."""
    import asyncio

    from sqlmodel import Session, select

    from models.read_model import ComplaintRow

    await claims.settle(h)
    length = len((await view(h)).timeline)
    for _ in range(200):
        with Session(engine) as session:
            row = session.exec(select(ComplaintRow).where(ComplaintRow.complaint_number == h.id)).first()
        if row is not None and row.version == length:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"{h.id} not projected: {row}")


async def test_complaints_are_projected_and_listed_open_overdue_by_department_and_category(env, tmp_path, figures,
                                                                                           shanghai, engine):  # fmt: skip
    from claimflow.complaint_lists import (
        ComplaintFilter,
        complaint_timeline,
        complaints_of_claim,
        count_complaints,
        counts_by,
        list_complaints,
    )
    from tests.conftest import claims_on

    async with claims_on(env, tmp_path, engine) as claims:
        late = await take(claims, figures, category="staff_conduct")
        packaging = await take(claims, figures, category="damaged_packaging", claim_number="ck-1001")
        closed = await take(claims, shanghai, category="customer_service")
        await do(claims, closed, RecordReply(by="service.xu", reply="Sorry; the reception is retrained."))
        await do(claims, closed, RecordSatisfaction(by="service.xu", satisfied=True))
        await do(claims, packaging, RecordReply(by="warehouse.zhou", reply="A new box is on its way."))
        due = (await view(late)).reply_clock.due_at
        await claims.sleep_until(due + timedelta(hours=1))
        await eventually(late, lambda v: levels(v) == ["handler"])
        quantity = await take(claims, figures, category="short_quantity", claim_number="CK-1001", emergency=True)

        rows = {h.id: await projected(claims, engine, h) for h in (late, packaging, quantity, closed)}
        row = rows[late.id]
        assert (row.state, row.department, row.category, row.overdue, row.escalation_level) == (
            "awaiting_reply", "sales", "staff_conduct", True, "handler"
        )
        assert row.reply_due_at == due and row.due_what == "handler" and row.policy == "model_figures"
        assert rows[packaging.id].state == "answered" and rows[packaging.id].replied_late is False
        assert rows[packaging.id].due_what == "feedback" and rows[quantity.id].emergency
        assert rows[closed.id].state == "closed" and rows[closed.id].closed_at is not None
        assert rows[closed.id].due_at is None and rows[closed.id].department == "customer_service"

        mine = {late.id, packaging.id, quantity.id, closed.id}  # (the test server's read model is this test's own)

        def numbers(where: ComplaintFilter) -> list[str]:
            return [r.complaint_number for r in list_complaints(engine, where) if r.complaint_number in mine]

        assert numbers(ComplaintFilter(open=True)) == [late.id, quantity.id, packaging.id]  # the one chased first first
        assert numbers(ComplaintFilter(overdue=True)) == [late.id]
        assert numbers(ComplaintFilter(department="warehouse")) == [quantity.id, packaging.id]
        assert numbers(ComplaintFilter(category="customer_service")) == [closed.id]
        assert numbers(ComplaintFilter(open=False)) == [closed.id]
        assert [r.complaint_number for r in complaints_of_claim(engine, "ck-1001")] == [packaging.id, quantity.id]
        assert count_complaints(engine, ComplaintFilter(open=True, policy="model_figures")) == 3
        assert counts_by(engine, "department", ComplaintFilter(policy="model_figures")) == {"sales": 1, "warehouse": 2}
        timeline = complaint_timeline(engine, late.id.lower())
        assert [e.seq for e in timeline] == list(range(len(timeline))) and timeline[0].kind == "opened"
        assert any(e.kind == "escalation" and "[handler]" in e.summary for e in timeline)


# --- deliveries: the clock never waits on them ---------------------------------------------------


class Outage:
    """The read model's database and the mail relay, switchable off (workflows/delivery.py's fallbacks)."""

    def __init__(self, outbox, engine):
        from activities.complaint_read_model import ComplaintReadModelActivities
        from activities.notify import NotifyActivities

        self.down = True
        self._notify = NotifyActivities(outbox, engine)
        self._read_model = ComplaintReadModelActivities(engine)

    def notify(self, notification):
        if self.down:
            raise RuntimeError("mail relay unreachable")
        return self._notify.notify(notification)

    def project_complaint(self, snapshot):
        if self.down:
            raise RuntimeError("database unreachable")
        return self._read_model.project_complaint(snapshot)


async def test_an_outage_of_mail_and_database_stops_no_clock_and_both_catch_up(env, tmp_path, figures):
    from concurrent.futures import ThreadPoolExecutor

    from sqlmodel import Session, select
    from temporalio import activity
    from temporalio.worker import Worker

    from activities.notify import read_outbox
    from claimflow.db import engine_for, migrate
    from models.claim import Delivery, Notification
    from models.complaint import ComplaintSnapshot
    from models.read_model import ComplaintRow
    from worker import SANDBOX, WORKFLOWS
    from workflows.names import NOTIFY, PROJECT_COMPLAINT

    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    migrate(engine)
    outbox = tmp_path / "outbox.jsonl"
    outage = Outage(outbox, engine)

    @activity.defn(name=NOTIFY)
    def notify(notification: Notification) -> Delivery:
        return outage.notify(notification)

    @activity.defn(name=PROJECT_COMPLAINT)
    def project_complaint(snapshot: ComplaintSnapshot) -> bool:
        return outage.project_complaint(snapshot)

    task_queue = f"outage-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=task_queue, workflows=WORKFLOWS, activities=[notify, project_complaint],
                      activity_executor=ThreadPoolExecutor(max_workers=4), workflow_runner=SANDBOX):  # fmt: skip
        claims = Claims(env=env, task_queue=task_queue, outbox=outbox)
        h = await take(claims, figures, category="intermediary")
        due = (await view(h)).reply_clock.due_at
        for _ in range(2):  # a day at a time
            await claims.sleep(days=1)
        v = await eventually(h, lambda v: levels(v) == ["handler", "department_head", "leader"])
        assert all(at_about(e.at, due + timedelta(hours=hours)) for e, hours in zip(v.escalations, (0, 8, 16)))
        deliveries = [e.summary for e in v.timeline if e.kind == "delivery"]
        assert any(s.startswith("read model not updated (RuntimeError: database unreachable)") for s in deliveries)
        assert any(s.startswith("complaint_received for customer not delivered: RuntimeError: mail relay unreachable")
                   for s in deliveries)  # fmt: skip
        assert read_outbox(outbox) == []

        outage.down = False
        await claims.sleep(hours=3)
        v = await eventually(h, lambda v: any("read model caught up" in e.summary for e in v.timeline))
        for _ in range(20):  # 4 notifications and a warning to the department head for each that failed
            if len(read_outbox(outbox)) == 8:
                break
            await claims.sleep(hours=1)
        keys = [n.key for n in read_outbox(outbox)]
        assert len(keys) == len(set(keys)), "a notification was delivered twice"
        assert {f"{h.id}/received#1", f"{h.id}/reply#1/leader"} <= set(keys)
        undelivered = [n for n in read_outbox(outbox) if n.key.endswith("/undelivered")]
        assert undelivered and all(n.to == ["after-sales.head@model-figures.example"] for n in undelivered)
        assert any("sent late" in e.summary for e in (await view(h)).timeline)
        await claims.settle(h)
        row = await projected(claims, engine, h)
        assert row.state == "awaiting_reply" and row.overdue and row.escalation_level == "leader"
        await claims.terminate_open_claims()


def test_a_claim_number_cannot_take_the_complaint_prefix(changkong):
    """Claims and complaints share Temporal's workflow ids: CP- is the complaints'."""
    from claimflow.claims import ClaimError, claim_input
    from tests.conftest import intake

    today = date(2026, 11, 29)
    with pytest.raises(ClaimError, match="claim number CP-9X: numbers starting CP- are complaints"):
        claim_input(intake(changkong, today, claim_number="cp-9x"), changkong, today)
