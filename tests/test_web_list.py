"""The claims list of the web UI (web/routes/claims_list.py) over the read model: filters,
search, counts per state, keyset pages, bad filter input, rows that stand out, who may
read it; and the list's queries: the deadline it sorts by, the 0004 migration's
backfill, and query plans that read pages in index order (SQLite and PostgreSQL)."""

import asyncio
import html
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, insert, text
from sqlmodel import Session, select
from sqlmodel.sql.sqltypes import UTCDateTime

from claimflow.claim_lists import (
    ClaimFilter, PageKey, claims_page, counts_query, page_query, plan_sorts, query_plan, state_counts,
)  # fmt: skip
from claimflow.db import engine_for, migrate
from claimflow.projection import row_values
from models.claim import DeadlineStatus, snapshot_of
from models.read_model import NO_DEADLINE, ClaimRow
from tests.test_read_model_keys import view

ROW = re.compile(r'<tr(?: class="([^"]*)")?>\s*<td><a href="/claims/([^"?]+)">')


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def claim(number: str, state: str = "repairing", due: datetime | None = None, **columns) -> dict:
    """A read-model row as the projection writes it (`due`: the deadline it is chased on)."""
    at = now()
    escalation = columns.pop("escalation_level", None)
    return {
        "claim_key": columns.pop("claim_key", f"key-{number}"), "claim_number": number, "policy": "changkong",
        "kind": "repair", "state": state, "channel": "return_repair", "opened_at": at - timedelta(days=3),
        "updated_at": at, "due_at": due, "due_kind": "repair" if due else None,
        "deadline_sort": due or NO_DEADLINE, "overdue": due is not None and due < at,
        "escalation_level": escalation, "escalated": escalation is not None, "version": 1, "assignee": None,
        "serial_number": None, "rma_number": None,
    } | columns  # fmt: skip


def add(engine, *rows: dict) -> None:
    with engine.begin() as connection:
        connection.execute(insert(ClaimRow), list(rows))


def listed(page: str) -> list[str]:
    """The claim numbers of a list page's rows, in order."""
    return [number for _, number in ROW.findall(page)]


def classes(page: str) -> dict[str, str]:
    return {number: css for css, number in ROW.findall(page)}


def counts(page: str) -> dict[str, int]:
    found = re.findall(r'hx-target="#claims-page"[^>]*>([^<]+?) <span class="count">(\d+)</span>', page)
    return {label: int(n) for label, n in found}


def next_link(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)"[^>]*rel="next"', page)
    return html.unescape(found.group(1)) if found else None


def field_error(page: str, name: str) -> str:
    return re.search(rf'id="claims-error-{name}"[^>]*>([^<]*)</span>', page).group(1)


@pytest.fixture
def read_model(web):
    engine = engine_for(web.settings.database_url)
    yield engine
    engine.dispose()


async def page_of(client, query: str = "", **headers) -> str:
    response = await client.get("/claims" + (f"?{query}" if query else ""), headers=headers)
    assert response.status_code == 200, response.text
    return response.text


# --- who may read it ----------------------------------------------------------------------------


