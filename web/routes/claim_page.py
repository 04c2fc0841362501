"""The claim page: a claim's live state (the workflow's `view` query), its history, and
only the actions allowed now, as forms built from each action's pydantic model.

GET /claims/{number} renders the page (from the archive when Temporal no longer keeps the
claim); GET /claims/{number}/live?v=… is what the page polls: 204 while the claim is
unchanged, else its live region. POST /claims/{number}/actions/{action} sends one action
as the same workflow update the CLI sends, with the signed-in user as `by` and the form's
request id as the update's id (a double submit is done once). A refused action shows the
claim's reason beside its form and is recorded in the read model (claimflow/refused.py).
"""

import asyncio
import hashlib
import re
import types
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from starlette.datastructures import FormData
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from claimflow.archive import archived_claims, archived_view
from claimflow.claims import ClaimError, act, view, view_and_end
from claimflow.complaint_lists import complaints_of_claim
from claimflow.policy_files import load_policy
from claimflow.refused import record_refused, refused_attempts
from claimflow.users import list_users
from models.actions import ACTIONS, AgentAction
from models.claim import ClaimView, DeadlineStatus, FeeLine
from models.enums import TERMINAL_STATES, ClaimState, UserRole
from models.limits import TEXT_MAX
from models.permissions import allowed_for, may_act
from models.policy import Policy, PolicyError
from web.deps import User, csrf, temporal
from web.i18n import N_
from web.quote_links import quote_token
from web.security import secret_key
from web.templating import render

router = APIRouter()

NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,39}$")
REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
VIEW_WAIT = 10  # seconds a claim's view may take before the page says the claim did not answer
POLL_SECONDS = 5
EMPTY_ROWS = 3  # empty rows of a repeatable field (quote lines, owed fees, documentation items)
CLOSED = frozenset({ClaimState.COMPLETED, ClaimState.CANCELLED, ClaimState.REJECTED})  # assign_claim refused
SECONDARY = frozenset({"cancel_claim", "extend_deadline", "assign_claim"})  # forms shown folded
ASSIGN = "assign_claim"  # not among a claim's allowed actions: allowed while it is open (workflows/claim.py)

# Labels of the actions' fields (every field of models/actions.py), for gettext.
FIELD_LABELS = {
    "carrier": N_("Carrier"), "tracking_number": N_("Tracking number"), "amount": N_("Amount"),
    "reference": N_("Reference"), "lines": N_("Quote lines"), "work_done": N_("Work done"),
    "passed": N_("Passed"), "description": N_("Description"), "deadline": N_("Deadline"),
    "summary": N_("Summary"), "channel": N_("Channel"), "items": N_("Documentation items"),
    "owed": N_("Fees owed for the visit"), "within_policy": N_("Within the warranty policy"),
    "reason": N_("Reason"), "outcome": N_("Outcome"), "assignee": N_("Assign to"), "days": N_("Days"),
    "fault": N_("Fault"), "exclusions": N_("Exclusions found"), "unused_and_complete": N_("Unused and complete"),
    "defect": N_("Defect"), "non_repairable": N_("Not repairable because"), "replace": N_("Replace rather than repair"),
    "notes": N_("Findings notes"), "note": N_("Note"),
}  # fmt: skip


