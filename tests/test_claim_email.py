"""A claim's e-mail (patch "email-notifications"): the customer's messages at the moments
they expect one, only to a contact that is an e-mail address; staff escalations wait for
the policy's service hours (seed 003: 8:30–18:00 every day), the manager's level never
waits; each delivery's outcome in the timeline. Time-skipping server; the notify activity
without an SMTP server journals each notification once (tests/test_mail.py sends real mail)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from models.actions import (
    ApproveQuote,
    CompleteRepair,
    ReceiveParcel,
    RecordInspection,
    RecordPayment,
    RecordQualityCheck,
    SendQuote,
    ShipBack,
)
from models.calendar import WorkCalendar, local_text, next_in_service
from models.claim import Notification

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def delivered(claims, handle, key: str) -> Notification | None:
    await claims.settle(handle)
    return next((n for n in claims.notifications() if n.key == key), None)


async def until_open(claims, policy) -> datetime:
    """Skip to the next moment the policy's desk is open (now, if it is)."""
    now = await claims.env.get_current_time()
    opens = next_in_service(now, policy.service_hours, policy.timezone, WorkCalendar())
    if opens > now:
        await claims.sleep_until(opens + timedelta(minutes=1))
    return opens


async def test_the_customer_hears_of_the_rma_the_quote_and_the_return(claims, changkong, record_history):
    h = await claims.open(changkong, bought_days_ago=200, customer={"name": "Li Wei", "contact": "li.wei@example.com"})
    view = await claims.view(h)
    rma = await delivered(claims, h, f"{h.id}/rma_issued/{view.rma_number}")
    assert rma is not None and rma.to == ["li.wei@example.com"] and rma.role == "customer"
    shipping = view.open_deadlines[0]
    assert rma.facts["rma_number"] == view.rma_number
    assert rma.facts["due_at"] == local_text(shipping.due_at, "Asia/Shanghai")
    await claims.do(h, ReceiveParcel(by="amy"))
    await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
    await claims.do(h, SendQuote(by="amy", lines=[{"item": "parts", "amount": "120.50"}]))
    quote = await delivered(claims, h, f"{h.id}/quote_sent/quote#1")
    assert quote is not None and quote.facts["total"] == "120.50 CNY" and quote.message == "quote_sent"
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="x"))
    await claims.do(h, RecordQualityCheck(by="qa", passed=True))
    due = await delivered(claims, h, f"{h.id}/payment-due-notice#1")
    assert due is not None and due.message == "payment_due" and due.facts["amount"] == "120.50 CNY"
    await claims.do(h, RecordPayment(by="amy", amount=Decimal("120.50"), reference="P"))
    await claims.do(h, ShipBack(by="amy", carrier="SF", tracking_number="1"))
    back = await delivered(claims, h, f"{h.id}/shipped_back/shipped#1")
    assert back is not None and back.to == ["li.wei@example.com"]
    timeline = [e.summary for e in (await claims.view(h)).timeline]
    assert "rma issued message queued for the customer" in timeline
    outcomes = [s for s in timeline if s.startswith(f"claim {h.id}: RMA")]
    assert outcomes and "no SMTP server" in outcomes[0]  # the delivery's outcome, as the activity said
    await record_history(h, "paid_repair_customer_emails")


async def test_a_customer_reached_by_phone_gets_no_e_mail(claims, changkong):
    h = await claims.open(changkong, customer={"name": "Li Wei", "contact": "+86 138 0000 0000"})
    await claims.settle(h)
    assert [n for n in claims.notifications() if n.claim_number == h.id and n.role == "customer"] == []


async def test_escalations_wait_for_service_hours_but_the_manager_level_does_not(claims, shanghai, record_history):
    await until_open(claims, shanghai)
    h = await claims.open(shanghai)
    shipping = (await claims.view(h)).open_deadlines[0]
    local_due = shipping.due_at.astimezone(SHANGHAI)
    assert (local_due.hour, local_due.minute) == (0, 0)  # natural days end at midnight: the desk is closed

    await claims.sleep_until(shipping.due_at + timedelta(minutes=5))  # the agent's step fired at midnight
    view = await claims.eventually(h, lambda v: any(e.level == "agent" for e in v.escalations))
    key = f"{h.id}/shipping#1/1"
    assert await delivered(claims, h, key) is None  # waits for 8:30
    opening = shipping.due_at + timedelta(hours=8, minutes=30)
    await claims.sleep_until(opening + timedelta(minutes=5))
    assert await delivered(claims, h, key) is not None
    sent = [e for e in (await claims.view(h)).timeline if e.kind == "delivery" and "shipping deadline passed" in e.summary]
    assert sent and sent[0].at >= opening

    manager_at = shipping.due_at + timedelta(hours=72)  # midnight again: the manager is told at once
    await claims.sleep_until(manager_at + timedelta(minutes=5))
    await claims.eventually(h, lambda v: any(e.level == "manager" for e in v.escalations))
    manager = await delivered(claims, h, f"{h.id}/shipping#1/3")
    assert manager is not None and manager.urgent
    await record_history(h, "shanghai_escalations_wait_for_service_hours")
