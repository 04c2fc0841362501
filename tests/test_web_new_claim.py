"""The new-claim form (web/routes/new_claim.py): only the fields the chosen policy needs,
the intake checks beside their fields with everything typed kept, and a claim opened from
the form whose page shows the policy check's decision with its clauses."""

import re
import uuid
from datetime import timedelta

import pytest

from claimflow.calendars import local_today
from tests.browser import browser, chromium, sign_in
from tests.test_web_claim import serving
from tests.web_support import PASSWORD

CHANGKONG_TZ = "Asia/Shanghai"


def beside(page: str, name: str) -> str:
    """The HTML from the field `name` to the next field: where its errors are shown."""
    start = page.index(f'name="{name}"')
    ends = [page.find(mark, start + 1) for mark in ("<label", "</fieldset>")]
    return page[start : min(e for e in ends if e != -1)]


def typed(number: str | None = None, **changes) -> dict:
    """A repair claim under changkong as an agent fills the form in."""
    today = local_today(CHANGKONG_TZ)
    form = {
        "seen": "1",
        "policy": "changkong",
        "kind": "repair",
        "claim_number": number if number is not None else f"WEB-{uuid.uuid4().hex[:8].upper()}",
        "proof_of_purchase": "on",
        "purchase_date": (today - timedelta(days=40)).isoformat(),
        "factory_shipment_date": (today - timedelta(days=80)).isoformat(),
        "customer_name": "Li Wei",
        "customer_contact": "li.wei@example.com",
        "product_model": "CK-200",
        "product_serial": "SN-0042",
        "product_barcode": "",
        "fault_description": "does not power on",
    }
    return form | changes


def kinds_offered(page: str) -> list[str]:
    return re.findall(r'<option value="(\w+)"', page[page.index('name="kind"') :].split("</select>")[0])


async def open_from_form(web, claims, client, form: dict):
    response = await client.post("/claims/new", data={"csrf_token": client.csrf, **form})
    if response.status_code == 303:  # the claim fixture ends the claim after the test
        number = response.headers["location"].split("/")[2].split("?")[0]
        claims.opened.append(claims.client.get_workflow_handle(number))
    return response


async def test_the_form_asks_only_what_the_chosen_policy_needs(web):
    amy = await web.as_user("amy")
    blank = (await amy.get("/claims/new")).text
    assert all(f'<option value="{p}"' in blank for p in ("changkong", "konjump", "shanghai_equipment"))
    assert 'name="customer_name"' not in blank and "Choose a policy" in blank

    changkong = (await amy.get("/claims/new?policy=changkong")).text
    assert 'name="factory_shipment_date"' in changkong and 'name="purchase_date"' in changkong
    assert 'name="contract_warranty_months"' not in changkong and 'name="goods_received_date"' not in changkong
    assert kinds_offered(changkong) == ["return", "repair", "service"]
    assert 'name="conditions"' not in changkong  # changkong's exclusions are for returns only

    returning = await amy.get("/claims/new/fields?policy=changkong&kind=return")
    assert "<html" not in returning.text and 'id="claim-fields"' in returning.text
    assert 'name="goods_received_date"' in returning.text and 'value="misuse"' in returning.text

    konjump = (await amy.get("/claims/new?policy=konjump")).text
    assert 'name="contract_warranty_months"' in konjump and 'name="factory_shipment_date"' not in konjump
    assert kinds_offered(konjump) == ["repair"] and 'value="not_purchased_directly"' in konjump

    typed_before = "seen=1&customer_name=Li+Wei&fault_description=hot"
    switched = (await amy.get(f"/claims/new/fields?policy=konjump&{typed_before}")).text
    assert 'value="Li Wei"' in switched and ">hot</textarea>" in switched  # what was typed stays
    assert 'name="proof_of_purchase" checked' not in switched  # left unticked stays unticked
    assert 'name="proof_of_purchase" checked' in konjump  # a fresh form assumes a proof

    assert (await (await web.as_user("aud")).get("/claims/new")).status_code == 403
    assert 'hx-get="/claims/new/fields"' in blank and 'hx-params="not csrf_token"' in blank


async def test_a_claim_opened_from_the_form_shows_the_policy_check_with_its_clauses(web, claims):
    amy = await web.as_user("amy")
    form = typed()
    response = await open_from_form(web, claims, amy, form)
    number = form["claim_number"]
    assert response.status_code == 303 and response.headers["location"] == f"/claims/{number}?opened=1"
    page = (await amy.get(response.headers["location"])).text
    view = await claims.view(claims.opened[-1])
    assert view.customer.name == "Li Wei" and view.state.value == "awaiting_parcel"
    assert view.timeline[0].by == "amy"  # the signed-in user opened it
    check = next(d for d in view.decisions if d.what == "policy_check")
    start = page.index('data-what="policy_check"')
    shown = page[start : page.index("data-what=", start + 1)]
    for clause in check.clause_ids:
        assert f"<details id=\"dec-1-{check.clause_ids.index(clause) + 1}\" open><summary>{clause}</summary>" in shown
        assert view.clauses[clause].replace("'", "&#39;") in shown
    assert "accepted" in shown