# --- field errors (also used by the new-claim form) --------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One problem with one field: what was typed, and why it is refused. `reason` is a
    gettext msgid formatted with `params`, or (params None) a message from the domain."""

    typed: str
    reason: str
    params: dict[str, Any] | None = None


_REASONS = {
    "missing": N_("this is required"),
    "string_too_short": N_("this is required"),
    "string_too_long": N_("at most %(max_length)s characters"),
    "string_pattern_mismatch": N_("3 to 40 letters, digits or dashes, starting with a letter or digit"),
    "date_from_datetime_parsing": N_("not a date; write it as YYYY-MM-DD"),
    "date_parsing": N_("not a date; write it as YYYY-MM-DD"),
    "date_type": N_("not a date; write it as YYYY-MM-DD"),
    "int_parsing": N_("not a whole number"),
    "int_from_float": N_("not a whole number"),
    "int_type": N_("not a whole number"),
    "decimal_parsing": N_("not an amount; write it like 120.50"),
    "decimal_type": N_("not an amount; write it like 120.50"),
    "decimal_max_places": N_("at most %(decimal_places)s decimal places"),
    "decimal_max_digits": N_("at most %(max_digits)s digits"),
    "greater_than": N_("must be more than %(gt)s"),
    "greater_than_equal": N_("must be at least %(ge)s"),
    "less_than": N_("must be less than %(lt)s"),
    "less_than_equal": N_("must be at most %(le)s"),
    "bool_parsing": N_("not yes or no"),
    "literal_error": N_("not one of the choices"),
    "enum": N_("not one of the choices"),
    "too_short": N_("give at least %(min_length)s"),
    "too_long": N_("at most %(max_length)s entries"),
}


def explain(error: dict) -> FieldError:
    """A pydantic error as a FieldError: the value typed and a reason to show beside it."""
    given = error.get("input")
    typed = "" if isinstance(given, (bool, dict, list)) or given is None else str(given)
    typed = typed if len(typed) <= 80 else typed[:79] + "…"
    reason = _REASONS.get(error["type"])
    if reason is None:
        return FieldError(typed, error["msg"].removeprefix("Value error, "))
    return FieldError(typed, reason, {k: str(v) for k, v in (error.get("ctx") or {}).items()})


def sentences(message: str) -> list[str]:
    """A ClaimError's message, one problem per item (problems are joined with "; "; a
    clause "this policy knows: …" belongs to the sentence before it)."""
    parts: list[str] = []
    for part in message.split("; "):
        if parts and part.startswith("this policy knows"):
            parts[-1] += "; " + part
        else:
            parts.append(part)
    return parts


# --- action forms, built from the actions' pydantic models ---------------------------------


@dataclass
class Widget:
    """One field of an action form. kind: text, textarea, number, bool, select, checks,
    rows (repeatable text) or lines (repeatable item/amount)."""

    name: str
    kind: str
    label: str
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    suggestions: list[str] = field(default_factory=list)  # a datalist for a text or lines field
    inputmode: str | None = None


@dataclass
class ActionForm:
    action: str
    widgets: list[Widget]
    request_id: str
    values: dict[str, Any] = field(default_factory=dict)  # as typed
    errors: dict[str, list[FieldError]] = field(default_factory=dict)  # by field name, or "name.row"
    general: list[str] = field(default_factory=list)  # the claim's refusal, or a check of the whole form
    kept: bool = False  # re-rendered with what was typed: the page's refresh must not replace it

    @property
    def folded(self) -> bool:
        return self.action in SECONDARY and not self.kept

    def rows(self, name: str) -> list:
        """The rows of a repeatable field: what was typed, and empty ones up to EMPTY_ROWS (+1)."""
        typed = list(self.values.get(name) or [])
        empty = ("", "") if self._widget(name).kind == "lines" else ""
        return typed + [empty] * max(EMPTY_ROWS - len(typed), 1)

    def _widget(self, name: str) -> Widget:
        return next(w for w in self.widgets if w.name == name)


def _bare(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None` and Annotated[...], and whether None was allowed."""
    optional = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            annotation = args[0]
        else:
            return annotation, optional


def _kind(info: FieldInfo) -> str:
    """How a field of an action is typed in a form (see Widget)."""
    annotation, _ = _bare(info.annotation)
    if get_origin(annotation) is list:
        return "lines" if _bare(get_args(annotation)[0])[0] is FeeLine else "list"
    if annotation is bool:
        return "bool"
    if get_origin(annotation) is Literal or (isinstance(annotation, type) and issubclass(annotation, Enum)):
        return "select"
    if annotation in (int, Decimal):
        return "number"
    long = any(getattr(m, "max_length", 0) and m.max_length >= TEXT_MAX for m in info.metadata)
    return "textarea" if long else "text"


def _choices(info: FieldInfo) -> list[str]:
    annotation, _ = _bare(info.annotation)
    if get_origin(annotation) is Literal:
        return [str(a) for a in get_args(annotation)]
    return [member.value for member in annotation]


