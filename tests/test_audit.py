"""`claims audit`: a paid repair's audit checked field by field (verdict, trail with clause
texts, recomputation, clock ledger, integrity), a claim audited from the archive alone, a
non-deterministic change caught (exit 1), a recorded decision that its rule no longer gives
caught (exit 1), `--json` and `--html`."""

import asyncio
import hashlib
import json
from datetime import timedelta

import pytest
from temporalio import workflow
from typer.testing import CliRunner

import worker
from claimflow.codec import decoded_history
from claimflow.archive import archive_closed_claims, archived_claims
from claimflow.audit import audit_claim, build_audit, fetch_claim, replay, verdict_of
from claimflow.db import engine_for
from claimflow.refused import record_refused
from models.actions import CancelClaim
from models.calendar import local_date
from models.claim import ClaimInput, ClaimView
from starter import app
from tests.test_archive import closed, until_listed
from tests.test_claim_lifecycle import paid_repair_until_delivered
from workflows.claim import ClaimWorkflow


@workflow.defn(name="Claim", sandboxed=False)
class ClaimWithATimer(ClaimWorkflow):
    """Today's engine with one more timer before anything else: not deterministic with
    any recorded claim."""

    @workflow.run
    async def run(self, claim: ClaimInput) -> ClaimView:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(claim)


def cli(env, tmp_path, monkeypatch, *args):
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    monkeypatch.setenv("CLAIMFLOW_DATA_DIR", str(tmp_path))  # DATABASE_URL: tmp_path/claims.db, the worker's
    return asyncio.to_thread(CliRunner().invoke, app, list(args))


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.fixture
async def paid(claims, changkong, tmp_path):
    """A paid repair, delivered, its post-repair window over (the claim completed: its
    history is final), with one refused attempt."""
    h = await paid_repair_until_delivered(claims, changkong)
    await claims.sleep(days=61)
    await h.result()
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    record_refused(engine, h.id, "approve_quote", "eve", "the claim is post_repair_warranty")
    yield h, engine
    engine.dispose()


