"""`claims audit CLAIM`: prove what happened to a claim, from its recorded history.

The history of every run of the claim (from Temporal, or from the archive of closed claims
once retention removed it) is replayed against the current workflow code; the audit then
lays out the decision trail with the full text of each clause from the claim's own policy
snapshot (the workflow's input), re-runs the pure decision functions of models/rules.py on
the recorded inputs and compares their outcomes and clauses with those recorded, lists the
human timeline (actions, state changes, refused attempts, notifications and their
delivery), a clock ledger per deadline and cycle, and an integrity block (sha256 of the
history as the archive computes it, of the policy snapshot, and the code that replayed it).

`fetch_claim` does the I/O (Temporal, the read model); `build_audit` is pure over what it
fetched plus the replay results; `audit_claim` does both.
"""

import asyncio
import hashlib
import json
import re
import subprocess
from functools import cache
from datetime import date, datetime, timedelta
from importlib import metadata
from types import SimpleNamespace
from typing import Literal

from pydantic import BaseModel, PrivateAttr
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from claimflow.archive import archived_claims, final_view_json
from claimflow.codec import decoded_history, reading_converter
from claimflow.replay import quiet_runtime
from claimflow.replay import verdict_of as replay_verdict
from claimflow.settings import REPO_ROOT
from models import rules
from models.actions import RecordInspection, RecordOnsiteReport
from models.calendar import local_date
from models.deadline_table import ENGINE_CLAUSES
from models.claim import ClaimInput, ClaimView, Decision, TimelineEntry
from models.enums import Remedy
from models.limits import TIMELINE_IN_VIEW
from workflows.names import CLAIM

RECOMPUTED = ("policy_check", "warranty", "channel", "remedy", "freight", "fees", "post_repair_warranty")
FINDINGS_UPDATES = {"record_inspection": RecordInspection, "record_onsite_report": RecordOnsiteReport}
QUERY_TIMEOUT = timedelta(seconds=10)


class AuditError(Exception):
    """The claim cannot be audited (neither Temporal nor the archive has it); one line."""


# --- what an audit holds -------------------------------------------------------------


class RunHistory(BaseModel):
    """One run of the claim's workflow, its history as JSON (as `WorkflowHistory.to_json()`
    gives it, or as the archive stored it)."""

    run_id: str
    workflow_type: str
    history_json: str
    archived_sha256: str | None = None  # the archive's record of it, when read from there
    _history: WorkflowHistory | None = PrivateAttr(default=None)

    def history(self, number: str) -> WorkflowHistory:
        """The run's history with its payloads decrypted (claimflow/codec.py; plain ones as
        they are), parsed and decrypted once however often the audit reads it."""
        if self._history is None:
            self._history = decoded_history(WorkflowHistory.from_json(number, self.history_json), reading_converter())
        return self._history


class Verdict(BaseModel):
    clean: bool
    text: str  # "replays cleanly" or "non-determinism at event N: detail"
    run_id: str | None = None  # the run that failed
    event_id: int | None = None
    detail: str | None = None


class TrailEntry(BaseModel):
    at: datetime | None
    what: str
    outcome: str
    reason: str
    inputs: dict[str, str | int | bool | None]
    clauses: dict[str, str]  # id -> full text, from the claim's own policy snapshot


class Recomputation(BaseModel):
    index: int  # position in the decision trail
    what: str
    at: datetime | None
    status: Literal["match", "mismatch", "not recomputed"]
    recorded_outcome: str
    recorded_clause_ids: list[str]
    recomputed_outcome: str | None = None
    recomputed_clause_ids: list[str] | None = None
    note: str = ""


class LedgerEntry(BaseModel):
    at: datetime
    event: str  # started, paused, resumed, extended, passed, step N, acknowledged, cleared
    detail: str = ""
    by: str | None = None