def _widgets(action: str, claim: ClaimView, policy: Policy | None, users: list[str]) -> list[Widget]:
    """The form fields of `action` on this claim: by the field's type, and for the fields
    that name something of the policy or the claim, a choice among those."""
    widgets = []
    for name, info in ACTIONS[action].model_fields.items():
        if name in ("by", "note"):
            continue
        kind, label, required = _kind(info), FIELD_LABELS.get(name, name), info.is_required()
        widget = Widget(name, kind, label, required)
        if name == "deadline":
            widget.options = [(d.kind.value, d.kind.value) for d in _deadlines_for(action, claim)]
        elif name in ("exclusions", "non_repairable"):
            named = (policy.exclusions if name == "exclusions" else policy.non_repairable) if policy else []
            if policy is None:
                widget.kind = "rows"  # ids typed, one a row
            elif not named:
                continue  # the policy names none: nothing to choose
            else:
                widget.kind, widget.options = "checks", [(n.id, n.label) for n in named]
        elif name == "defect":
            if policy is None or not policy.warranty.scope:
                continue  # only policies that list a defect scope ask for one
            widget.kind, widget.options = "select", [("", "—")] + [(d.id, d.label) for d in policy.warranty.scope]
        elif kind == "lines":
            widget.suggestions = list(policy.fee_items) if policy else []
        elif kind == "list":
            widget.kind = "rows"
        elif kind == "select":
            choices = _choices(info)
            if name == "channel" and policy is not None:
                choices = [c for c in choices if policy.channel(c) is not None] or choices
            widget.options = [(c, c) for c in choices]
        elif kind == "number":
            widget.inputmode = "numeric" if _bare(info.annotation)[0] is int else "decimal"
        elif name == "assignee":
            widget.suggestions = users
        widgets.append(widget)
    return widgets + [Widget("note", "textarea", FIELD_LABELS["note"])]


def _deadlines_for(action: str, claim: ClaimView) -> list[DeadlineStatus]:
    """Acknowledging: the deadlines that escalated; otherwise every open deadline."""
    open_ = claim.open_deadlines
    if action == "acknowledge_escalation":
        return [d for d in open_ if d.escalated] or open_
    return open_


def parse_action_form(model: type[AgentAction], form: FormData) -> tuple[dict, dict, dict[str, list[int]]]:
    """(payload without `by`, the values as typed, for each repeatable field the form row of
    each payload entry) from a posted action form."""
    data: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    positions: dict[str, list[int]] = {}
    for name, info in model.model_fields.items():
        if name == "by":
            continue
        kind = "textarea" if name == "note" else _kind(info)
        if kind == "bool":
            typed[name] = data[name] = form.get(name) in ("on", "true", "1")
        elif kind == "lines":
            rows = list(zip(form.getlist(f"{name}.item"), form.getlist(f"{name}.amount")))
            typed[name] = [(str(item), str(amount)) for item, amount in rows]
            kept = [i for i, (item, amount) in enumerate(typed[name]) if item.strip() or amount.strip()]
            positions[name] = kept
            data[name] = [{"item": typed[name][i][0], "amount": typed[name][i][1]} for i in kept]
        elif kind == "list":
            typed[name] = [str(v) for v in form.getlist(name)]
            positions[name] = [i for i, v in enumerate(typed[name]) if v.strip()]
            data[name] = [typed[name][i] for i in positions[name]]
        else:
            value = str(form.get(name) or "")
            typed[name] = value
            if value.strip():  # left empty: the field's default, or "this is required"
                data[name] = value
    return data, typed, positions


def _form_errors(error: ValidationError, positions: dict[str, list[int]]) -> tuple[dict, list[str]]:
    """Errors by field (a repeatable field's by row: "lines.2"), and those about the whole form."""
    by_field: dict[str, list[FieldError]] = {}
    general: list[str] = []
    for e in error.errors():
        loc = e["loc"]
        if not loc:
            general.append(e["msg"].removeprefix("Value error, "))
            continue
        key = str(loc[0])
        if len(loc) > 1 and isinstance(loc[1], int) and key in positions:
            key = f"{key}.{positions[key][loc[1]]}"
        by_field.setdefault(key, []).append(explain(e))
    return by_field, general


# --- reading the claim ---------------------------------------------------------------------


