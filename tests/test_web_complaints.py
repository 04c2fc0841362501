"""The complaint pages (web/routes/complaints.py): the intake form with its routing, bad
input kept and named, the reply and the customer's word, a reopened complaint's new clock,
an escalation after skipping time, who may do what, the list, and the claim page's list of
its complaints. Moments are read from the complaint's view (the test server's clock is far
ahead and moves), never assumed."""

import asyncio
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from claimflow.complaints import view
from models.enums import ComplaintState
from web.i18n import Formatter

SHANGHAI = Formatter("en", ZoneInfo("Asia/Shanghai"))  # how the test users see moments (tests/web_support.py)
ACTION_FORM = re.compile(r'<form method="post" action="/complaints/[^/"]+/act/(\w+)"')


def intake(policy, **changes) -> dict:
    return {
        "policy": policy.name, "channel": "phone", "category": "damaged_packaging", "locale": "en",
        "description": "the box was crushed and two figures are missing", "customer_name": "Wang Fang",
        "customer_contact": "wang.fang@example.com",
    } | changes  # fmt: skip


async def take_in(client, claims, policy, **changes) -> str:
    """A complaint recorded through the form; its number (terminated after the test)."""
    response = await client.post("/complaints/new", data={"csrf_token": client.csrf, **intake(policy, **changes)})
    assert response.status_code == 303, response.text[-2000:]
    number = response.headers["location"].removeprefix("/complaints/").removesuffix("?opened=1")
    claims.opened.append(claims.client.get_workflow_handle(number))
    return number


async def post(client, number: str, action: str, **fields):
    return await client.post(f"/complaints/{number}/act/{action}", data={"csrf_token": client.csrf, **fields})


def section(page: str, name: str) -> str:
    """The HTML of the complaint page's panel `name` (complaint-routing, complaint-escalations, …)."""
    start = page.index(f'class="panel {name}"')
    return page[start : page.index("</section>", start)]


def forms_on(page: str) -> list[str]:
    return ACTION_FORM.findall(page)


async def listed(client, url: str, number: str) -> str:
    """The list page at `url` once it shows `number` (the worker projects it a moment later)."""
    for _ in range(200):
        page = (await client.get(url)).text
        if number in page:
            return page
        await asyncio.sleep(0.02)
    raise AssertionError(f"{number} never listed at {url}")


async def test_a_complaint_taken_in_from_the_form_shows_its_routing_and_clocks(web, claims, figures):
    amy = await web.as_user("amy")
    assert "Choose a policy" in (await amy.get("/complaints/new")).text
    form = (await amy.get(f"/complaints/new?policy={figures.name}")).text
    assert figures.name in form and 'value="damaged_packaging"' in form and "warehouse" in form
    number = await take_in(amy, claims, figures)
    assert number.startswith("CP-")
    v = await view(claims.client, number)
    assert (v.state, v.department, v.opened_by) == (ComplaintState.AWAITING_REPLY, "warehouse", "amy")

    page = (await amy.get(f"/complaints/{number}?opened=1")).text
    assert "Complaint recorded and routed to warehouse." in page
    routing = section(page, "complaint-routing")
    assert "goes to the warehouse" in routing and figures.clause_text("System 6") in routing  # with the clause's text
    assert SHANGHAI.when(v.reply_clock.due_at) in page  # the reply's due moment
    assert [step.level for step in v.ladder] == ["handler", "department_head", "leader"]
    for step in v.ladder:  # each level's moment and end
        assert SHANGHAI.when(step.at) in page and SHANGHAI.when(step.until) in page
    assert forms_on(page) == ["record_reply"]  # an agent, while the reply is awaited
    assert "<script>" not in page and " style=" not in page and "<style" not in page  # the CSP allows none
    assert not re.search(r"<[^>]+\son[a-z]+=", page)