class ClockLedger(BaseModel):
    kind: str
    cycle: int
    started_at: datetime
    due_at: datetime  # as it finally stands (after pauses and extensions)
    clause_ids: list[str]
    status: str  # running, paused, passed, cleared, ...
    entries: list[LedgerEntry]


class Refused(BaseModel):
    at: datetime
    by: str
    action: str
    reason: str


class Integrity(BaseModel):
    # of the last run's history JSON as fetched or stored: the archive's `history_sha256`. That
    # text is not canonical (Temporal's protobuf maps come in any order), so two fetches of one
    # history may differ; `history_canonical_sha256` (keys sorted, compact) does not.
    history_sha256: str
    history_canonical_sha256: str
    runs: list[dict[str, str | int | bool | None]]  # run_id, workflow type, events, sha256, archive match
    policy_sha256: str | None  # canonical JSON of the input's policy
    code_version: str


class Audit(BaseModel):
    claim_number: str
    source: Literal["temporal", "archive"]
    workflow_type: str
    policy: str | None
    state: str | None
    verdict: Verdict
    trail: list[TrailEntry]
    recomputation: list[Recomputation]
    timeline: list[TimelineEntry]
    timeline_complete: bool  # False: the archived view kept only the newest entries
    refused: list[Refused]
    refused_note: str = ""
    notifications: list[TimelineEntry]  # escalation and delivery entries
    ledger: list[ClockLedger]
    integrity: Integrity

    @property
    def recomputation_ok(self) -> bool:
        return all(r.status != "mismatch" for r in self.recomputation)

    @property
    def ok(self) -> bool:
        return self.verdict.clean and self.recomputation_ok


class Fetched(BaseModel):
    """Everything an audit is built from, fetched once."""

    claim_number: str
    source: Literal["temporal", "archive"]
    runs: list[RunHistory]  # the first run first
    view: ClaimView | None
    timeline: list[TimelineEntry] | None  # the whole timeline, when it could be paged
    refused: list[Refused] = []
    refused_note: str = ""


# --- canonical hashes and the code version -------------------------------------------


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@cache
def code_version() -> str:
    """The code this process runs (it does not change under a running process)."""
    try:
        version = metadata.version("claimflow")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = "unknown"
    return f"claimflow {version} ({head or 'unknown'})"


# --- reading a history -----------------------------------------------------------------


def _started(history: WorkflowHistory):
    return history.events[0].workflow_execution_started_event_attributes


def input_payload(history: WorkflowHistory) -> tuple[ClaimInput | None, dict | None]:
    """The workflow's input (ClaimInput) and its raw JSON as recorded."""
    payloads = _started(history).input.payloads
    if not payloads:
        return None, None
    try:
        raw = json.loads(payloads[0].data)
    except ValueError:
        raw = None
    try:
        [claim] = pydantic_data_converter.payload_converter.from_payloads(payloads[:1], [ClaimInput])
    except Exception:  # an input of another shape (not a claim of today's engine)
        claim = None
    return claim, raw


def accepted_findings(history: WorkflowHistory) -> list[RecordInspection | RecordOnsiteReport]:
    """The findings of every record_inspection/record_onsite_report update the claim accepted
    and completed without failure, in history order."""
    accepted: dict[str, tuple[str, object]] = {}
    found: list[RecordInspection | RecordOnsiteReport] = []
    for event in history.events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            request = event.workflow_execution_update_accepted_event_attributes.accepted_request
            if request.input.name in FINDINGS_UPDATES:
                accepted[request.meta.update_id] = (request.input.name, request.input.args.payloads)
        elif event.HasField("workflow_execution_update_completed_event_attributes"):
            done = event.workflow_execution_update_completed_event_attributes
            if done.meta.update_id in accepted and done.outcome.HasField("success"):
                name, payloads = accepted.pop(done.meta.update_id)
                [findings] = pydantic_data_converter.payload_converter.from_payloads(
                    list(payloads)[:1], [FINDINGS_UPDATES[name]]
                )
                found.append(findings)
    return found


