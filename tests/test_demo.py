"""`claims demo` on the real dev server: a mix of claims over every policy, driven with real
agent actions into a spread of states, and a second run that skips them all."""

import asyncio
import uuid
from collections import Counter

import pytest
from rich.console import Console
from temporalio.service import RPCError, RPCStatusCode

from claimflow import demo
from claimflow.claims import ClaimError, view
from claimflow.demo import (
    STAGES,
    DemoError,
    drive_claims,
    open_demo_claims,
    plan_claim,
    plan_claims,
    print_report,
    stages_for,
)
from claimflow.policy_files import load_policy, policy_names
from claimflow.settings import REPO_ROOT
from claimflow.calendars import local_today
from models.claim import ClaimIntake
from worker import build_worker

POLICY_DIR = REPO_ROOT / "policies"
POLICIES = [load_policy(POLICY_DIR, name) for name in policy_names(POLICY_DIR)]


def unique_prefix() -> str:
    return f"DT{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
async def task_queue(dev_env, tmp_path):
    """A worker on its own task queue on the dev server."""
    queue = f"demo-{uuid.uuid4().hex[:8]}"
    async with build_worker(dev_env.client, tmp_path / "outbox.jsonl", task_queue=queue):
        yield queue


async def test_demo_opens_a_mix_and_a_rerun_skips_it(dev_env, task_queue):
    client, prefix = dev_env.client, unique_prefix()
    report = await open_demo_claims(client, 30, policy_dir=POLICY_DIR, task_queue=task_queue, prefix=prefix)

    assert (report.opened, report.skipped) == (30, 0)
    assert set(report.by_policy) == set(policy_names(POLICY_DIR))
    assert len(report.by_state) >= 6, report.by_state
    assert sum(report.by_state.values()) == sum(report.by_policy.values()) == sum(report.by_stage.values()) == 30
    assert all(c.number.startswith(f"{prefix}-") for c in report.claims)
    ClaimIntake.model_validate(report.claims[0].intake.model_dump())  # numbers fit the ClaimNumber pattern

    # the report says where each claim is: so does the claim itself
    views = await asyncio.gather(*(view(client, c.number) for c in report.claims))
    assert {v.claim_number: v.state for v in views} == {c.number: c.state for c in report.claims}
    assert Counter(v.state.value for v in views) == report.by_state
    assert Counter(v.policy for v in views) == report.by_policy
    assert all(v.timeline[0].by for v in views)  # opened by a named agent

    again = await open_demo_claims(client, 30, policy_dir=POLICY_DIR, task_queue=task_queue, prefix=prefix)
    assert (again.opened, again.skipped) == (0, 30)
    assert again.by_state == again.by_policy == {}

    console = Console(record=True, width=200)
    print_report(report, console)
    printed = console.export_text()
    assert "opened 30 claims in" in printed
    assert all(state in printed for state in report.by_state)
    print_report(again, console)
    assert "opened 0 claims, skipped 30 that already existed" in console.export_text()


async def test_every_stage_is_reached(dev_env, task_queue):
    """Each stage once, under the policies that fit it in turn: every action of its journey is
    one the workflow accepts, and the claim ends where the stage says."""
    prefix, claims, used = unique_prefix(), [], Counter()
    for n, stage in enumerate(STAGES, start=1):
        fitting = [p for p in POLICIES if stage.name in {s.name for s, _ in stages_for(p)}]
        policy = min(fitting, key=lambda p: used[p.name])  # spread the stages over the policies
        used[policy.name] += 1
        claims.append(plan_claim(policy, n, seed=7, prefix=prefix, today=local_today(policy.timezone), stage=stage))
    report = await drive_claims(dev_env.client, claims, POLICIES, task_queue=task_queue, concurrency=40)
    assert report.opened == len(STAGES) and set(report.by_policy) == {p.name for p in POLICIES}
    for claim in claims:
        if claim.target is not None:
            assert claim.state is claim.target, claim
    assert report.by_stage == {s.name: 1 for s in STAGES}


def key(claim):
    return claim.number, claim.stage, claim.intake.model_dump_json(), [a.model_dump_json() for a in claim.actions]


def test_plans_are_deterministic_and_longer_runs_extend_shorter_ones():
    first = plan_claims(POLICIES, 30, seed=3, prefix="DEMO")
    longer = plan_claims(POLICIES, 60, seed=3, prefix="DEMO")
    other = plan_claims(POLICIES, 30, seed=4, prefix="DEMO")
    assert [key(c) for c in first] == [key(c) for c in longer[:30]]
    assert [key(c) for c in first] != [key(c) for c in other]
    assert [c.number for c in first[:6]] == [
        "DEMO-BL-00001", "DEMO-CK-00002", "DEMO-KJ-00003", "DEMO-MF-00004", "DEMO-SE-00005", "DEMO-BL-00006",
    ]  # fmt: skip


def test_stages_fit_each_policys_channels():
    names = {policy.name: {s.name for s, _ in stages_for(policy)} for policy in POLICIES}
    assert "remote_guidance" in names["konjump"] and "remote_guidance" not in names["changkong"]
    assert names["model_figures"] <= {s.name for s in STAGES if s.channel == "on_site"}
    assert "rejected_at_intake" not in names["konjump"]  # no exclusion of konjump refuses service
    assert "in_post_repair_window" in names["changkong"] and "completed_paid_repair" not in names["changkong"]
    with pytest.raises(DemoError, match="does not fit policy model_figures"):
        figures = next(p for p in POLICIES if p.name == "model_figures")
        plan_claim(figures, 1, seed=0, prefix="DEMO", today=local_today(figures.timezone), stage=STAGES[0])


@pytest.mark.parametrize(("prefix", "count"), [("demo run", 5), ("-X", 5), ("X" * 22, 5), ("DEMO", -1)])
async def test_bad_prefix_or_count_is_refused(prefix, count):
    with pytest.raises(ClaimError):
        await open_demo_claims(None, count, policy_dir=POLICY_DIR, prefix=prefix)


async def test_no_worker_on_the_task_queue_is_refused_before_opening_anything(dev_env, monkeypatch):
    monkeypatch.setattr(demo, "WORKER_WAIT_SECONDS", 0.5)
    prefix = unique_prefix()
    with pytest.raises(ClaimError, match="no worker polls task queue 'nobody-home'"):
        await open_demo_claims(dev_env.client, 3, policy_dir=POLICY_DIR, task_queue="nobody-home", prefix=prefix)
    with pytest.raises(RPCError) as missing:
        await view(dev_env.client, f"{prefix}-BL-00001")  # nothing was opened
    assert missing.value.status == RPCStatusCode.NOT_FOUND
