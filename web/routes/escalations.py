"""The escalations inbox (supervisors and admins): the open claims that escalated, the
oldest escalation first, each with the engine's actions — acknowledge, reassign, extend,
reopen — sent to the workflow as the same updates the CLI sends, the signed-in user as `by`.

A row re-renders after its action (htmx: the row alone, from the workflow's live view;
without htmx: the whole page). A refused action shows the workflow's message on the row,
changes nothing, and is recorded as a refused attempt.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from babel.dates import format_timedelta
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from claimflow import claims
from claimflow.dashboard import Escalated, escalated_claims, escalated_from_view
from claimflow.refused import record_refused
from claimflow.users import list_users
from models.actions import ACTIONS, AgentAction
from models.enums import DeadlineKind, UserRole
from models.permissions import CAN_WORK_ESCALATIONS, may_act
from models.read_model import UserRow
from web.deps import csrf, role, temporal
from web.i18n import N_
from web.templating import render

router = APIRouter()
Supervisor = Annotated[UserRow, Depends(role(*CAN_WORK_ESCALATIONS))]

# The inbox's actions and the fields each form sends (besides the note).
FIELDS: dict[str, tuple[str, ...]] = {
    "acknowledge_escalation": ("deadline",),
    "assign_claim": ("assignee",),
    "extend_deadline": ("deadline", "days", "reason"),
    "reopen_claim": ("reason",),
}
ASSIGNABLE = frozenset({UserRole.AGENT.value, UserRole.SUPERVISOR.value})  # who a claim can be given to
DAYS = (1, 90)
DEADLINES = frozenset(k.value for k in DeadlineKind)


@dataclass
class Outcome:
    """What came of an action on one row: done (the workflow's answer), refused (its
    reason), or bad input (a message per field); `values`: what the user typed."""

    action: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (message, typed)
    done: str | None = None
    refused: str | None = None


def _people(request: Request) -> list[str]:
    return [u.name for u in list_users(request.app.state.reader) if not u.disabled and u.role in ASSIGNABLE]


def _context(request: Request, people: list[str]) -> dict:
    locale = request.state.locale or "en"
    now = datetime.now(UTC)

    def overdue(row: Escalated) -> str:
        span = row.overdue_for(now)
        return format_timedelta(span, locale=locale, threshold=1.1) if span is not None else ""

    return {"people": people, "overdue": overdue, "request_id": lambda: uuid.uuid4().hex}


@router.get("/escalations")
def inbox(request: Request, user: Supervisor) -> Response:
    rows, total = escalated_claims(request.app.state.reader)
    context = _context(request, _people(request))
    return render(request, "escalations.html", rows=rows, total=total, outcomes={}, flash=None, **context)


def _payload(action: str, values: dict[str, str], note: str, by: str, people: list[str]):
    """The action's payload, or the problems with what was typed (field -> (message, typed))."""
    errors: dict[str, tuple[str, str]] = {}
    data: dict[str, object] = {"by": by, "note": note}
    for name in FIELDS[action]:
        typed = values[name]
        if name == "deadline" and typed not in DEADLINES:
            errors[name] = (N_("“%(typed)s” is not a deadline of claimflow"), typed)
        elif name == "days":
            days = int(typed) if typed.strip().isdigit() else 0
            if not DAYS[0] <= days <= DAYS[1]:
                errors[name] = (N_("“%(typed)s” is not a whole number of days from 1 to 90"), typed)
            data[name] = days
            continue
        elif name == "assignee" and typed not in people:
            errors[name] = (N_("“%(typed)s” is not an active agent or supervisor"), typed)
        elif name == "reason" and not typed.strip():
            errors[name] = (N_("a reason is needed"), typed)
        data[name] = typed
    if errors:
        return None, errors
    try:
        return ACTIONS[action].model_validate(data), {}
    except ValidationError as err:
        for problem in err.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "note"
            name = name if name in (*FIELDS[action], "note") else "note"
            not_allowed = N_("“%(typed)s” is too long or has characters that are not allowed")
            errors.setdefault(name, (not_allowed, str(data.get(name, ""))))
        return None, errors


async def _send(request: Request, client: Client, number: str, payload: AgentAction, action: str, outcome: Outcome,
                request_id: str) -> None:  # fmt: skip
    settings = request.app.state.settings
    try:
        result = await claims.act(client, number, payload, request_id=request_id, wait=settings.act_timeout)
    except WorkflowUpdateFailedError as err:
        outcome.refused = getattr(err.cause, "message", None) or str(err)
        await asyncio.to_thread(record_refused, request.app.state.engine, number, action, payload.by, outcome.refused)
    except claims.ClaimError as err:  # no worker, no answer in time
        outcome.refused = str(err)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        if "completed" not in err.message:
            raise HTTPException(404, N_("no such claim")) from None
        outcome.refused = err.message  # the claim's workflow has closed
    else:
        outcome.done = result.message


async def _row_now(request: Request, client: Client, number: str) -> Escalated | None:
    """The claim as its workflow sees it now, else as the read model has it."""
    try:
        return escalated_from_view(await claims.view(client, number))
    except RPCError:
        rows, _ = await asyncio.to_thread(escalated_claims, request.app.state.reader)
        return next((r for r in rows if r.claim_number == number), None)


@router.post("/escalations/{number}/{action}", dependencies=[Depends(csrf)])
async def act_on(
    request: Request,
    number: str,
    action: str,
    user: Supervisor,
    client: Annotated[Client, Depends(temporal)],
) -> Response:
    if action not in FIELDS:
        raise HTTPException(404, N_("no such action"))
    if not may_act(UserRole(user.role), action):
        raise HTTPException(403, N_("your role may not do this"))
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in (*FIELDS[action], "note")}
    request_id = str(form.get("request_id") or "") or uuid.uuid4().hex
    people = await asyncio.to_thread(_people, request)
    outcome = Outcome(action=action, values=values)
    typed = {name: values[name] for name in FIELDS[action]}
    payload, outcome.errors = _payload(action, typed, values["note"], user.name, people)
    if payload is not None:
        await _send(request, client, number, payload, action, outcome, request_id)
    htmx = bool(request.headers.get("hx-request"))
    if outcome.done and not htmx:
        return RedirectResponse("/escalations", status_code=303)
    context = _context(request, people)
    if htmx:
        row = await _row_now(request, client, number)
        if row is None:  # neither Temporal nor the read model knows it
            raise HTTPException(404, N_("no such claim"))
        return render(request, "escalations_row.html", row=row, outcome=outcome, **context)
    rows, total = await asyncio.to_thread(escalated_claims, request.app.state.reader)
    status = 422 if outcome.errors else 409
    return render(request, "escalations.html", status_code=status, rows=rows, total=total,
                  outcomes={number: outcome}, flash=(number, outcome), **context)  # fmt: skip