# --- replay ------------------------------------------------------------------------------

def verdict_of(failures: list[tuple[str, WorkflowHistory, BaseException | None]]) -> Verdict:
    """The claim's verdict from each run's replay (its failure, None when it replayed): the
    first failing run's, read as `claims replay` reads it (claimflow.replay.verdict_of)."""
    for run_id, history, failure in failures:
        if failure is None:
            continue
        found = replay_verdict(run_id, history, failure)
        return Verdict(clean=False, text=found.describe(), run_id=run_id, event_id=found.event_id, detail=found.detail)
    return Verdict(clean=True, text="replays cleanly")


async def replay(runs: list[RunHistory], number: str, workflows=None, runner=None) -> Verdict:
    """Replay every run against the current workflow code (worker.WORKFLOWS in the worker's
    sandbox; `workflows`/`runner` only for tests that replay against changed code)."""
    if workflows is None or runner is None:
        from worker import SANDBOX, WORKFLOWS

        workflows, runner = workflows or WORKFLOWS, runner or SANDBOX
    replayer = Replayer(
        workflows=workflows, workflow_runner=runner, data_converter=reading_converter(), runtime=quiet_runtime()
    )
    failures = []
    for run in runs:
        history = run.history(number)
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        failures.append((run.run_id, history, result.replay_failure))
    return verdict_of(failures)


# --- the decision trail and its recomputation ------------------------------------------


def clause_texts(clause_ids: list[str], claim: ClaimInput | None, view: ClaimView | None) -> dict[str, str]:
    """Each clause's full text from the claim's policy snapshot (the engine's own CF-*
    clauses, which no policy holds, from the view's clause texts)."""
    texts = {}
    for cid in clause_ids:
        text = ENGINE_CLAUSES.get(cid)
        if text is None and claim is not None:
            text = next((c.text for c in claim.policy.clauses if c.id == cid), None)
        if text is None and view is not None:
            text = view.clauses.get(cid)
        texts[cid] = text or "(text not found in the policy snapshot)"
    return texts


def _compare(index: int, recorded: Decision, recomputed: Decision | None, note: str = "") -> Recomputation:
    entry = Recomputation(
        index=index,
        what=recorded.what,
        at=recorded.at,
        status="not recomputed",
        recorded_outcome=recorded.outcome,
        recorded_clause_ids=recorded.clause_ids,
        note=note,
    )
    if recomputed is None:
        return entry
    same = recomputed.outcome == recorded.outcome and recomputed.clause_ids == recorded.clause_ids
    return entry.model_copy(
        update={
            "status": "match" if same else "mismatch",
            "recomputed_outcome": recomputed.outcome,
            "recomputed_clause_ids": recomputed.clause_ids,
        }
    )