@dataclass
class Loaded:
    view: ClaimView
    archived: Any = None  # the archive row when Temporal no longer keeps the claim
    ended_outside: str | None = None


def _number(number: str) -> str:
    if not NUMBER.match(number):
        raise HTTPException(404, N_("there is no claim with this number"))
    return number.upper()


async def _load(request: Request, number: str, live: bool = False) -> Loaded:
    """The claim's view (with how it ended outside claimflow, unless `live`: the poll); from
    the archive when Temporal does not know it; 404 when neither does."""
    client: Client = await temporal(request)
    try:
        if live:
            return Loaded(await asyncio.wait_for(view(client, number), VIEW_WAIT))
        claim, ended = await asyncio.wait_for(view_and_end(client, number), VIEW_WAIT)
        return Loaded(claim, ended_outside=ended)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise HTTPException(503, N_("Temporal did not answer; try again in a moment")) from None
    except (TimeoutError, WorkflowQueryFailedError):
        raise HTTPException(503, N_("the claim did not answer in time; is a worker running?")) from None
    rows = await asyncio.to_thread(archived_claims, request.app.state.reader, number)
    archived = archived_view(rows[0]) if rows else None
    if archived is None:
        raise HTTPException(404, N_("there is no claim with this number"))
    return Loaded(archived, archived=rows[0])


def _policy(request: Request, name: str) -> Policy | None:
    """The claim's policy file as it is now (for the choices of the forms), if it loads."""
    try:
        return load_policy(request.app.state.settings.policy_dir, name)
    except PolicyError:
        return None


