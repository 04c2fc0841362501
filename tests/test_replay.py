"""Every recorded claim history in tests/histories/ must replay against today's workflow code.

A change to a claim engine that would break a claim already running fails here; guard such
changes with `workflow.patched`. Record new histories with `make histories` (it never
overwrites one: histories of every released version stay). Bare names are the first
engine's (type ClaimWorkflow), `claim-*` the deadline-table engine's (type Claim).
"""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from worker import SANDBOX, WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
RECORDED_PATHS = {
    "free_repair",
    "paid_repair_window_ends",
    "new_fault_in_post_repair_window",
    "quote_declined",
    "return_refunded",
    "shipping_expired",
    "quote_expired_requoted",
    "payment_overdue_acknowledged",
    # one or more per seed policy and channel
    "best_lighting_refund",
    "best_lighting_replacement",
    "best_lighting_not_repairable",
    "konjump_remote_guidance",
    "konjump_return_repair",
    "konjump_on_site_paid",
    "shanghai_free_repair",
    "model_figures_on_site_free",
    # with the read-model projection and search attributes (patch "read-model-projection")
    "read_model_projection",
}
ENGINE_PATHS = {f"claim-{name}" for name in RECORDED_PATHS} | {
    "claim-reopened_after_shipping_expired",
    "claim-outage_caught_up",
    "claim-shanghai_sla_paused_for_approval",
    "claim-inspection_extended",
}


def test_every_lifecycle_path_has_a_recorded_history():
    assert RECORDED_PATHS | ENGINE_PATHS <= {path.stem for path in HISTORIES}


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter, workflow_runner=SANDBOX)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"