async def test_anonymous_is_sent_to_sign_in_and_htmx_gets_a_redirect_header(web):
    client = web.anonymous()
    response = await client.get("/claims?state=repairing")
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=/claims"
    htmx = await client.get("/claims", headers={"HX-Request": "true", "HX-Target": "claims-results"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/signin?next=/claims"


# --- claims opened through the workflow ---------------------------------------------------------


async def projected_rows(engine, numbers: set[str], with_rma: str) -> dict[str, ClaimRow]:
    """The claims' rows once all are there, `with_rma`'s with its RMA number."""
    for _ in range(300):
        with Session(engine) as session:
            rows = {r.claim_number: r for r in session.exec(select(ClaimRow).where(ClaimRow.claim_number.in_(numbers)))}
        if len(rows) == len(numbers) and rows[with_rma].rma_number:
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"never projected: {numbers - set(rows)}")


async def test_claims_opened_in_the_workflow_are_listed_and_found_by_number_serial_or_rma(
    web, claims, read_model, changkong, shanghai
):
    serial = f"sn-{uuid.uuid4().hex[:8]}"
    first = await claims.open(changkong, product={"model": "CK-200", "serial_number": serial.upper()})
    second = await claims.open(shanghai)
    rows = await projected_rows(read_model, {first.id, second.id}, with_rma=first.id)
    view = await claims.view(first)
    assert rows[first.id].rma_number == view.rma_number and rows[first.id].rma_number
    assert rows[first.id].due_at == min(d.due_at for d in view.open_deadlines)  # the shipping deadline
    assert rows[first.id].deadline_sort == rows[first.id].due_at

    for name in ("amy", "aud", "sam", "root"):  # every role reads the list (the auditor too)
        page = await page_of(await web.as_user(name))
        assert {first.id, second.id} <= set(listed(page)), name
        assert f'<a href="/claims/{first.id}">{first.id}</a>' in page
    amy = await web.as_user("amy")
    for typed in (first.id, serial, serial.upper(), view.rma_number):  # a serial typed in small letters too
        assert listed(await page_of(amy, f"q={typed}")) == [first.id], typed
    assert listed(await page_of(amy, "q=NO-SUCH-NUMBER")) == []
    page = await page_of(amy, f"q={first.id}")
    assert view.rma_number in page and serial.upper() in page and "shipping" in page


# --- filters, counts, pages (rows written straight into the read model) -------------------------


async def test_each_filter(web, read_model):
    tag, at = uuid.uuid4().hex[:6].upper(), now()
    n = lambda i: f"F{tag}-{i}"  # noqa: E731
    add(
        read_model,
        claim(n(1), "repairing", at + timedelta(days=2), policy="konjump", channel="on_site_repair", assignee="amy"),
        claim(n(2), "awaiting_parcel", at - timedelta(hours=5), escalation_level="supervisor", assignee="tom"),
        claim(n(3), "completed", None, policy="konjump", opened_at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC)),
        claim(n(4), "awaiting_payment", at + timedelta(days=1), channel="remote_guidance",
              opened_at=datetime(2026, 3, 1, 16, 30, tzinfo=UTC)),  # 00:30 on 2 March in Shanghai
    )  # fmt: skip
    amy = await web.as_user("amy")

    async def found(query: str) -> list[str]:
        return [number for number in listed(await page_of(amy, query)) if number.startswith(f"F{tag}-")]

    assert await found("") == [n(2), n(4), n(1), n(3)]  # passed deadline first, then soonest, none last
    assert await found("state=awaiting_payment") == [n(4)]
    assert await found("policy=konjump") == [n(1), n(3)]
    assert await found("channel=on_site_repair") == [n(1)]
    assert await found("channel=remote_guidance&policy=konjump") == []
    assert await found("overdue=yes") == [n(2)]
    assert await found("overdue=no&policy=changkong") == [n(4)]
    assert await found("escalated=yes") == [n(2)]
    assert await found("escalated=no&state=completed") == [n(3)]
    assert await found("assignee=amy") == [n(1)]
    assert await found("assignee=tom&overdue=yes") == [n(2)]
    # dates are days in the viewer's time zone (amy: Asia/Shanghai)
    assert await found("opened_from=2026-03-01&opened_to=2026-03-01") == [n(3)]
    assert await found("opened_from=2026-03-02&opened_to=2026-03-02") == [n(4)]
    assert await found("opened_from=2026-03-01&opened_to=2026-03-02") == [n(4), n(3)]
    assert await found("opened_to=2026-02-28") == []
    # empty fields, as a GET form sends them, filter nothing
    assert await found("q=&state=&policy=&channel=&overdue=&escalated=&assignee=&opened_from=&opened_to=") == \
        [n(2), n(4), n(1), n(3)]  # fmt: skip


async def test_counts_per_state_follow_the_other_filters_and_link_to_their_state(web, read_model):
    policy = "best_lighting"  # only this test's claims are under it
    add(read_model, *[claim(f"C-{i}", state, policy=policy, overdue=i == 0, channel="on_site_check")
                      for i, state in enumerate(["repairing", "repairing", "inspecting", "completed"])])  # fmt: skip
    amy = await web.as_user("amy")
    page = await page_of(amy, f"policy={policy}")
    assert counts(page) == {"all states": 4, "repairing": 2, "inspecting": 1, "completed": 1}
    assert "4 claims" in page
    link = re.search(r'<a href="([^"]+)"[^>]*>repairing <span', page).group(1)
    assert link == f"/claims?policy={policy}&amp;state=repairing"
    page = await page_of(amy, f"policy={policy}&state=repairing")  # the state's own filter leaves its counts
    assert counts(page) == {"all states": 4, "repairing": 2, "inspecting": 1, "completed": 1}
    assert "2 claims" in page and 'class="current" aria-current="page">repairing' in page
    page = await page_of(amy, f"policy={policy}&overdue=yes")
    assert counts(page) == {"all states": 1, "repairing": 1}
    page = await page_of(amy, f"policy={policy}&state=quote_expired")  # a state with none is still shown, at 0
    assert counts(page)["quote_expired"] == 0 and listed(page) == []
    assert "No claim matches these filters." in page


