"""The audit page (web/routes/audit.py): the auditor reads a paid repair's audit — verdict,
decision trail with the clauses' texts, recomputation, ledger, integrity — and downloads
the HTML report; an unknown claim is the 404 page; anonymous is sent to sign in; the page
is read-only and keeps to the CSP."""

import re

import pytest

from tests.test_claim_lifecycle import paid_repair_until_delivered


@pytest.fixture
async def paid(claims, changkong):
    """A paid repair, delivered, its post-repair window over: the claim completed."""
    h = await paid_repair_until_delivered(claims, changkong)
    await claims.sleep(days=61)
    await h.result()
    return h


async def test_the_auditor_reads_a_paid_repairs_audit(web, claims, changkong, paid):
    aud = await web.as_user("aud")
    response = await aud.get(f"/claims/{paid.id}/audit")
    assert response.status_code == 200
    page = response.text
    assert "replays cleanly" in page and "non-determinism" not in page
    assert re.search(r"Recomputation: [1-9]\d* match, 0 mismatch", page)
    # the trail: each clause's full text from the policy snapshot, folded in <details>
    for cid in ("I.1-PROOF", "IV.4"):
        assert f"<summary>{cid}</summary><p>{changkong.clause_text(cid)}</p>" in page.replace("\n", "")
    assert "paid_repair" in page and "customer pays both ways" in page
    # the clock ledger, one table per deadline and cycle
    for kind in ("shipping #1", "quote #1", "repair #1", "payment #1", "post_repair_warranty #1"):
        assert kind in page
    assert "cleared after it passed" in page
    # integrity
    history = await paid.fetch_history()
    assert f"{len(history.events)} events" in page and "claimflow 0.1.0 (" in page
    # read-only, and the CSP allows no inline script or style
    assert page.count("<form") == 1 and '<form method="post" action="/signout"' in page  # the header's sign-out only
    assert "<script>" not in page and " style=" not in page and "<style" not in page
    assert not re.search(r"<[^>]+\son[a-z]+=", page)
    # the claim page links to it
    assert f'href="/claims/{paid.id}/audit"' in (await aud.get(f"/claims/{paid.id}")).text


async def test_the_report_downloads_as_an_attachment(web, claims, paid):
    amy = await web.as_user("amy")
    response = await amy.get(f"/claims/{paid.id}/audit.html")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="audit-{paid.id}.html"'
    assert response.headers["content-type"].startswith("text/html")
    assert "replays cleanly" in response.text and f"Audit of claim {paid.id}" in response.text


async def test_an_unknown_claim_is_the_404_page(web):
    aud = await web.as_user("aud")
    for path in ("/claims/NOSUCH-1/audit", "/claims/NOSUCH-1/audit.html", "/claims/x/audit"):
        assert (await aud.get(path)).status_code == 404


async def test_anonymous_is_sent_to_sign_in(web, claims, changkong):
    h = await claims.open(changkong)
    for path in (f"/claims/{h.id}/audit", f"/claims/{h.id}/audit.html"):
        response = await web.anonymous().get(path)
        assert response.status_code in (302, 303) and response.headers["location"].startswith("/signin")


async def test_a_claim_temporal_no_longer_keeps_is_audited_from_the_archive(live_claims, web, changkong, tmp_path):
    """Archived on the real dev server into the web's read model; the web's Temporal (the
    time-skipping server) never saw it: the audit comes from the archive."""
    from claimflow.archive import archive_closed_claims
    from claimflow.db import engine_for
    from models.actions import CancelClaim
    from tests.test_archive import closed, until_listed

    h = await live_claims.open(changkong, bought_days_ago=200)
    await live_claims.do(h, CancelClaim(by="amy", reason="withdrawn"))
    await closed(h)
    await until_listed(live_claims.client, f'WorkflowId = "{h.id}" AND ExecutionStatus != "Running"', 1)
    engine = engine_for(f"sqlite:///{tmp_path}/claims.db")
    assert (await archive_closed_claims(live_claims.client, engine, where=f'WorkflowId = "{h.id}"')).archived == 1
    engine.dispose()

    page = (await (await web.as_user("aud")).get(f"/claims/{h.id}/audit")).text
    assert "read from the archive of closed claims" in page and "replays cleanly" in page
    assert "the archive&#39;s sha256 matches" in page and "cancelled" in page
