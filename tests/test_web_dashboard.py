"""The dashboard (web/routes/dashboard.py): its figures from a read model filled directly
(claimflow/dashboard.py, on SQLite and PostgreSQL), the charts (web/charts.py: valid SVG,
a <title> per bar) and the table of the same numbers under each chart."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from claimflow.dashboard import Count, dashboard
from claimflow.db import engine_for
from models.read_model import ClaimEventRow, ClaimRow, EscalationRow
from web.charts import Bar, bar_chart, week_chart

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 6, 17, 12, tzinfo=UTC)  # a Wednesday of ISO week 2026-W25
DAY = timedelta(days=1)


def claim(number: str, state: str, *, policy: str = "changkong", remedy: str | None = None, opened: datetime,
          resolved: datetime | None = None, level: str | None = None, changed: datetime | None = None,
          ) -> ClaimRow:  # fmt: skip
    """A claim row as the projection writes it: `resolved` is its resolved_at (models.claim.resolved_at),
    `changed` its last change (default: when it was resolved, else opened)."""
    done = state in ("completed", "post_repair_warranty")
    return ClaimRow(
        claim_key=f"key-{number}", claim_number=number, policy=policy, kind="repair", state=state,
        channel="return_repair", remedy=remedy, opened_at=opened, updated_at=changed or resolved or opened,
        escalation_level=level, resolved_at=resolved if done else None,
    )  # fmt: skip


def rung(number: str, deadline: str, step: int, level: str, at: datetime, cycle: int = 1, extension: int = 0):
    return EscalationRow(claim_key=f"key-{number}", claim_number=number, deadline=deadline, cycle=cycle, step=step,
                         extension=extension, level=level, notify=level, at=at)  # fmt: skip


def state_entry(number: str, seq: int, summary: str, at: datetime) -> ClaimEventRow:
    return ClaimEventRow(claim_key=f"key-{number}", claim_number=number, seq=seq, at=at, kind="state", summary=summary)


def read_model(now: datetime) -> list:
    """Claims with known figures, relative to `now`."""
    start = now - timedelta(days=200)
    return [
        # open: 3 awaiting_parcel (2 changkong, 1 konjump), 2 repairing (konjump), and R-5 below
        claim("O-1", "awaiting_parcel", opened=start, level="supervisor"),
        claim("O-2", "awaiting_parcel", opened=start + 3 * DAY),
        claim("O-3", "awaiting_parcel", policy="konjump", opened=start + 2 * DAY),
        claim("O-4", "repairing", policy="konjump", opened=start + 5 * DAY),
        claim("O-5", "repairing", policy="konjump", opened=start + 1 * DAY),
        # closed: never counted as open
        claim("X-1", "cancelled", opened=start - DAY, resolved=start + 400 * DAY),
        claim("X-2", "expired", policy="shanghai_equipment", opened=start - 2 * DAY, resolved=start + 90 * DAY),
        # resolved, changkong: 1, 3 and 10 days → median 3; the paid repair ended its 60-day window at day 70,
        # but the product was back with the customer on day 10 (its entry into the window)
        claim("R-1", "completed", remedy="free_repair", opened=start, resolved=start + 1 * DAY),
        claim("R-2", "completed", remedy="refund", opened=start, resolved=start + 3 * DAY),
        claim("R-3", "completed", remedy="paid_repair", opened=start, resolved=start + 10 * DAY,
              changed=start + 70 * DAY),  # fmt: skip
        state_entry("R-3", 0, "opened → awaiting_parcel", start),
        state_entry("R-3", 1, "shipped_back → post_repair_warranty", start + 10 * DAY),
        state_entry("R-3", 2, "post_repair_warranty → completed", start + 70 * DAY),
        # resolved, konjump: 2 and 4 days → median 3 (the mean of the middle two); one still in its window
        claim("R-4", "completed", policy="konjump", remedy="refund", opened=start, resolved=start + 2 * DAY),
        claim("R-5", "post_repair_warranty", policy="konjump", remedy="paid_repair", opened=start - DAY,
              resolved=start + 3 * DAY),  # fmt: skip (in its window: open, and resolved)
        # escalations: O-1's shipping deadline passed 9 days before `now` (reminder, agent, supervisor rungs);
        # O-2's repair deadline passed 3 weeks before, was extended and passed again 2 days later
        rung("O-1", "shipping", 0, "reminder", now - 10 * DAY),
        rung("O-1", "shipping", 1, "agent", now - 9 * DAY),
        rung("O-1", "shipping", 2, "supervisor", now - 8 * DAY),
        rung("O-2", "repair", 0, "agent", now - 21 * DAY),
        rung("O-2", "repair", 0, "agent", now - 19 * DAY, extension=1),
        # 20 weeks ago: outside the 12 weeks shown
        rung("O-3", "shipping", 0, "agent", now - 140 * DAY),
    ]


def fill(engine, rows) -> None:
    with Session(engine) as session:
        for row in rows:
            session.add(row)
            session.flush()
        session.commit()


def test_the_figures_match_the_read_model(engine):
    """On SQLite and on PostgreSQL (the `engine` fixture runs both)."""
    fill(engine, read_model(NOW))
    figures = dashboard(engine, NOW, ZoneInfo("UTC"))
    assert figures.open_total == 6
    assert figures.by_state == [Count("awaiting_parcel", 3), Count("repairing", 2), Count("post_repair_warranty", 1)]
    assert figures.by_policy == [Count("konjump", 4), Count("changkong", 2)]
    assert len(figures.weeks) == 12 and figures.weeks[-1].label == "2026-W25" and figures.weeks[0].label == "2026-W14"
    weekly = {w.label: (w.breaches, w.escalations) for w in figures.weeks if w.breaches or w.escalations}
    # W24: O-1 passed on Mon 8 June (agent) and climbed on the 9th (supervisor): 1 breach, 2 escalations.
    # W22: O-2 passed on 27 May and, extended, again on 29 May: 2 breaches, 2 escalations.
    assert weekly == {"2026-W24": (1, 2), "2026-W22": (2, 2)}
    by_policy = {m.key: (round(m.days, 6), m.claims) for m in figures.resolve_by_policy}
    assert by_policy == {"changkong": (3.0, 3), "konjump": (3.0, 2)}
    by_remedy = {m.key: (round(m.days, 6), m.claims) for m in figures.resolve_by_remedy}
    assert by_remedy == {"free_repair": (1.0, 1), "refund": (2.5, 2), "paid_repair": (7.0, 2)}
    assert [c.claim_number for c in figures.oldest] == ["R-5", "O-1", "O-5", "O-3", "O-2", "O-4"]


def test_weeks_are_counted_in_the_viewers_time_zone(engine):
    sunday_evening = datetime(2026, 6, 14, 20, tzinfo=UTC)  # Monday 04:00 in Shanghai
    fill(engine, [claim("O-1", "repairing", opened=NOW - 30 * DAY), rung("O-1", "repair", 0, "agent", sunday_evening)])
    in_utc = {w.label: w.breaches for w in dashboard(engine, NOW, ZoneInfo("UTC")).weeks if w.breaches}
    in_shanghai = {w.label: w.breaches for w in dashboard(engine, NOW, ZoneInfo("Asia/Shanghai")).weeks if w.breaches}
    assert in_utc == {"2026-W24": 1} and in_shanghai == {"2026-W25": 1}


def test_an_empty_read_model_gives_empty_figures(tmp_path):
    from claimflow.db import migrate

    engine = engine_for(f"sqlite:///{tmp_path / 'empty.db'}")
    migrate(engine)
    figures = dashboard(engine, NOW)
    assert figures.open_total == 0 and figures.by_state == [] and figures.resolve_by_remedy == []
    assert [w.breaches + w.escalations for w in figures.weeks] == [0] * 12


# --- the charts ---------------------------------------------------------------------------


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    for element in root.iter():
        assert element.get("style") is None and not element.tag.endswith("script")
        assert not any(name.startswith("on") for name in element.attrib)
    return root


def hover_texts(root: ET.Element) -> list[str]:
    return [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "bar"]


def test_charts_are_valid_svg_for_empty_data_and_for_one_bar():
    empty = parsed(bar_chart([], name="e", title="Open claims", value_label="claims", empty="No claims"))
    assert empty.find(f"{SVG}title").text == "Open claims" and "No claims" in ET.tostring(empty, encoding="unicode")
    one = parsed(bar_chart([Bar("repairing", 4, "4")], name="one", title="T <&>", value_label="claims", empty="-",
                           translate=lambda word: {"repairing": "维修中"}.get(word, word)))  # fmt: skip
    assert hover_texts(one) == ["维修中: 4"] and one.find(f"{SVG}title").text == "T <&>"
    zero = parsed(bar_chart([Bar("a", 0, "0")], name="z", title="t", value_label="v", empty="-"))
    assert hover_texts(zero) == ["a: 0"]
    assert parsed(week_chart([], name="w", title="t", x_label="x", y_label="y", series={"n": "N"}, empty="none"))
    week = SimpleNamespace(label="2026-W25", breaches=0, escalations=0)
    quiet = parsed(week_chart([week], name="w", title="t", x_label="x", y_label="y",
                              series={"breaches": "B", "escalations": "E"}, empty="-"))  # fmt: skip
    assert hover_texts(quiet) == ["2026-W25 · B: 0", "2026-W25 · E: 0"]


# --- the page -----------------------------------------------------------------------------


def section(page: str, name: str) -> str:
    match = re.search(rf'<section class="panel[^"]*" id="{name}">(.*?)</section>', page, re.S)
    assert match, f"no section {name}"
    return match.group(1)


def table_rows(html: str) -> list[list[str]]:
    table = html.split("<table>", 1)[1].split("</table>", 1)[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    return [cells for cells in rows if cells]  # not the heading


def chart_titles(html: str) -> list[str]:
    svg = parsed(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    return hover_texts(svg)


async def test_the_page_shows_each_chart_with_its_numbers_on_hover_and_in_a_table(web):
    now = datetime.now(UTC)
    fill(engine_for(web.settings.database_url), read_model(now))
    aud = await web.as_user("aud")
    response = await aud.get("/dashboard")
    assert response.status_code == 200
    page = response.text
    assert " style=" not in page and "<script>" not in page and "<style" not in page

    by_state = section(page, "open-by-state")
    assert chart_titles(by_state) == ["awaiting_parcel: 3", "repairing: 2", "post_repair_warranty: 1"]
    assert table_rows(by_state) == [["awaiting_parcel", "3"], ["repairing", "2"], ["post_repair_warranty", "1"]]
    by_policy = section(page, "open-by-policy")
    assert chart_titles(by_policy) == ["konjump: 4", "changkong: 2"]
    assert table_rows(by_policy) == [["konjump", "4"], ["changkong", "2"]]

    weeks = section(page, "per-week")
    rows = table_rows(weeks)
    assert len(rows) == 12 and sum(int(r[2]) for r in rows) == 3 and sum(int(r[3]) for r in rows) == 4
    hover = chart_titles(weeks)
    assert len(hover) == 24
    for label, _start, breaches, escalations in rows:
        assert f"{label} · SLA breaches: {breaches}" in hover and f"{label} · Escalations: {escalations}" in hover

    by_remedy = section(page, "resolve-by-remedy")
    assert chart_titles(by_remedy) == ["free_repair: 1.0", "paid_repair: 7.0", "refund: 2.5"]
    assert table_rows(by_remedy) == [["free_repair", "1.0", "1"], ["paid_repair", "7.0", "2"], ["refund", "2.5", "2"]]
    by_policy_median = section(page, "resolve-by-policy")
    assert chart_titles(by_policy_median) == ["changkong: 3.0", "konjump: 3.0"]
    assert table_rows(by_policy_median) == [["changkong", "3.0", "3"], ["konjump", "3.0", "2"]]

    oldest = section(page, "oldest-open")
    assert re.findall(r'<a href="/claims/([^"]+)">', oldest) == ["R-5", "O-1", "O-5", "O-3", "O-2", "O-4"]


@pytest.mark.parametrize("name", ["amy", "sam", "aud", "root"])
async def test_every_role_sees_the_dashboard(web, name):
    client = await web.as_user(name)
    response = await client.get("/dashboard")
    assert response.status_code == 200 and "No open claims" in response.text


class Marked:
    """A catalogue that marks every string it translates."""

    def gettext(self, message: str) -> str:
        return f"«{message}»"

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return f"«{singular if n == 1 else plural}»"


async def test_titles_axis_labels_and_data_words_are_translated(web, monkeypatch):
    from web import templating

    fill(engine_for(web.settings.database_url), read_model(datetime.now(UTC)))
    monkeypatch.setattr(templating, "translations", lambda locale: Marked())
    page = (await (await web.as_user("aud")).get("/dashboard")).text
    weeks = section(page, "per-week")
    assert '<title id="per-week-title">«SLA breaches and escalations per week»</title>' in weeks
    assert ">«ISO week»</text>" in weeks and ">«SLA breaches»</text>" in weeks and ">«count»</text>" in weeks
    by_state = section(page, "open-by-state")
    assert chart_titles(by_state)[0] == "«awaiting_parcel»: 3" and ">«open claims»</text>" in by_state
    assert table_rows(by_state)[0] == ["«awaiting_parcel»", "3"]


# --- resolved_at: written by the projection, filled in by migration 0005 -----------------------


def test_a_claim_is_resolved_when_it_completes_or_its_product_is_back_after_a_repair(changkong):
    from models.claim import TimelineEntry, resolved_at
    from tests.test_read_model import _view

    open_claim = _view(changkong)
    assert resolved_at(open_claim) is None
    done = open_claim.model_copy(update={"state": "completed"})
    assert resolved_at(done) == done.updated_at
    back = done.timeline[-1].at + timedelta(days=2)
    in_window = done.model_copy(
        update={
            "updated_at": back + timedelta(days=60),
            "timeline": [*done.timeline, TimelineEntry(at=back, kind="state", summary="shipped_back → post_repair_warranty")],
        }
    )
    assert resolved_at(in_window) == back  # not when the 60-day window ended
    assert resolved_at(in_window.model_copy(update={"state": "cancelled"})) is None


def test_migration_0005_fills_resolved_at_of_rows_already_there(tmp_path):
    from sqlalchemy import bindparam, text
    from sqlmodel.sql.sqltypes import UTCDateTime

    from claimflow.db import engine_for, migrate

    engine = engine_for(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0004")
    at = datetime(2026, 3, 1, tzinfo=UTC)
    insert = text(
        "INSERT INTO claims (claim_key, claim_number, policy, kind, state, channel, opened_at, updated_at, overdue,"
        " escalated, deadline_sort, version) VALUES (:key, :key, 'changkong', 'repair', :state, 'return_repair',"
        " :at, :changed, false, false, :at, 1)"
    ).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("changed", type_=UTCDateTime()))
    event = text(
        "INSERT INTO claim_events (claim_key, seq, claim_number, at, kind, summary) VALUES (:key, 0, :key, :at, 'state',"
        " 'shipped_back → post_repair_warranty')"
    ).bindparams(bindparam("at", type_=UTCDateTime()))
    with engine.begin() as connection:
        connection.execute(insert, {"key": "A", "state": "completed", "at": at, "changed": at + 70 * DAY})
        connection.execute(event, {"key": "A", "at": at + 10 * DAY})
        connection.execute(insert, {"key": "B", "state": "completed", "at": at, "changed": at + 3 * DAY})
        connection.execute(insert, {"key": "C", "state": "repairing", "at": at, "changed": at + DAY})
    migrate(engine)
    with Session(engine) as session:
        rows = {r.claim_key: r.resolved_at for r in session.exec(select(ClaimRow))}
    assert rows == {"A": at + 10 * DAY, "B": at + 3 * DAY, "C": None}
    engine.dispose()