async def test_keyset_pages_walk_the_whole_list_without_duplicates_or_gaps(web, read_model):
    policy, at = "model_figures", now()
    rows = [
        claim(f"P-{i:03d}", "repairing", None if i % 4 == 0 else at + timedelta(hours=(i * 7) % 50 - 10),
              policy=policy, claim_key=f"k-{(i * 37) % 131:03d}")
        for i in range(131)
    ]  # ties of deadline (and many claims without one) are ordered by claim key  # fmt: skip
    add(read_model, *rows)
    expected = [r["claim_number"] for r in sorted(rows, key=lambda r: (r["deadline_sort"], r["claim_key"]))]
    amy = await web.as_user("amy")
    seen, pages, url = [], [], f"/claims?policy={policy}"
    while url:
        assert "offset" not in url
        response = await amy.get(url)
        page = response.text
        pages.append(listed(page))
        seen += listed(page)
        url = next_link(page)
        if url:
            assert re.search(r"[?&]after=", url) and f"policy={policy}" in url
    assert [len(p) for p in pages] == [50, 50, 31]
    assert seen == expected and len(set(seen)) == len(seen)
    assert "First page" in page

    # the same with htmx: the results alone, the next page link inside them
    partial = await page_of(amy, f"policy={policy}", **{"HX-Request": "true", "HX-Target": "claims-results"})
    assert partial.lstrip().startswith('<div id="claims-results">') and "<html" not in partial
    assert listed(partial) == expected[:50] and 'hx-target="#claims-results"' in partial
    section = await page_of(amy, f"policy={policy}", **{"HX-Request": "true", "HX-Target": "claims-page"})
    assert section.lstrip().startswith('<section id="claims-page"') and "<html" not in section
    assert "HX-Target" in (await amy.get("/claims")).headers["vary"]  # caches keep the page and its parts apart


def test_a_page_key_round_trips_and_a_deep_page_starts_after_it(engine):
    add(engine, *[claim(f"D-{i}", due=now() + timedelta(minutes=i % 5)) for i in range(12)])
    first = claims_page(engine, ClaimFilter(), size=5)
    assert first.next == PageKey.of(first.rows[-1]) and PageKey.parse(first.next.token()) == first.next
    second = claims_page(engine, ClaimFilter(), PageKey.parse(first.next.token()), size=5)
    third = claims_page(engine, ClaimFilter(), second.next, size=5)
    numbers = [r.claim_number for p in (first, second, third) for r in p.rows]
    assert len(numbers) == 12 == len(set(numbers)) and third.next is None
    assert state_counts(engine, ClaimFilter(state="completed")) == {"repairing": 12}
    for bad in ("", "nonsense", "2026-01-01", "2026-01-01T00:00:00|", "2026-01-01T00:00:00|k"):  # no zone
        with pytest.raises(ValueError):
            PageKey.parse(bad)


# --- bad input ----------------------------------------------------------------------------------


async def test_bad_filters_get_a_message_beside_their_field_and_the_rest_still_works(web, read_model):
    add(read_model, claim("B-1", policy="shanghai_equipment"), claim("B-2", policy="changkong"))
    amy = await web.as_user("amy")
    query = ("state=bogus&opened_from=2026-02-30&opened_to=yesterday&overdue=maybe&escalated=si"
             "&channel=teleport&policy=shanghai_equipment")  # fmt: skip
    page = await page_of(amy, query)
    assert field_error(page, "state") == "there is no state “bogus”"
    assert field_error(page, "opened_from") == "“2026-02-30” is not a date: write it as YYYY-MM-DD"
    assert field_error(page, "opened_to") == "“yesterday” is not a date: write it as YYYY-MM-DD"
    assert field_error(page, "overdue") == "“maybe” is not yes or no"
    assert field_error(page, "escalated") == "“si” is not yes or no"
    assert field_error(page, "channel") == "there is no channel “teleport”"
    assert field_error(page, "policy") == "" and field_error(page, "q") == ""
    assert "B-1" in listed(page) and "B-2" not in listed(page)  # the good filter still applies
    assert 'value="2026-02-30"' in page and 'value="bogus" selected' in page  # nothing typed is lost
    links = re.findall(r'href="(/claims\?[^"]*)"', page)
    assert links and all("policy=shanghai_equipment" in link and "bogus" not in link for link in links), links

    page = await page_of(amy, "policy=nowhere&opened_from=2026-03-05&opened_to=2026-03-01&assignee=" + "x" * 201)
    assert field_error(page, "policy") == "there is no policy “nowhere”"
    assert field_error(page, "opened_to") == "“2026-03-01” is before the first day, 2026-03-05"
    assert field_error(page, "assignee") == "“" + "x" * 40 + "…” is too long: at most 200 characters"

    page = await page_of(amy, "opened_from=20260301&opened_to=9999-12-31")
    assert field_error(page, "opened_from") == "“20260301” is not a date: write it as YYYY-MM-DD"
    assert field_error(page, "opened_to") == "“9999-12-31” is too far from today"

    page = await page_of(amy, "after=not-a-key")
    assert "that page link is out of date; this is the first page" in page and "B-1" in listed(page)

    # htmx: the results, and every field's message swapped in beside its field (empty ones clear)
    partial = await page_of(amy, "state=bogus", **{"HX-Request": "true", "HX-Target": "claims-results"})
    assert re.search(r'<span id="claims-error-state" class="field-error" role="alert" hx-swap-oob="true">'
                     r"there is no state “bogus”</span>", partial)  # fmt: skip
    assert '<span id="claims-error-opened_from" class="field-error" hx-swap-oob="true"></span>' in partial
    assert "B-1" in listed(partial)


