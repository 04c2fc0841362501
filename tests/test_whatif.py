"""`claims what-if`: the decisions of past claims a changed policy would change, and nothing else.

Most tests take recorded histories (tests/histories/, read only); one records claims on the
time-skipping server and runs the command against it.
"""

import asyncio
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from typer.testing import CliRunner

from claimflow.policy_files import load_policy
from claimflow.whatif import KINDS, _decode, read_history, rerun, what_if
from claimflow.whatif_cli import claims_query, html_report
from models.actions import ReceiveParcel, RecordInspection
from models.claim import ClaimView
from models.policy import Policy
from starter import app
from tests.conftest import HISTORIES, POLICY_DIR

RECORDED = sorted(HISTORIES.glob("claim-*.json"))
COMPLETED = [p for p in RECORDED if "workflowExecutionCompletedEventAttributes" in p.read_text()]


def history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


def with_clock(policy: Policy, days: int) -> Policy:
    """`policy` with its first warranty clock `days` long."""
    clocks = [policy.warranty.clocks[0].model_copy(update={"days": days}), *policy.warranty.clocks[1:]]
    return policy.model_copy(update={"warranty": policy.warranty.model_copy(update={"clocks": clocks})})


def changed_file(tmp_path: Path, old: str, new: str) -> Path:
    text = (POLICY_DIR / "changkong.toml").read_text()
    assert text.count(old) == 1
    path = tmp_path / "drafts" / "changkong.toml"  # a policy file is named as its policy
    path.parent.mkdir(exist_ok=True)
    path.write_text(text.replace(old, new))
    return path


# --- pure: recorded histories ------------------------------------------------------------


@pytest.mark.parametrize("path", COMPLETED, ids=[p.stem for p in COMPLETED])
def test_rerun_under_the_snapshot_gives_the_recorded_decisions(path: Path):
    """The what-if's "before" is faithful: the pure functions re-run on the recorded inputs
    under the claim's snapshot give the decisions the workflow recorded."""
    h = WorkflowHistory.from_json(path.stem, path.read_text())
    last = h.events[-1]
    view = _decode(last.workflow_execution_completed_event_attributes.result.payloads, ClaimView)
    recorded = read_history(h)
    again = [(m.what, m.decision.outcome, m.decision.clause_ids) for m in rerun(recorded, recorded.claim.policy)]
    assert again == [(d.what, d.outcome, d.clause_ids) for d in view.decisions if d.what in KINDS]


def test_the_snapshot_itself_changes_nothing():
    for path in RECORDED:
        h = WorkflowHistory.from_json(path.stem, path.read_text())
        recorded = read_history(h)
        report = what_if([h], recorded.claim.policy)
        if recorded.continued:  # read alone, a run that continues a claim is not a claim
            assert (report.claims, len(report.skipped)) == (0, 1), path.stem
            continue
        assert (report.claims, report.changes, report.totals, report.money) == (1, [], {}, []), path.stem


def test_only_claims_of_the_policy_name_are_compared():
    konjump = load_policy(POLICY_DIR, "konjump")
    report = what_if([history("claim-free_repair"), history("claim-konjump_return_repair")], konjump)
    assert report.claims == 1


def test_a_longer_clock_makes_a_paid_repair_free_and_puts_its_fee_at_stake():
    """Bought 199 days before the claim: paid (180 days); free when the clock is 400 days."""
    h = history("claim-paid_repair_window_ends")
    snapshot = read_history(h).claim.policy
    report = what_if([h], with_clock(snapshot, 400))
    by_kind = {c.decision: c for c in report.changes}
    assert (by_kind["warranty"].old.outcome, by_kind["warranty"].new.outcome) == ("not_covered", "covered")
    assert (by_kind["remedy"].old.outcome, by_kind["remedy"].new.outcome) == ("paid_repair", "free_repair")
    assert "IV.4" in by_kind["remedy"].old.clause_ids and "IV.4" not in by_kind["remedy"].new.clause_ids
    # the 60 days after a repair out of warranty: none once it was in warranty
    assert by_kind["post_repair_warranty"].new.outcome is None
    [money] = report.money
    assert (money.direction, money.paid, money.refunded, money.currency) == ("paid_to_free", "120.50", "0.00", "CNY")
    assert report.money_totals == {"CNY": {"paid_to_free_paid": "120.50", "paid_to_free_refunded": "0.00"}}