def recompute(claim: ClaimInput, decisions: list[Decision], findings: list) -> list[Recomputation]:
    """Re-run the pure decision functions on the recorded inputs, decision by decision, as
    the workflow ran them: the day asked is the day of the last warranty decision (opening
    or a new fault), in the policy's time zone; the remedy's findings are the accepted
    inspection/on-site report payloads, in order; the warranty and post-repair window are
    the recorded ones before each decision."""
    policy, intake = claim.policy, claim.intake
    results: list[Recomputation] = []
    pending = list(findings)
    warranty: Decision | None = None
    remedy: Remedy | None = None
    fault = None
    post_repair_until: date | None = None
    channel = policy.first_channel
    reported_on: date | None = None
    previous: Decision | None = None
    for index, d in enumerate(decisions):
        day = local_date(d.at, policy.timezone) if d.at else None
        recomputed, note = None, ""
        try:
            if d.what == "policy_check" and day is not None:
                reported_on = reported_on or day
                recomputed = rules.policy_check(policy, intake, day)
            elif d.what == "warranty" and day is not None:
                reported_on = day
                recomputed = rules.warranty_status(policy, intake, day)
            elif d.what == "remedy" and previous is not None and previous.what == "determination":
                note = "decided by headquarters' determination (recorded, not a rule's outcome)"
            elif d.what == "remedy":
                if not pending:
                    note = "no accepted inspection or on-site report in the history for it"
                elif warranty is None or reported_on is None:
                    note = "no warranty decision before it"
                else:
                    given = pending.pop(0)
                    fault = given.fault
                    recomputed = rules.decide_remedy(policy, intake, given, reported_on, warranty, post_repair_until)
            elif d.what == "freight":
                if remedy is None or fault is None or warranty is None or reported_on is None:
                    note = "no remedy decided before it"
                else:
                    covered = rules.is_covered(warranty, reported_on, post_repair_until)
                    if rules.as_written(policy):
                        covered = covered or rules.free_of_charge(remedy)
                    recomputed = rules.decide_freight(policy, remedy, fault, covered, intake.kind)
            elif d.what == "channel" and d.outcome != "resolved_remotely":
                recomputed = rules.decide_channel(policy, _text(d.inputs.get("requested")))
            elif d.what == "post_repair_warranty" and day is not None:
                in_warranty = warranty is not None and bool(warranty.covered)
                recomputed = rules.post_repair_warranty(policy, day, in_warranty=in_warranty)
            elif d.what == "fees":
                if remedy is None:
                    note = "no remedy decided before it"
                else:
                    recomputed = rules.decide_fees(policy, channel, rules.free_of_charge(remedy))
            else:
                note = "recorded (not one of the recomputed rules)"
        except Exception as err:  # the rule refuses the recorded inputs: that is a mismatch too
            results.append(
                _compare(index, d, None).model_copy(update={"status": "mismatch", "note": f"the rule raised: {err}"})
            )
            recomputed = None
        else:
            if d.what == "channel" and d.outcome == "resolved_remotely":
                results.append(_compare(index, d, None, "resolved by remote guidance (recorded, not a rule's outcome)"))
            elif recomputed is None and not note and d.what in RECOMPUTED:
                results.append(
                    _compare(index, d, None).model_copy(
                        update={"status": "mismatch", "note": "the rule decides nothing on the recorded inputs"}
                    )
                )
            else:
                results.append(_compare(index, d, recomputed, note))
        # the state the next decision is taken in: the recorded outcomes
        if d.what == "warranty":
            warranty = d
        elif d.what == "remedy":
            remedy = d.remedy or _remedy(d.outcome)
        elif d.what == "post_repair_warranty":
            post_repair_until = d.until
        elif d.what == "channel" and d.outcome != "resolved_remotely":
            channel = d.outcome
        previous = d
    return results


def _text(value) -> str | None:
    return None if value is None else str(value)


def _remedy(outcome: str) -> Remedy | None:
    try:
        return Remedy(outcome)
    except ValueError:
        return None


# --- the clock ledger ----------------------------------------------------------------------

_SET = re.compile(r"^(?P<kind>\w+) deadline set: (?P<detail>.*)$")
_CLOSED = re.compile(r"^(?P<kind>\w+) deadline #(?P<cycle>\d+) closed: (?P<detail>.*)$")
_PAUSED = re.compile(r"^(?P<kind>\w+) deadline paused (?P<detail>.*)$")
_RESUMED = re.compile(r"^(?P<kind>\w+) deadline resumed, (?P<detail>.*)$")
_EXTENDED = re.compile(r"^(?P<kind>\w+) deadline extended by (?P<detail>.*)$")
_ACKNOWLEDGED = re.compile(r"^escalation of the (?P<kind>\w+) deadline acknowledged")