async def test_each_error_is_shown_beside_its_field_and_nothing_typed_is_lost(web, claims):
    amy = await web.as_user("amy")
    form = typed(
        "x", policy="konjump", purchase_date="2026-13-01", contract_warranty_months="abc", customer_name=" ",
        product_barcode="6901234", fault_description="smells of smoke",
    )  # fmt: skip
    response = await open_from_form(web, claims, amy, form)
    assert response.status_code == 422
    page = response.text
    assert "“x”: 3 to 40 letters, digits or dashes" in beside(page, "claim_number")
    assert "“2026-13-01”: not a date" in beside(page, "purchase_date")
    assert "“abc”: not a whole number" in beside(page, "contract_warranty_months")
    assert "this is required" in beside(page, "customer_name")
    assert "field-error" not in beside(page, "customer_contact")
    for name in ("purchase_date", "contract_warranty_months", "customer_contact", "product_barcode"):
        assert f'value="{form[name]}"' in beside(page, name)
    assert ">smells of smoke</textarea>" in page and '<option value="konjump" selected>' in page
    assert claims.opened == []


async def test_the_policy_checks_are_shown_beside_the_fields_they_name(web, claims):
    amy = await web.as_user("amy")
    later = (local_today(CHANGKONG_TZ) + timedelta(days=3)).isoformat()
    response = await open_from_form(web, claims, amy, typed(kind="return", purchase_date=later))
    assert response.status_code == 422
    assert "a return needs goods_received_date" in beside(response.text, "goods_received_date")
    assert f"purchase_date {later} is in the future" in beside(response.text, "purchase_date")
    response = await open_from_form(web, claims, amy, typed(policy="konjump"))
    assert "give purchase_date and contract_warranty_months" in beside(response.text, "contract_warranty_months")
    earlier = (local_today(CHANGKONG_TZ) - timedelta(days=50)).isoformat()
    response = await open_from_form(web, claims, amy, typed(kind="return", goods_received_date=earlier))
    assert re.search(r"purchase_date \(\S+\) is after goods_received_date", beside(response.text, "purchase_date"))
    assert claims.opened == []


async def test_a_claim_number_used_before_is_refused_and_an_empty_one_is_generated(web, claims, changkong):
    handle = await claims.open(changkong)
    amy = await web.as_user("amy")
    response = await open_from_form(web, claims, amy, typed(handle.id.lower(), customer_name="Wang Fang"))
    assert response.status_code == 409
    assert f"“{handle.id.lower()}”: this claim number is used already" in beside(response.text, "claim_number")
    assert 'value="Wang Fang"' in response.text and len(claims.opened) == 1
    response = await open_from_form(web, claims, amy, typed(""))
    assert response.status_code == 303
    assert re.fullmatch(r"/claims/CF-\d{6}-[0-9A-F]{6}\?opened=1", response.headers["location"])


async def test_without_scripts_the_policy_is_chosen_by_a_button_that_keeps_what_was_typed(web, claims):
    amy = await web.as_user("amy")
    page = (await amy.get("/claims/new")).text
    assert 'name="refresh"' in page and "no-js" in page
    response = await amy.post(
        "/claims/new", data={"csrf_token": amy.csrf, **typed(policy="konjump", customer_name="Li Wei"), "refresh": "1"}
    )
    assert response.status_code == 200 and 'name="contract_warranty_months"' in response.text
    assert 'value="Li Wei"' in response.text and "field-error" not in response.text and claims.opened == []


async def test_a_post_without_the_csrf_token_is_forbidden(web, claims):
    amy = await web.as_user("amy")
    response = await amy.post("/claims/new", data=typed())
    assert response.status_code == 403 and claims.opened == []


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
async def test_in_a_browser_switching_the_policy_swaps_its_fields_and_keeps_what_was_typed(web, claims):
    async with serving(web.app) as base, browser() as chrome:
        page = await chrome.new_page()
        page.set_default_timeout(5000)
        await sign_in(page, base, "amy", PASSWORD)
        await page.goto(f"{base}/claims/new")
        assert not await page.locator("button[name=refresh]").is_visible()  # only needed without scripts
        await page.select_option("select[name=policy]", "changkong")
        await page.wait_for_selector("input[name=factory_shipment_date]")
        await page.fill("input[name=customer_name]", "Li Wei")
        await page.select_option("select[name=kind]", "return")
        await page.wait_for_selector("input[name=goods_received_date]")
        await page.select_option("select[name=policy]", "konjump")
        await page.wait_for_selector("input[name=contract_warranty_months]")
        assert await page.locator("input[name=factory_shipment_date]").count() == 0
        assert await page.input_value("input[name=customer_name]") == "Li Wei"
        today = local_today(CHANGKONG_TZ)
        await page.fill("input[name=purchase_date]", (today - timedelta(days=20)).isoformat())
        await page.fill("input[name=contract_warranty_months]", "12")
        for name, value in (("customer_contact", "li@ex.com"), ("product_model", "KJ-1"), ("product_serial", "S1")):
            await page.fill(f"input[name={name}]", value)
        await page.fill("textarea[name=fault_description]", "no display")
        await page.click("button:text('Open the claim')")
        await page.wait_for_url(re.compile(r".*/claims/CF-.*opened=1"))
        claims.opened.append(claims.client.get_workflow_handle(page.url.split("/claims/")[1].split("?")[0]))
        assert await page.locator('[data-what="policy_check"] details[open]').count() >= 1