def test_a_shorter_return_window_rejects_the_return_and_puts_its_refund_at_stake():
    h = history("claim-return_refunded")  # asked on day 3 after receipt
    snapshot = read_history(h).claim.policy
    shorter = snapshot.model_copy(update={"returns": snapshot.returns.model_copy(update={"window_days": 2})})
    report = what_if([h], shorter)
    check = next(c for c in report.changes if c.decision == "policy_check")
    assert (check.old.outcome, check.new.outcome) == ("accepted", "rejected")
    assert check.new.clause_ids == snapshot.returns.late_clause_ids
    remedy = next(c for c in report.changes if c.decision == "remedy")
    assert (remedy.old.outcome, remedy.new.outcome) == ("refund", None)
    [money] = report.money
    assert (money.direction, money.refunded) == ("free_to_paid", "399.00")


def test_an_unreadable_history_is_skipped_with_why():
    h = history("claim-free_repair")
    h.events[0].workflow_execution_started_event_attributes.input.payloads[0].data = b'{"intake": {}}'
    report = what_if([h], load_policy(POLICY_DIR, "changkong"))
    assert report.claims == 0 and len(report.skipped) == 1 and "claim input" in report.skipped[0].reason


def test_the_html_report_is_self_contained_and_escaped():
    h = history("claim-paid_repair_window_ends")
    report = what_if([h], with_clock(read_history(h).claim.policy, 400))
    report.changes[0].new.reason = "<script>alert(1)</script>"
    page = html_report(report)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "src=" not in page and "href=" not in page and "paid_repair" in page and "120.50 CNY" in page


def test_the_visibility_query_names_the_policy_and_the_start():
    from datetime import datetime, timezone

    query = claims_query("changkong", datetime(2026, 5, 1, 16, tzinfo=timezone.utc), 'ClaimState = "completed"')
    assert query == (
        'WorkflowType IN ("Claim", "ClaimWorkflow") AND ClaimPolicy = "changkong" '
        'AND StartTime >= "2026-05-01T16:00:00Z" AND (ClaimState = "completed")'
    )


# --- the command, on the time-skipping server ---------------------------------------------


async def listed(client, query: str, count: int) -> None:
    for _ in range(200):
        if len([e async for e in client.list_workflows(query)]) == count:  # the test server cannot count
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"visibility never showed {count} for {query}")


async def inspected(claims, policy: Policy, ages) -> dict:
    """A repair claim per age (days since purchase), each inspected with a quality fault."""
    handles = {}
    for age in ages:
        handles[age] = h = await claims.open(policy, bought_days_ago=age)
        await claims.do(h, ReceiveParcel(by="amy"))
        await claims.do(h, RecordInspection(by="tom", fault="quality_fault"))
        await claims.settle(h)
    return handles


async def test_a_180_day_clock_moved_to_150_changes_exactly_the_claims_bought_160_and_170_days_ago(claims, changkong):
    handles = await inspected(claims, changkong, (100, 160, 170, 200))
    histories = [await h.fetch_history() for h in handles.values()]
    report = what_if(histories, with_clock(changkong, 150))
    assert report.claims == 4
    assert sorted(report.changed_claims) == sorted([handles[160].id, handles[170].id])
    for age in (160, 170):
        mine = {c.decision: c for c in report.changes if c.claim == handles[age].id}
        assert (mine["warranty"].old.outcome, mine["warranty"].new.outcome) == ("covered", "not_covered")
        assert (mine["remedy"].old.outcome, mine["remedy"].new.outcome) == ("free_repair", "paid_repair")
        assert mine["warranty"].old.clause_ids == mine["warranty"].new.clause_ids == ["I.1-PROOF"]
        assert "IV.4" in mine["remedy"].new.clause_ids
    assert report.totals["warranty"] == report.totals["remedy"] == 2
    assert set(report.totals) <= {"warranty", "remedy", "freight"}
    assert {(m.claim, m.direction, m.paid) for m in report.money} == {
        (handles[160].id, "free_to_paid", "0.00"), (handles[170].id, "free_to_paid", "0.00")
    }  # fmt: skip
    assert what_if(histories, changkong).changes == []  # the policy as the claims ran under it