def clock_ledger(view: ClaimView, timeline: list[TimelineEntry]) -> list[ClockLedger]:
    """Per deadline and cycle: started, paused, resumed, extended, passed, each ladder step,
    acknowledged, cleared, in time order, from the timeline, the decisions and the view's
    deadlines and escalations."""
    entries: dict[tuple[str, int], list[LedgerEntry]] = {}
    current: dict[str, int] = {}

    def add(kind: str, cycle: int | None, entry: LedgerEntry) -> None:
        cycle = cycle if cycle is not None else current.get(kind, 1)
        entries.setdefault((kind, cycle), []).append(entry)

    for e in timeline:
        if e.kind == "deadline":
            if m := _SET.match(e.summary):
                current[m["kind"]] = current.get(m["kind"], 0) + 1
                add(m["kind"], None, LedgerEntry(at=e.at, event="started", detail=m["detail"]))
            elif m := _CLOSED.match(e.summary):
                add(m["kind"], int(m["cycle"]), LedgerEntry(at=e.at, event="cleared", detail=m["detail"]))
            elif m := _PAUSED.match(e.summary):
                add(m["kind"], None, LedgerEntry(at=e.at, event="paused", detail=m["detail"]))
            elif m := _RESUMED.match(e.summary):
                add(m["kind"], None, LedgerEntry(at=e.at, event="resumed", detail=m["detail"]))
        elif e.kind == "action":
            if m := _EXTENDED.match(e.summary):
                add(m["kind"], None, LedgerEntry(at=e.at, event="extended", detail=m["detail"], by=e.by))
            elif m := _ACKNOWLEDGED.match(e.summary):
                add(m["kind"], None, LedgerEntry(at=e.at, event="acknowledged", by=e.by))
    for d in view.decisions:
        if d.what.endswith("_deadline") and d.at is not None:
            cycle = d.inputs.get("cycle")
            add(
                d.what.removesuffix("_deadline"),
                int(cycle) if cycle is not None else None,
                LedgerEntry(at=d.at, event="passed", detail=f"{d.outcome}: {d.reason} (due {d.inputs.get('due_at')})"),
            )
    for s in view.escalations:
        offset = _step_offset(view, s)
        add(
            s.deadline.value,
            s.cycle,
            LedgerEntry(
                at=s.at,
                event=f"step {s.step}",
                detail=f"{s.level.value}: {s.notify} notified{offset}"
                + (f" (after extension {s.extension})" if s.extension else ""),
            ),
        )
    ledgers = []
    for d in view.deadlines:
        rows = sorted(entries.get((d.kind.value, d.cycle), []), key=lambda r: r.at)
        if not any(r.event == "started" for r in rows):
            rows.insert(0, LedgerEntry(at=d.started_at, event="started"))
        if d.acknowledged_by and not any(r.event == "acknowledged" for r in rows):
            rows.append(LedgerEntry(at=d.escalated_at or d.due_at, event="acknowledged", by=d.acknowledged_by))
        ledgers.append(
            ClockLedger(
                kind=d.kind.value,
                cycle=d.cycle,
                started_at=d.started_at,
                due_at=d.due_at,
                clause_ids=d.clause_ids,
                status=_status(d),
                entries=rows,
            )
        )
    return ledgers


def _step_offset(view: ClaimView, escalation) -> str:
    deadline = next((d for d in view.deadlines if d.kind == escalation.deadline and d.cycle == escalation.cycle), None)
    if deadline is None:
        return ""
    hours = (escalation.at - deadline.due_at).total_seconds() / 3600
    return f", {abs(hours):.0f}h {'after' if hours >= 0 else 'before'} the due moment {deadline.due_at}"


def _status(d) -> str:
    if d.cleared:
        return "cleared" + (" after it passed" if d.due_passed else "")
    if d.due_passed:
        return "passed" + (f", acknowledged by {d.acknowledged_by}" if d.acknowledged_by else "")
    return "paused" if d.paused else "running"


# --- assembling the audit ------------------------------------------------------------------