async def test_typed_text_is_escaped(web):
    amy = await web.as_user("amy")
    page = await page_of(amy, "state=%3Cscript%3Ealert(1)%3C/script%3E&q=%3Cb%3E")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --- rows that stand out, times ------------------------------------------------------------------


async def test_overdue_and_escalated_rows_stand_out_with_the_time_left(web, read_model):
    at = now()  # (each text holds while the test takes less than 20 minutes)
    soon = at + timedelta(days=2, hours=3, minutes=30)
    add(
        read_model,
        claim("O-1", due=at - timedelta(hours=4, minutes=10)),
        claim("O-2", due=soon, escalation_level="agent"),
        claim("O-3", due=at - timedelta(days=1, hours=2, minutes=5), escalation_level="manager"),
        claim("O-4", due=at + timedelta(minutes=50)),
        claim("O-5", "completed"),
    )
    page = await page_of(await web.as_user("amy"))
    assert classes(page) == {"O-3": "overdue escalated", "O-1": "overdue", "O-4": "", "O-2": "escalated", "O-5": ""}
    cells = dict(re.findall(r'<a href="/claims/([^"?]+)">[^<]*</a></td>(.*?)</tr>', page, re.S))
    assert "4 h overdue" in cells["O-1"] and "1 d 2 h overdue" in cells["O-3"]
    assert "in 2 d 3 h" in cells["O-2"] and re.search(r"in [345]\d min", cells["O-4"])
    assert "none" in cells["O-5"] and "overdue" not in cells["O-5"]
    shanghai = soon.astimezone(ZoneInfo("Asia/Shanghai"))  # amy's time zone
    assert f"{shanghai.day}, {shanghai.year}, {shanghai.hour % 12 or 12}:{shanghai.minute:02d}:" in cells["O-2"]
    assert "times in Asia/Shanghai" in page


async def test_the_page_has_no_inline_script_or_style_and_works_as_a_plain_form(web):
    page = await page_of(await web.as_user("aud"))
    assert "<script>" not in page and "<style" not in page and " style=" not in page and " on" + "click" not in page
    form = re.search(r'<form[^>]*class="claims-filters"[^>]*>', page).group(0)
    assert 'method="get"' in form and 'action="/claims"' in form
    assert 'hx-get="/claims"' in form and 'hx-target="#claims-results"' in form and 'hx-push-url="true"' in form


# --- the deadline lists sort by; the migration ------------------------------------------------------


def test_an_overdue_claim_sorts_by_the_deadline_it_missed():
    at = datetime(2026, 3, 11, 2, tzinfo=UTC)
    passed = DeadlineStatus(kind="repair", cycle=1, started_at=at, due_at=at + timedelta(days=1), clause_ids=[],
                            due_passed=True)  # fmt: skip
    later = DeadlineStatus(kind="payment", cycle=1, started_at=at, due_at=at + timedelta(days=5), clause_ids=[])
    paused = later.model_copy(update={"kind": "shipping", "due_at": at, "paused_at": at})
    open_view = view().model_copy(update={"deadlines": [later, passed, paused], "state": "repairing",
                                          "rma_number": "RMA-9"})  # fmt: skip
    snapshot = snapshot_of(open_view)
    assert (snapshot.due_at, snapshot.due_kind) == (passed.due_at, "repair")
    assert snapshot.next_deadline_at == later.due_at  # (the next one to come, as before)
    values = row_values(snapshot)
    assert values["deadline_sort"] == passed.due_at and values["rma_number"] == "RMA-9"
    closed = snapshot_of(open_view.model_copy(update={"state": "cancelled"}))
    assert closed.due_at == later.due_at  # a closed claim is not chased on what it missed
    none = row_values(snapshot_of(open_view.model_copy(update={"deadlines": []})))
    assert (none["due_at"], none["deadline_sort"], none["escalated"]) == (None, NO_DEADLINE, False)
    older = snapshot.model_copy(update={"due_at": None, "due_kind": None})  # scheduled before due_at existed
    assert row_values(older)["deadline_sort"] == later.due_at and row_values(older)["due_kind"] == "payment"