async def test_the_command_lists_the_claims_in_temporal_and_changes_none(live_claims, changkong, tmp_path, monkeypatch):
    """On the dev server (the time-skipping server has no visibility listing)."""
    claims = live_claims
    handles = await inspected(claims, changkong, (100, 160))
    where = f'TaskQueue = "{claims.task_queue}"'
    await listed(claims.client, claims_query("changkong", where=where), 2)
    events = {age: len((await h.fetch_history()).events) for age, h in handles.items()}

    monkeypatch.setenv("TEMPORAL_ADDRESS", claims.client.service_client.config.target_host)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    page = tmp_path / "what-if.html"
    args = ["what-if", "--policy", str(changed_file(tmp_path, "days = 180", "days = 150")), "--where", where,
            "--since", "2000-01-01", "--json", "--html", str(page)]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["changed_claims"] == [handles[160].id] and out["claims"] == 2
    assert out["totals"]["remedy"] == out["totals"]["warranty"] == 1
    assert handles[160].id in page.read_text() and handles[100].id not in page.read_text()

    same = await asyncio.to_thread(
        CliRunner().invoke, app, ["what-if", "--policy", str(POLICY_DIR / "changkong.toml"), "--where", where]
    )
    assert same.exit_code == 0 and "2 claims of policy changkong examined: no decision would change" in same.stdout
    later = await asyncio.to_thread(CliRunner().invoke, app, [*args[:5], "--since", "2999-01-01", "--json"])
    assert json.loads(later.stdout)["claims"] == 0
    assert {age: len((await h.fetch_history()).events) for age, h in handles.items()} == events  # read-only


def test_the_archive_is_read_without_temporal(tmp_path, monkeypatch):
    """--archive: the claims Temporal no longer keeps, from the read model's claim_archive."""
    import hashlib
    from datetime import datetime, timezone

    from sqlmodel import Session

    from claimflow.db import engine_for, migrate
    from models.read_model import ClaimArchiveRow

    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    migrate(engine)
    with Session(engine) as session, session.begin():
        for name in ("claim-paid_repair_window_ends", "claim-free_repair", "claim-konjump_return_repair"):
            text = (HISTORIES / f"{name}.json").read_text()
            recorded = read_history(WorkflowHistory.from_json(name, text))
            session.add(ClaimArchiveRow(
                workflow_id=recorded.number, run_id=recorded.run_id, claim_number=recorded.number,
                workflow_type="Claim", close_status="completed", close_time=datetime.now(timezone.utc),
                history_sha256=hashlib.sha256(text.encode()).hexdigest(), history_json=text,
                archived_at=datetime.now(timezone.utc),
            ))  # fmt: skip
    engine.dispose()
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")  # not asked
    longer = changed_file(tmp_path, "days = 180", "days = 400")
    result = CliRunner().invoke(app, ["what-if", "--archive", "--policy", str(longer), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    paid = read_history(history("claim-paid_repair_window_ends")).number
    assert report["claims"] == 2  # konjump's claim is not compared
    assert [(m["claim"], m["direction"], m["paid"]) for m in report["money"]] == [(paid, "paid_to_free", "120.50")]
    table = CliRunner().invoke(app, ["what-if", "--archive", "--policy", str(longer)])
    assert table.exit_code == 0 and "paid_repair" in table.stdout and "120.50 CNY" in table.stdout
    refused = CliRunner().invoke(app, ["what-if", "--archive", "--where", "x", "--policy", str(longer)])
    assert refused.exit_code == 1 and "--where" in refused.stderr


def test_a_broken_policy_file_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    broken = changed_file(tmp_path, "days = 180", "days = -5")
    for path in (broken, tmp_path / "missing.toml"):
        result = CliRunner().invoke(app, ["what-if", "--policy", str(path)])
        assert result.exit_code == 1, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and str(path) in result.stderr, result.stderr


def test_unreachable_temporal_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    result = CliRunner().invoke(app, ["what-if", "--policy", str(POLICY_DIR / "changkong.toml")])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "cannot reach Temporal" in result.stderr, result.stderr