def build_audit(fetched: Fetched, verdict: Verdict, version: str) -> Audit:
    """The audit of what was fetched, given the replay verdict and the code version (pure)."""
    number = fetched.claim_number
    first, last = fetched.runs[0], fetched.runs[-1]
    claim, raw = input_payload(first.history(number))
    view = fetched.view
    decisions = view.decisions if view else []
    findings = [f for run in fetched.runs for f in accepted_findings(run.history(number))]
    trail = [
        TrailEntry(
            at=d.at, what=d.what, outcome=d.outcome, reason=d.reason, inputs=d.inputs,
            clauses=clause_texts(d.clause_ids, claim, view),
        )  # fmt: skip
        for d in decisions
    ]
    if claim is not None and first.workflow_type == CLAIM:
        checks = recompute(claim, decisions, findings)
    else:
        checks = [
            _compare(i, d, None, "not recomputed: not a claim of today's engine (type Claim)")
            for i, d in enumerate(decisions)
        ]
    timeline = fetched.timeline if fetched.timeline is not None else (view.timeline if view else [])
    complete = fetched.timeline is not None or (view is not None and view.timeline_from == 0)
    runs = []
    for run in fetched.runs:
        digest = sha256_text(run.history_json)
        runs.append(
            {
                "run_id": run.run_id,
                "workflow_type": run.workflow_type,
                "events": len(run.history(number).events),
                "sha256": digest,
                "canonical_sha256": sha256_text(canonical_json(json.loads(run.history_json))),
                "archive_sha256_matches": None if run.archived_sha256 is None else run.archived_sha256 == digest,
            }
        )
    policy_raw = raw.get("policy") if isinstance(raw, dict) else None
    return Audit(
        claim_number=number,
        source=fetched.source,
        workflow_type=last.workflow_type,
        policy=claim.policy.name if claim else (view.policy if view else None),
        state=view.state.value if view else None,
        verdict=verdict,
        trail=trail,
        recomputation=checks,
        timeline=timeline,
        timeline_complete=complete,
        refused=fetched.refused,
        refused_note=fetched.refused_note,
        notifications=[e for e in timeline if e.kind in ("escalation", "delivery")],
        ledger=clock_ledger(view, timeline) if view else [],
        integrity=Integrity(
            history_sha256=runs[-1]["sha256"],
            history_canonical_sha256=runs[-1]["canonical_sha256"],
            runs=runs,
            policy_sha256=sha256_text(canonical_json(policy_raw)) if policy_raw is not None else None,
            code_version=version,
        ),
    )


# --- fetching --------------------------------------------------------------------------------


async def _temporal_runs(client: Client, number: str) -> list[tuple[RunHistory, WorkflowHistory]]:
    """Every run of the claim, the first first: from the latest back along the chain of
    continued runs (each run's start names the run it continues)."""
    runs = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(number, run_id=run_id)
        try:
            history = await handle.fetch_history()
        except RPCError as err:  # an earlier run retention removed: the archive has it
            if run_id is None or err.status != RPCStatusCode.NOT_FOUND:
                raise
            return list(reversed(runs))
        started = _started(history)
        this_run = run_id or (await handle.describe()).run_id
        runs.append((RunHistory(run_id=this_run, workflow_type=started.workflow_type.name,
                                history_json=history.to_json()), history))  # fmt: skip
        previous = started.continued_execution_run_id
        if not previous or len(runs) > 1000:
            return list(reversed(runs))
        run_id = previous


async def _whole_timeline(handle, view: ClaimView) -> list[TimelineEntry] | None:
    if view.timeline_from == 0:
        return view.timeline
    try:
        entries: list[TimelineEntry] = []
        while True:
            page = await handle.query(
                "timeline", args=[len(entries), TIMELINE_IN_VIEW], result_type=list[TimelineEntry],
                rpc_timeout=QUERY_TIMEOUT,
            )  # fmt: skip
            entries.extend(page)
            if len(page) < TIMELINE_IN_VIEW:
                return entries
    except Exception:  # no worker answered: the view's newest entries only
        return None