async def test_bad_input_keeps_what_was_typed_and_names_it(web, claims, figures):
    amy = await web.as_user("amy")
    typed = intake(figures, customer_name="", customer_contact="x" * 201, description="my parcel, crushed")
    response = await amy.post("/complaints/new", data={"csrf_token": amy.csrf, **typed})
    assert response.status_code == 422
    page = response.text
    assert "this is required" in page and "at most 200 characters" in page
    assert "my parcel, crushed" in page and 'value="damaged_packaging" selected' in page  # nothing typed is lost

    typed = intake(figures, category="lost_in_space")
    page = (await amy.post("/complaints/new", data={"csrf_token": amy.csrf, **typed})).text
    assert "no complaint category &#39;lost_in_space&#39;" in page and "the box was crushed" in page

    typed = intake(figures, claim_number="CK-NO-SUCH-1")
    response = await amy.post("/complaints/new", data={"csrf_token": amy.csrf, **typed})
    assert response.status_code == 422
    assert "“CK-NO-SUCH-1”: there is no claim with this number" in response.text
    assert 'value="CK-NO-SUCH-1"' in response.text


async def test_a_reply_then_the_customer_satisfied_closes_it(web, claims, figures):
    amy = await web.as_user("amy")
    number = await take_in(amy, claims, figures)
    done = await post(amy, number, "record_reply", reply="We send the two missing figures today.")
    assert done.status_code == 303 and done.headers["location"] == f"/complaints/{number}?done=record_reply"
    page = (await amy.get(done.headers["location"])).text
    assert "We send the two missing figures today." in page and "in time" in page
    assert forms_on(page) == ["record_satisfaction"]

    done = await post(amy, number, "record_satisfaction", satisfied="yes")
    assert done.status_code == 303
    v = await view(claims.client, number)
    assert v.state is ComplaintState.CLOSED and v.satisfied is True
    page = (await amy.get(f"/complaints/{number}")).text
    assert forms_on(page) == [] and "Nothing can be done on this complaint now." in page


async def test_not_satisfied_reopens_it_with_a_new_reply_clock(web, claims, figures):
    amy = await web.as_user("amy")
    number = await take_in(amy, claims, figures)
    first = (await view(claims.client, number)).reply_clock
    await claims.sleep(hours=2)
    assert (await post(amy, number, "record_reply", reply="Sorry; a new box is on its way.")).status_code == 303
    await claims.sleep(hours=1)
    assert (await post(amy, number, "record_satisfaction", satisfied="no", note="still missing one")).status_code == 303
    v = await view(claims.client, number)
    second = v.reply_clock
    assert v.state is ComplaintState.AWAITING_REPLY and v.reopens == 1 and second.cycle == 2
    assert second.due_at - second.started_at == first.due_at - first.started_at and second.due_at > first.due_at
    page = (await amy.get(f"/complaints/{number}")).text
    assert "Reply clock #2" in page and SHANGHAI.when(second.due_at) in page and "reopened once" in page
    assert "not satisfied" in page and forms_on(page) == ["record_reply"]


async def test_an_escalation_shows_on_the_page_and_in_the_list_after_time_passes(web, claims, figures):
    sam = await web.as_user("sam")
    number = await take_in(sam, claims, figures)
    due = (await view(claims.client, number)).reply_clock.due_at
    await claims.sleep_until(due + timedelta(minutes=1))
    for _ in range(200):
        v = await view(claims.client, number)
        if v.escalations:
            break
        await asyncio.sleep(0.02)
    assert [e.level for e in v.escalations] == ["handler"] and v.overdue
    page = (await sam.get(f"/complaints/{number}")).text
    escalations = section(page, "complaint-escalations")
    assert "overdue" in page and "warehouse@model-figures.example" in escalations
    assert f"no reply by {SHANGHAI.when(due)}" in escalations
    assert "acknowledge_escalation" in forms_on(page)  # a supervisor takes it in hand
    listing = await listed(sam, "/complaints?overdue=yes&department=warehouse", number)
    assert "badge warn\">handler" in listing

    assert (await post(sam, number, "acknowledge_escalation", note="calling the customer")).status_code == 303
    page = (await sam.get(f"/complaints/{number}")).text
    assert "acknowledge_escalation" not in forms_on(page) and "calling the customer" in page