async def test_a_paid_repair_audit_field_by_field(claims, changkong, paid):
    h, engine = paid
    audit = await audit_claim(claims.client, engine, h.id)
    view = await claims.view(h)
    assert (audit.claim_number, audit.source, audit.workflow_type, audit.policy, audit.state) == (
        h.id, "temporal", "Claim", "changkong", "completed"
    )  # fmt: skip
    assert audit.verdict.clean and audit.verdict.text == "replays cleanly" and audit.ok

    # the trail: every decision, with the full text of each clause from the policy snapshot
    assert [(d.what, d.outcome) for d in audit.trail] == [
        ("policy_check", "accepted"), ("warranty", "not_covered"), ("channel", "return_repair"),
        ("remedy", "paid_repair"), ("freight", "customer pays both ways"), ("quote", "approved"),
        ("post_repair_warranty", view.post_repair_warranty_until.isoformat()), ("post_repair_warranty_deadline", "ended"),
    ]  # fmt: skip
    remedy = audit.trail[3]
    assert remedy.clauses == {cid: changkong.clause_text(cid) for cid in ["I.1-PROOF", "IV.4"]}
    assert remedy.inputs["fault"] == "quality_fault" and remedy.at == view.decisions[3].at
    assert all(text and "not found" not in text for d in audit.trail for text in d.clauses.values())
    assert audit.trail[4].clauses["CF-FREIGHT-PAID"].startswith("claimflow operating rule")

    # the recomputation: each rule re-run on the recorded inputs gives the recorded outcome
    checks = {r.what: r for r in audit.recomputation}
    for what in ("policy_check", "warranty", "channel", "remedy", "freight", "post_repair_warranty"):
        assert checks[what].status == "match", checks[what]
        assert (checks[what].recomputed_outcome, checks[what].recomputed_clause_ids) == (
            checks[what].recorded_outcome, checks[what].recorded_clause_ids
        )  # fmt: skip
    assert checks["quote"].status == "not recomputed"  # the customer's answer, not a rule's
    assert not [r for r in audit.recomputation if r.status == "mismatch"]

    # the clock ledger: each deadline's cycle, started, due, cleared
    ledger = {l.kind: l for l in audit.ledger}
    assert list(ledger) == [d.kind.value for d in view.deadlines]
    for kind in ("shipping", "quote", "repair", "payment"):
        clock = ledger[kind]
        deadline = next(d for d in view.deadlines if d.kind == kind)
        assert (clock.cycle, clock.started_at, clock.due_at, clock.status) == (1, deadline.started_at, deadline.due_at, "cleared")
        assert [e.event for e in clock.entries] == ["started", "cleared"]
        assert clock.entries[0].at == deadline.started_at and "due" in clock.entries[0].detail
        assert clock.clause_ids == deadline.clause_ids
    assert "no longer runs while the claim is repairing" in ledger["quote"].entries[1].detail
    assert "awaiting_ship_back" in ledger["payment"].entries[1].detail
    window = ledger["post_repair_warranty"]
    assert (window.status, [e.event for e in window.entries]) == ("cleared after it passed", ["started", "passed"])
    assert window.due_at <= window.entries[1].at < window.due_at + timedelta(seconds=1)
    assert window.entries[1].detail.startswith("ended: ")

    # the human timeline and refused attempts
    assert audit.timeline == view.timeline and audit.timeline_complete
    assert [(e.by, e.summary.split(" ")[0]) for e in audit.timeline if e.kind == "action"][:3] == [
        ("amy", "parcel"), ("tom", "inspection:"), ("amy", "quote")
    ]  # fmt: skip
    assert [(r.by, r.action) for r in audit.refused] == [("eve", "approve_quote")]

    # integrity: independent sha256 of the same JSON
    history = await h.fetch_history()
    fetched = await fetch_claim(claims.client, None, h.id)
    assert audit.integrity.history_canonical_sha256 == hashlib.sha256(canonical(json.loads(history.to_json())).encode()).hexdigest()
    assert build_audit(fetched, audit.verdict, "x").integrity.history_canonical_sha256 == audit.integrity.history_canonical_sha256
    text = fetched.runs[0].history_json  # the text as fetched (protobuf maps in any order: not canonical)
    assert build_audit(fetched, audit.verdict, "x").integrity.history_sha256 == hashlib.sha256(text.encode()).hexdigest()
    started = decoded_history(history, claims.client.data_converter).events[0].workflow_execution_started_event_attributes
    policy = json.loads(started.input.payloads[0].data)["policy"]
    assert audit.integrity.policy_sha256 == hashlib.sha256(canonical(policy).encode()).hexdigest()
    assert [r["events"] for r in audit.integrity.runs] == [len(history.events)]
    assert audit.integrity.code_version.startswith("claimflow 0.1.0 (") and "unknown)" not in audit.integrity.code_version


async def test_an_escalation_is_explained_by_the_ledger(claims, changkong):
    h = await claims.open(changkong, bought_days_ago=200)
    await claims.sleep(days=30)  # the customer never ships: the ladder climbs, the deadline passes
    view = await claims.eventually(h, lambda v: v.escalations and v.deadlines[0].due_passed)
    audit = await audit_claim(claims.client, None, h.id)
    shipping = next(l for l in audit.ledger if l.kind == "shipping")
    events = [e.event for e in shipping.entries]
    steps = [e for e in view.escalations if e.deadline == "shipping"]
    assert events[0] == "started" and "passed" in events
    assert [e for e in events if e.startswith("step")] == [f"step {s.step}" for s in steps]
    first = next(e for e in shipping.entries if e.event == "step 0")
    assert steps[0].notify in first.detail and "the due moment" in first.detail
    assert audit.refused_note.startswith("no read model")
    assert [e.kind for e in audit.notifications] and all(e.kind in ("escalation", "delivery") for e in audit.notifications)