def _refused(engine, number: str) -> tuple[list[Refused], str]:
    from claimflow.refused import refused_attempts

    try:
        rows = refused_attempts(engine, number)
    except Exception as err:  # the read model is not reachable: say so, audit the rest
        return [], f"refused attempts could not be read from the read model: {str(err).splitlines()[0]}"
    return [Refused(at=r.at, by=r.by, action=r.action, reason=r.reason) for r in reversed(rows)], ""


def _archive_rows(engine, number: str):
    """The archived runs of the claim, the first first (by close time), of its first chain."""
    rows = archived_claims(engine, number)
    if not rows:
        return []
    return sorted((r for r in rows if r.first_run_id == rows[0].first_run_id), key=lambda r: r.close_time)


def _archived_run(row) -> RunHistory:
    return RunHistory(run_id=row.run_id, workflow_type=row.workflow_type, history_json=row.history_json,
                      archived_sha256=row.history_sha256)  # fmt: skip


async def _archived_runs_before(engine, number: str, first_in_temporal: WorkflowHistory) -> list[RunHistory]:
    """The runs before the earliest Temporal still has (a long claim's early runs, closed by
    continue-as-new, can outlive their retention while the claim goes on), from the archive."""
    previous = _started(first_in_temporal).continued_execution_run_id
    if not previous or engine is None:
        return []
    rows = await asyncio.to_thread(_archive_rows, engine, number)
    ids = [r.run_id for r in rows]
    if previous not in ids:
        raise AuditError(f"claim {number}: run {previous} is neither in Temporal nor in the archive")
    return [_archived_run(r) for r in rows[: ids.index(previous) + 1]]


async def fetch_claim(client: Client | None, engine, number: str) -> Fetched:
    """The claim's runs, final view, whole timeline and refused attempts: from Temporal
    when it has the claim, else from the archive. Raises AuditError when neither has it."""
    fetched: Fetched | None = None
    if client is not None:
        try:
            pairs = await _temporal_runs(client, number)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            pairs = []
        if pairs:
            earlier = await _archived_runs_before(engine, number, pairs[0][1])
            pairs = [(r, r.history(number)) for r in earlier] + pairs
            run, history = pairs[-1]
            handle = client.get_workflow_handle(number, run_id=run.run_id)
            execution = SimpleNamespace(id=number, run_id=run.run_id)
            view_json = await final_view_json(client, execution, history, QUERY_TIMEOUT)
            view = ClaimView.model_validate_json(view_json) if view_json else None
            timeline = await _whole_timeline(handle, view) if view else None
            fetched = Fetched(
                claim_number=number, source="temporal", runs=[r for r, _ in pairs], view=view, timeline=timeline
            )
    if fetched is None:
        if engine is None:
            raise AuditError(f"claim {number} not found in Temporal, and no archive to look in")
        chain = await asyncio.to_thread(_archive_rows, engine, number)
        if not chain:
            raise AuditError(f"claim {number} not found in Temporal nor in the archive of closed claims")
        latest = chain[-1]
        view = ClaimView.model_validate_json(latest.final_view_json) if latest.final_view_json else None
        runs = [_archived_run(r) for r in chain]
        fetched = Fetched(
            claim_number=number, source="archive", runs=runs, view=view,
            timeline=view.timeline if view and view.timeline_from == 0 else None,
        )  # fmt: skip
    if engine is not None:
        refused, note = await asyncio.to_thread(_refused, engine, number)
        fetched = fetched.model_copy(update={"refused": refused, "refused_note": note})
    else:
        fetched = fetched.model_copy(update={"refused_note": "no read model: refused attempts not shown"})
    return fetched


async def audit_claim(client: Client | None, engine, number: str, workflows=None, runner=None) -> Audit:
    fetched = await fetch_claim(client, engine, number)
    verdict = await replay(fetched.runs, number, workflows, runner)
    return build_audit(fetched, verdict, code_version())