async def test_an_agent_cannot_take_a_supervisors_actions(web, claims, figures):
    amy, sam = await web.as_user("amy"), await web.as_user("sam")
    number = await take_in(amy, claims, figures)
    assert (await post(amy, number, "close_complaint", reason="settled by phone")).status_code == 403
    assert (await post(amy, number, "reassign", department="sales")).status_code == 403
    assert set(forms_on((await sam.get(f"/complaints/{number}")).text)) == {"record_reply", "reassign",
                                                                             "close_complaint", "cancel_complaint"}
    refused = await post(amy, number, "record_satisfaction", satisfied="yes")  # no reply yet: the workflow refuses
    assert refused.status_code == 409
    assert "record_satisfaction is not allowed while the complaint is awaiting_reply" in refused.text

    assert (await post(sam, number, "reassign", department="sales", note="about the courier")).status_code == 303
    assert (await view(claims.client, number)).department == "sales"
    aud = await web.as_user("aud")
    page = (await aud.get(f"/complaints/{number}")).text
    assert forms_on(page) == [] and "Your role takes no action on this complaint now." in page
    assert (await post(aud, number, "record_reply", reply="hello")).status_code == 403


async def test_emergencies_stand_out_in_the_list(web, claims, figures):
    amy = await web.as_user("amy")
    urgent = await take_in(amy, claims, figures, emergency="on", category="product_quality")
    plain = await take_in(amy, claims, figures)
    page = await listed(amy, "/complaints?state=open", plain)
    page = await listed(amy, "/complaints?state=open", urgent)
    assert re.search(rf'<tr class="emergency[^"]*">\s*<td><a href="/complaints/{urgent}"', page)
    assert not re.search(rf'<tr class="emergency[^"]*">\s*<td><a href="/complaints/{plain}"', page)
    only = await listed(amy, "/complaints?category=product_quality", urgent)
    assert plain not in only
    bad = (await amy.get("/complaints?department=nowhere&overdue=maybe")).text
    assert "there is no department “nowhere”" in bad and "“maybe” is not yes or no" in bad
    assert urgent in bad  # the list with the filters that could be read
    v = await view(claims.client, urgent)
    assert [e.level for e in v.escalations] == ["leader"]  # reported to the leader at once


async def test_the_claim_page_lists_its_complaints(web, claims, figures, changkong):
    claim = (await claims.open(changkong)).id
    amy = await web.as_user("amy")
    page = (await amy.get(f"/claims/{claim}")).text
    new_link = f"/complaints/new?claim_number={claim}"
    assert new_link in page
    assert f'name="claim_number" value="{claim}"' in (await amy.get(new_link)).text  # pre-filled
    number = await take_in(amy, claims, figures, claim_number=claim.lower())  # typed in either case
    assert (await view(claims.client, number)).claim_number == claim
    page = await listed(amy, f"/claims/{claim}", number)
    assert number in await listed(amy, f"/complaints?claim={claim.lower()}", number)
    assert f'href="/complaints/{number}"' in page
    complaint_page = (await amy.get(f"/complaints/{number}")).text
    assert f'href="/claims/{claim}"' in complaint_page


async def test_the_list_pages_by_the_next_clock(web, claims, figures, monkeypatch):
    from web.routes import complaints

    monkeypatch.setattr(complaints, "PAGE_SIZE", 1)
    amy = await web.as_user("amy")
    first = await take_in(amy, claims, figures)
    await claims.sleep(minutes=5)
    second = await take_in(amy, claims, figures)  # its reply is due 5 minutes later
    await listed(amy, "/complaints", "2 complaints")  # both projected
    page = (await amy.get("/complaints")).text
    assert first in page and second not in page
    after = re.search(r'<a href="(/complaints\?[^"]*after=[^"]+)" rel="next">', page)
    assert after, page
    following = (await amy.get(after.group(1).replace("&amp;", "&"))).text
    assert second in following and first not in following and "First page" in following
    typo = (await amy.get("/complaints?claim=%3Cnot%20a%20claim%3E")).text
    assert "“&lt;not a claim&gt;” is not a claim number" in typo
