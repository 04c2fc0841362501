"""Versioning a claim engine under open claims: the patch "payment-due-notice" (issue 13, item 4).

Entering awaiting_payment, a claim now tells the customer the amount due and the due moment
(a notification through the `notify` activity). That adds commands to the history, so it is
guarded by `workflow.patched(PAYMENT_DUE_NOTICE)`: a history recorded before the change has
no marker and replays down the old branch; a new claim records the marker and takes the new
one. The README's "Changing a workflow" walks through the life of such a patch.
"""

import json
from decimal import Decimal
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from models.actions import ApproveQuote, CompleteRepair, ConfirmDelivery, RecordPayment, RecordQualityCheck, ShipBack
from models.claim import ClaimInput, ClaimView
from models.enums import ClaimState as S
from tests.conftest import HISTORIES
from tests.test_claim_lifecycle import quoted_paid_repair
from worker import SANDBOX, WORKFLOWS
from workflows.claim import PAYMENT_DUE_NOTICE, ClaimWorkflow
from workflows.names import CLAIM

# recorded before the patch, each reaching awaiting_payment (a paid repair; an on-site visit's fees)
BEFORE_THE_PATCH = ["claim-paid_repair_window_ends", "claim-payment_overdue_acknowledged", "claim-konjump_on_site_paid"]
WITH_THE_PATCH = "paid_repair_with_payment_notice"


@workflow.defn(name=CLAIM, sandboxed=False)
class ClaimWithoutNotice(ClaimWorkflow):
    """The engine as it was before the patch: the same workflow, no payment due notice.
    Not sandboxed: the sandbox would re-import this test module (it reads files on import);
    whether a replay is deterministic does not depend on the sandbox."""

    @workflow.run
    async def run(self, claim: ClaimInput) -> ClaimView:
        return await super().run(claim)

    def _payment_due_notice(self) -> None:
        pass


