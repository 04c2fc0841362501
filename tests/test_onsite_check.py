"""Seed 004's on-site check: a defect report inside the six-month scope books a visit (the
day, the professional); a visit not held by its day escalates; the professional's finding
decides free repair or paid service. Time-skipping server."""

from datetime import timedelta

from models.actions import RecordOnsiteReport, ScheduleVisit
from models.calendar import end_of_natural_days
from models.enums import ClaimState as S


async def test_a_booked_visit_not_held_by_its_day_escalates(claims, figures, record_history):
    h = await claims.open(figures, bought_days_ago=60)
    view = await claims.view(h)
    assert view.state is S.ONSITE_VISIT and "schedule_visit" in view.allowed_actions
    sla = view.open_deadlines[0]
    today = await claims.today(figures)

    past = await claims.refusal(h, ScheduleVisit(by="amy", on=today - timedelta(days=1), professional="pro.zhao"))
    assert past.startswith(f"the visit day {today - timedelta(days=1)} is in the past")
    late = sla.due_at.date() + timedelta(days=3)
    too_late = await claims.refusal(h, ScheduleVisit(by="amy", on=late, professional="pro.zhao"))
    assert too_late.startswith(f"the visit day {late} is after the onsite_visit deadline") and "extend" in too_late

    day = today + timedelta(days=1)
    result = await claims.do(h, ScheduleVisit(by="amy", on=day, professional="pro.zhao"))
    assert result.state is S.ONSITE_VISIT
    visit = (await claims.view(h)).open_deadlines[0]
    assert visit.due_at == end_of_natural_days(day, 0, figures.timezone) < sla.due_at
    timeline = [e.summary for e in (await claims.view(h)).timeline]
    assert f"on-site check booked for {day} with pro.zhao" in timeline

    await claims.sleep_until(visit.due_at + timedelta(minutes=1))  # the day passed without a report
    view = await claims.eventually(h, lambda v: any(e.deadline == "onsite_visit" and e.at >= visit.due_at for e in v.escalations))
    assert view.state is S.ONSITE_VISIT and view.overdue

    # held late after all: the professional finds a listed defect, repaired free of charge
    defect = figures.warranty.scope[0]
    result = await claims.do(h, RecordOnsiteReport(by="pro.zhao", fault="quality_fault", defect=defect.id))
    assert result.state is S.COMPLETED
    await record_history(h, "model_figures_visit_booked_and_late")
