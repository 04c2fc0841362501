"""The auditor's audit page: a claim's recorded history replayed against the current code,
its decision trail with each clause's text, the recomputation of each decision, the human
timeline with refused attempts, a clock ledger per deadline and cycle, and the integrity
block (claimflow/audit.py, the same content as `claims audit`). Read-only: no forms.

GET /claims/{number}/audit renders it; GET /claims/{number}/audit.html downloads the
self-contained HTML report (claimflow/audit_html.py). Every signed-in role may read both.
The claim comes from Temporal, or from the archive of closed claims when Temporal no longer
keeps it or does not answer; neither → the 404 page.
"""

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from temporalio.service import RPCError

from claimflow.audit import Audit, AuditError, Fetched, Verdict, build_audit, code_version, fetch_claim, replay
from web.deps import User, temporal
from web.i18n import N_
from web.routes.claim_page import _number
from web.templating import render

router = APIRouter()

STATUSES = (N_("match"), N_("mismatch"), N_("not recomputed"))  # a recomputation's status, shown with _()


def _replay_and_build(fetched: Fetched) -> Audit:
    """The CPU part, in a worker thread: replay every run (on its own event loop: the
    Replayer needs no client) and build the audit."""
    verdict: Verdict = asyncio.run(replay(fetched.runs, fetched.claim_number))
    return build_audit(fetched, verdict, code_version())


async def _audit(request: Request, number: str) -> Audit:
    """claimflow.audit.audit_claim, with the replay off the event loop; from the archive
    when Temporal cannot be reached."""
    number = _number(number)
    reader = request.app.state.reader
    try:
        client = await temporal(request)
    except HTTPException:  # Temporal unreachable: the archive may still have the claim
        client = None
    try:
        try:
            fetched = await fetch_claim(client, reader, number)
        except RPCError:  # Temporal did not answer
            fetched = await fetch_claim(None, reader, number)
    except AuditError:
        raise HTTPException(404, N_("there is no claim with this number")) from None
    return await asyncio.to_thread(_replay_and_build, fetched)


@router.get("/claims/{number}/audit")
async def audit_page(request: Request, number: str, user: User) -> Response:
    audit = await _audit(request, number)
    return render(request, "audit.html", a=audit, mismatches=sum(r.status == "mismatch" for r in audit.recomputation),
                  matches=sum(r.status == "match" for r in audit.recomputation))  # fmt: skip


@router.get("/claims/{number}/audit.html")
async def audit_download(request: Request, number: str, user: User) -> Response:
    from claimflow.audit_html import audit_html

    audit = await _audit(request, number)
    return Response(
        audit_html(audit),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{audit.claim_number}.html"'},
    )