def load(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


async def replay(history: WorkflowHistory, workflows=WORKFLOWS):
    replayer = Replayer(workflows=workflows, data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    return await replayer.replay_workflow(history, raise_on_replay_failure=False)


def patch_markers(history: WorkflowHistory) -> list[str]:
    """The patch ids recorded in `history`: MarkerRecorded events named "core_patch", whose
    "patch-data" detail is {"id": ..., "deprecated": ...}."""
    return [
        json.loads(e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]


def entered_awaiting_payment(history: WorkflowHistory) -> bool:
    """Whether the claim in `history` entered awaiting_payment."""
    return any(b"awaiting_payment" in p.data for e in history.events for p in _payloads(e))


def _payloads(event):
    """The results an event carries: an update's (an ActionResult names the state it left the
    claim in) and the workflow's (the final view)."""
    if event.HasField("workflow_execution_update_completed_event_attributes"):
        return event.workflow_execution_update_completed_event_attributes.outcome.success.payloads
    if event.HasField("workflow_execution_completed_event_attributes"):
        return event.workflow_execution_completed_event_attributes.result.payloads
    return []


async def test_histories_recorded_before_the_patch_replay_down_the_old_branch():
    for name in BEFORE_THE_PATCH:
        history = load(name)
        assert entered_awaiting_payment(history), f"{name} never waited for a payment"
        assert patch_markers(history) == [], f"{name} was recorded with a patch"
        result = await replay(history)
        assert result.replay_failure is None, f"{name} no longer replays: {result.replay_failure}"


async def test_a_new_claim_takes_the_new_branch_and_the_customer_is_told(claims, changkong, record_history):
    h = await quoted_paid_repair(claims, changkong)
    await claims.do(h, ApproveQuote(by="amy"))
    await claims.do(h, CompleteRepair(by="tom", work_done="replaced the power board"))
    assert (await claims.do(h, RecordQualityCheck(by="qa", passed=True))).state is S.AWAITING_PAYMENT
    view = await claims.view(h)
    payment = view.open_deadlines[0]
    assert payment.kind == "payment"

    await claims.settle(h)
    notices = [n for n in claims.notifications() if n.key == f"{h.id}/{PAYMENT_DUE_NOTICE}#1"]
    assert len(notices) == 1
    notice = notices[0]
    assert notice.role == "customer" and notice.level == "reminder"
    assert f"payment of 120.50 CNY due by {payment.due_at:%Y-%m-%d %H:%M} UTC" in notice.subject
    assert "CF-PAYMENT, IV.5" in notice.body
    logged = [e.summary for e in view.timeline if "payment due notice" in e.summary]
    assert logged == [f"payment due notice to the customer: 120.50 CNY (the approved quote), due {payment.due_at}"]
    assert PAYMENT_DUE_NOTICE in patch_markers(await h.fetch_history())

    await claims.do(h, RecordPayment(by="amy", amount=Decimal("120.50"), reference="PAY-1"))
    await claims.do(h, ShipBack(by="amy", carrier="SF Express", tracking_number="SF100"))
    assert (await claims.do(h, ConfirmDelivery(by="amy"))).state is S.POST_REPAIR_WARRANTY
    await claims.sleep(days=61)
    final = await h.result()
    assert final.state is S.COMPLETED
    assert [n.key for n in claims.notifications()].count(notice.key) == 1  # sent once
    await record_history(h, WITH_THE_PATCH)


async def test_the_recorded_history_with_the_patch_replays_on_the_new_branch():
    history = load(f"claim-{WITH_THE_PATCH}")
    assert patch_markers(history) == [PAYMENT_DUE_NOTICE]
    result = await replay(history)
    assert result.replay_failure is None, result.replay_failure


async def test_the_old_code_cannot_replay_a_claim_that_took_the_new_branch():
    """Why the patch: code without the notice, deployed back over a claim that sent one, would
    not find the notify activity the history holds. (Before the patch the same is true the
    other way round: an unguarded notice breaks every claim recorded without it.)"""
    old_code = [ClaimWithoutNotice, *(w for w in WORKFLOWS if w is not ClaimWorkflow)]
    assert (await replay(load("claim-paid_repair_window_ends"), old_code)).replay_failure is None
    result = await replay(load(f"claim-{WITH_THE_PATCH}"), old_code)
    assert result.replay_failure is not None
    assert f"patch marker encountered for change {PAYMENT_DUE_NOTICE}" in str(result.replay_failure)


async def test_an_unguarded_notice_would_break_the_claims_recorded_before_it(monkeypatch):
    """The notice without `workflow.patched`: every old claim that waited for a payment fails."""
    monkeypatch.setattr(workflow, "patched", lambda patch_id, **_: True)
    result = await replay(load("claim-paid_repair_window_ends"))
    assert result.replay_failure is not None  # the notify activity where the history has none
    assert "Nondeterminism error: Activity machine" in str(result.replay_failure)


async def test_deprecating_the_patch_keeps_the_claims_that_took_it_and_drops_the_older_ones(monkeypatch):
    """Step 4 of a patch's life (README): `deprecate_patch` in place of the `if`, the new
    branch only. Claims recorded with the marker still replay; those that waited for a
    payment before the patch no longer do — hence the wait, and the archive's claim on old code."""

    patched = workflow.patched

    def deprecated(patch_id: str, **_) -> bool:
        if patch_id != PAYMENT_DUE_NOTICE:  # the patches that came after it stay as they are
            return patched(patch_id)
        workflow.deprecate_patch(patch_id)
        return True

    monkeypatch.setattr(workflow, "patched", deprecated)
    assert (await replay(load(f"claim-{WITH_THE_PATCH}"))).replay_failure is None
    assert (await replay(load("claim-free_repair"))).replay_failure is None  # never reached the patch point
    assert (await replay(load("claim-paid_repair_window_ends"))).replay_failure is not None