def _span(seconds: float) -> dict[str, int]:
    seconds = int(abs(seconds))
    return {"days": seconds // 86400, "hours": seconds % 86400 // 3600, "minutes": seconds % 3600 // 60}


@dataclass
class DeadlineRow:
    deadline: DeadlineStatus
    left: dict[str, int]  # time left (or past due), days/hours/minutes
    overdue: bool
    level: str | None  # the escalation step reached


def _deadline_rows(claim: ClaimView, now: datetime) -> list[DeadlineRow]:
    rows = []
    for d in sorted(claim.open_deadlines, key=lambda d: d.due_at):
        until = d.paused_at if d.paused_at is not None else now  # paused: the time left when it stopped
        steps = [e for e in claim.escalations if e.deadline == d.kind and e.cycle == d.cycle]
        rows.append(
            DeadlineRow(d, _span((d.due_at - until).total_seconds()), d.due_passed or d.due_at <= until,
                        steps[-1].level.value if steps else None)
        )  # fmt: skip
    return rows


def _version(claim: ClaimView, refused: list) -> str:
    """Changes when anything the page shows changes (not with the view's own clock)."""
    text = claim.model_dump_json(exclude={"as_of"}) + f"|{len(refused)}|{refused[0].id if refused else 0}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _forms(request: Request, user, loaded: Loaded, posted: ActionForm | None) -> list[ActionForm]:
    """Forms for the actions this user may take on the claim now (none from the archive,
    nor on a claim ended outside claimflow)."""
    claim = loaded.view
    if loaded.archived is not None or loaded.ended_outside:
        return []
    role = UserRole(user.role)
    names = allowed_for(role, claim.allowed_actions)
    if may_act(role, ASSIGN) and claim.state not in CLOSED and ASSIGN not in names:
        names.append(ASSIGN)
    if not names:
        return []
    policy = _policy(request, claim.policy)
    users = [u.name for u in list_users(request.app.state.reader) if not u.disabled] if ASSIGN in names else []
    forms = []
    for name in names:
        if posted is not None and posted.action == name:
            form = posted
            form.widgets = _widgets(name, claim, policy, users)
        else:
            form = ActionForm(name, _widgets(name, claim, policy, users), uuid.uuid4().hex)
        forms.append(form)
    return forms


async def _context(request: Request, user, number: str, posted: ActionForm | None = None, live: bool = False) -> dict:
    loaded = await _load(request, number, live)
    claim, settings = loaded.view, request.app.state.settings
    now = claim.as_of if loaded.archived is not None else datetime.now(UTC)
    refused = await asyncio.to_thread(refused_attempts, request.app.state.reader, claim.claim_number)
    forms = await asyncio.to_thread(_forms, request, user, loaded, posted)
    token = quote_token(secret_key(settings), claim) if claim.state is ClaimState.AWAITING_APPROVAL else None
    role = UserRole(user.role)  # the customer's link goes to those who may answer for the customer
    return {
        "view": claim,
        "archived": loaded.archived,
        "ended_outside": loaded.ended_outside,
        "forms": forms,
        "unplaced": posted if posted is not None and posted.action not in {f.action for f in forms} else None,
        "deadlines": _deadline_rows(claim, now),
        "refused": refused,
        "quote_link": f"{settings.public_url}/q/{token}" if token and may_act(role, "approve_quote") else None,
        "temporal_url": f"{settings.temporal_ui_url}/namespaces/{quote(settings.temporal_namespace, safe='')}"
        f"/workflows/{quote(claim.claim_number, safe='')}",
        "version": _version(claim, refused),
        "polls": loaded.archived is None
        and not loaded.ended_outside
        and (bool(claim.allowed_actions) or claim.state not in TERMINAL_STATES),
        "poll_seconds": POLL_SECONDS,
        "now": now,
        # the complaints about this claim (shown outside the live region: not read by the poll)
        "complaints": [] if live else await asyncio.to_thread(complaints_of_claim, request.app.state.reader,
                                                               claim.claim_number),  # fmt: skip
    }


# --- routes --------------------------------------------------------------------------------


@router.get("/claims/{number}")
async def claim_page(
    request: Request, number: str, user: User, done: str | None = None, opened: bool = False
) -> Response:
    """`done`: the action just done (after its redirect); `opened`: the claim was just opened."""
    context = await _context(request, user, _number(number))
    return render(request, "claim.html", **context, done=done if done in ACTIONS else None, opened=opened)


@router.get("/claims/{number}/live")
async def claim_live(request: Request, number: str, user: User, v: str = "") -> Response:
    """The page's live region, or 204 (nothing to swap) while the claim has not changed."""
    context = await _context(request, user, _number(number), live=True)
    if context["version"] == v:
        return Response(status_code=204)
    return render(request, "claim_live.html", **context)


@router.post("/claims/{number}/actions/{action}", dependencies=[Depends(csrf)])
async def claim_action(request: Request, number: str, action: str, user: User) -> Response:
    number = _number(number)
    if action not in ACTIONS:
        raise HTTPException(404, N_("there is no such action"))
    if not may_act(UserRole(user.role), action):
        raise HTTPException(403, N_("your role may not do this"))
    form = await request.form()
    model = ACTIONS[action]
    data, typed, positions = parse_action_form(model, form)
    given_id = str(form.get("request_id") or "")
    posted = ActionForm(action, [], given_id if REQUEST_ID.match(given_id) else uuid.uuid4().hex, typed, kept=True)
    try:
        payload = model.model_validate(data | {"by": user.name})
    except ValidationError as error:
        posted.errors, posted.general = _form_errors(error, positions)
        return render(request, "claim.html", status_code=422, **await _context(request, user, number, posted))
    settings = request.app.state.settings
    try:
        await act(await temporal(request), number, payload, request_id=posted.request_id, wait=settings.act_timeout)
    except WorkflowUpdateFailedError as err:
        reason = err.cause.message if err.cause is not None else str(err)
        await asyncio.to_thread(record_refused, request.app.state.engine, number, action, user.name, reason)
        posted.general, posted.request_id = [reason], uuid.uuid4().hex  # the next try is a new request
        return render(request, "claim.html", status_code=409, **await _context(request, user, number, posted))
    except ClaimError as err:  # no answer in time: the same request id again is done once
        posted.general = [str(err)]
        return render(request, "claim.html", status_code=503, **await _context(request, user, number, posted))
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        posted.general = [err.message]  # a closed claim takes no update (an unknown one is a 404 page)
        context = await _context(request, user, number, posted)
        await asyncio.to_thread(record_refused, request.app.state.engine, number, action, user.name, err.message)
        context["refused"] = await asyncio.to_thread(refused_attempts, request.app.state.reader, number)
        return render(request, "claim.html", status_code=409, **context)
    return RedirectResponse(f"/claims/{quote(number)}?done={action}", status_code=303)