def test_the_migration_fills_the_new_columns_of_rows_already_there(database_url):
    engine = engine_for(database_url)
    migrate(engine, "0003")
    insert_old = text(
        "INSERT INTO claims (claim_key, claim_number, policy, kind, state, channel, opened_at, updated_at,"
        " next_deadline_at, next_deadline_kind, overdue, escalation_level, version)"
        " VALUES (:key, :key, 'changkong', 'repair', 'repairing', 'return_repair', :at, :at, :due, :kind, false,"
        " :level, 1)"
    ).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("due", type_=UTCDateTime()))
    due = datetime(2026, 5, 1, 8, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(insert_old, {"key": "M-1", "at": due, "due": due, "kind": "repair", "level": None})
        connection.execute(insert_old, {"key": "M-2", "at": due, "due": None, "kind": None, "level": "agent"})
    migrate(engine)
    with Session(engine) as session:
        one, two = session.exec(select(ClaimRow).order_by(ClaimRow.claim_key)).all()
    assert (one.due_at, one.due_kind, one.deadline_sort, one.escalated) == (due, "repair", due, False)
    assert (two.due_at, two.deadline_sort, two.escalated, two.rma_number) == (None, NO_DEADLINE, True, None)
    assert [r.claim_number for r in claims_page(engine).rows] == ["M-1", "M-2"]
    engine.dispose()


# --- query plans ----------------------------------------------------------------------------------

FILTERS = {
    "none": ClaimFilter(),
    "state": ClaimFilter(state="repairing"),
    "policy": ClaimFilter(policy="konjump"),
    "channel": ClaimFilter(channel="on_site_repair"),
    "overdue": ClaimFilter(overdue=True),
    "escalated": ClaimFilter(escalated=True),
    "assignee": ClaimFilter(assignee="amy"),
    "opened": ClaimFilter(opened_from=datetime(2026, 1, 1, tzinfo=UTC), opened_before=datetime(2026, 2, 1, tzinfo=UTC)),
    "policy and overdue": ClaimFilter(policy="konjump", overdue=False),
    "state and escalated": ClaimFilter(state="repairing", escalated=True),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_every_page_is_read_in_index_order_and_counts_from_an_index(engine, name):
    """No filter's first page (or next page) sorts the claims it finds: an index gives the
    order (PostgreSQL: with sorting switched off the plan has no Sort, so one exists). The
    counts under one filter read that filter's index alone (SQLite: a covering index)."""
    add(engine, *[claim(f"Q-{i}", due=now() + timedelta(hours=i)) for i in range(20)])
    where = FILTERS[name]
    postgres = engine.dialect.name == "postgresql"
    no_sort = {"enable_sort": "off"} if postgres else None
    after = PageKey(now(), "key-Q-3")
    for query in (page_query(where), page_query(where, after)):
        plan = query_plan(engine, query, no_sort)
        assert not plan_sorts(plan), "\n".join(plan)
        assert postgres or not any(line.startswith("SCAN claims") and "INDEX" not in line for line in plan), plan
    if not postgres:
        plan = query_plan(engine, counts_query(where))
        assert all("COVERING INDEX" in line or "GROUP BY" in line for line in plan), plan
        if where.opened_from is None and replace(where, state=None) != ClaimFilter():
            assert any(line.startswith("SEARCH") for line in plan), plan  # a range of the index, not all of it
    # the break-glass check that the test itself can fail: the old order cannot be read from an index
    old = page_query(where).order_by(None).order_by(ClaimRow.due_at.is_(None), ClaimRow.due_at, ClaimRow.claim_key)
    assert plan_sorts(query_plan(engine, old, no_sort))


def test_a_search_reads_the_number_indexes(engine):
    plan = query_plan(engine, page_query(ClaimFilter(search="SN-1")), {"enable_seqscan": "off"}
                      if engine.dialect.name == "postgresql" else None)  # fmt: skip
    text_plan = "\n".join(plan)
    for index in ("ix_claims_claim_number", "ix_claims_serial_number", "ix_claims_rma_number"):
        assert index in text_plan, text_plan