async def test_a_claim_only_in_the_archive(live_claims, claims, changkong, tmp_path):
    """Archived on the real dev server, then audited where Temporal does not have it (the
    time-skipping server never saw it) and with no Temporal at all."""
    h = await live_claims.open(changkong, bought_days_ago=200)
    await live_claims.do(h, CancelClaim(by="amy", reason="withdrawn"))
    await closed(h)
    client = live_claims.client
    await until_listed(client, f'WorkflowId = "{h.id}" AND ExecutionStatus != "Running"', 1)
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    report = await archive_closed_claims(client, engine, where=f'WorkflowId = "{h.id}"')
    assert report.archived == 1
    [row] = archived_claims(engine, h.id)
    live = await audit_claim(client, engine, h.id)

    for elsewhere in (claims.client, None):
        audit = await audit_claim(elsewhere, engine, h.id)
        assert audit.source == "archive" and audit.verdict.clean and audit.ok
        assert audit.state == "cancelled" and [d.what for d in audit.trail] == [d.what for d in live.trail]
        assert audit.integrity.history_sha256 == row.history_sha256 == hashlib.sha256(row.history_json.encode()).hexdigest()
        assert audit.integrity.history_canonical_sha256 == live.integrity.history_canonical_sha256  # Temporal's = archived
        assert audit.integrity.runs[0]["archive_sha256_matches"] is True
        assert audit.integrity.policy_sha256 == live.integrity.policy_sha256
        assert [r.status for r in audit.recomputation] == [r.status for r in live.recomputation]
    engine.dispose()


async def test_a_non_deterministic_change_is_caught(claims, changkong, paid, tmp_path, monkeypatch):
    h, engine = paid
    fetched = await fetch_claim(claims.client, engine, h.id)
    verdict = await replay(fetched.runs, h.id, [ClaimWithATimer], worker.SANDBOX)
    assert not verdict.clean and verdict.event_id is not None
    assert verdict.text.startswith(f"non-determinism at event {verdict.event_id}: ") and "Timer" in verdict.detail
    assert not build_audit(fetched, verdict, "test").ok

    monkeypatch.setattr(worker, "WORKFLOWS", [ClaimWithATimer, *worker.WORKFLOWS[1:]])
    result = await cli(claims.env, tmp_path, monkeypatch, "audit", h.id)
    assert result.exit_code == 1, result.output
    assert "verdict: non-determinism at event" in result.output


async def test_a_recorded_decision_its_rule_no_longer_gives_fails(claims, paid):
    h, engine = paid
    fetched = await fetch_claim(claims.client, engine, h.id)
    decisions = list(fetched.view.decisions)
    decisions[3] = decisions[3].model_copy(update={"clause_ids": ["IV.4"]})  # the remedy, as if recorded otherwise
    forged = fetched.model_copy(update={"view": fetched.view.model_copy(update={"decisions": decisions})})
    audit = build_audit(forged, verdict_of([]), "test")
    [bad] = [r for r in audit.recomputation if r.status == "mismatch"]
    assert (bad.what, bad.recorded_clause_ids, bad.recomputed_clause_ids) == ("remedy", ["IV.4"], ["I.1-PROOF", "IV.4"])
    assert audit.verdict.clean and not audit.ok


async def test_the_command_json_and_html(claims, changkong, paid, tmp_path, monkeypatch):
    h, _ = paid
    text = await cli(claims.env, tmp_path, monkeypatch, "audit", h.id.lower())
    assert text.exit_code == 0, text.output
    assert f"Audit of claim {h.id}" in text.output and "verdict: replays cleanly" in text.output
    assert "recomputation: 6 match, 0 mismatch" in text.output and "Clock payment #1: cleared" in text.output

    as_json = await cli(claims.env, tmp_path, monkeypatch, "audit", h.id, "--json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["verdict"]["text"] == "replays cleanly" and data["claim_number"] == h.id
    assert {"trail", "recomputation", "timeline", "refused", "notifications", "ledger", "integrity"} <= set(data)

    page = tmp_path / "audit.html"
    written = await cli(claims.env, tmp_path, monkeypatch, "audit", h.id, "--html", str(page))
    assert written.exit_code == 0, written.output
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "replays cleanly" in html and data["integrity"]["history_canonical_sha256"] in html
    assert "http" not in html and "<script" not in html and "<link" not in html
    opened_on = local_date((await claims.view(h)).opened_at, changkong.timezone)
    assert opened_on.isoformat() in html

    missing = await cli(claims.env, tmp_path, monkeypatch, "audit", "NEVER-1")
    assert missing.exit_code == 1 and "not found" in missing.output
