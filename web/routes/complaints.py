"""The complaint pages: the list, the intake form, a complaint's page and its actions.

GET /complaints lists the read model's complaints (claimflow.complaint_lists): open,
overdue, by department, by category, by state; counts per state; keyset pages, the next
clock first; emergencies stand out. GET /complaints/new[?policy=…&claim_number=…] is the
intake form: the policy among those that take complaints, then its categories (htmx swaps
them in when the policy changes). POST /complaints/new checks the intake (pydantic, then
the policy: claimflow.complaints.complaint_input), shows each problem beside its field with
everything typed kept, and otherwise starts the complaint's workflow under a new number and
sends the user to its page. GET /complaints/{number} is the workflow's live view: routing
with its clauses, the reply clock and the level ladder with each level's moment, the
escalations, replies and timeline, and the actions this role may take now as forms. POST
/complaints/{number}/act/{action} sends one action as the same workflow update the CLI
sends (claimflow.complaints.act), the signed-in user as `by`; a refusal shows the
workflow's message beside its form.
"""

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from claimflow.calendars import local_today
from claimflow.claim_lists import PageKey, claim_number_taken
from claimflow.claims import ClaimError
from claimflow.complaint_lists import PAGE_SIZE, ComplaintFilter, complaints_page
from claimflow.complaints import ComplaintExists, act, complaint_input, new_complaint_number, open_complaint, view
from models.claim import ClaimNumber
from models.complaint import COMPLAINT_ACTIONS, ComplaintIntake, ComplaintNumber, ComplaintView
from models.enums import COMPLAINT_TERMINAL_STATES, ComplaintChannel, ComplaintClock, ComplaintState, UserRole
from models.permissions import CAN_OPEN_COMPLAINTS, CAN_READ, complaint_actions_for, may_act_on_complaint
from models.policy import Policy
from models.read_model import UserRow
from web.deps import User, csrf, role, temporal
from web.i18n import N_
from web.routes import claims_list
from web.routes.claim_page import REQUEST_ID, ActionForm, FieldError, explain
from web.routes.claims_list import NO, NOT_YES_OR_NO, YES, time_left
from web.routes.new_claim import _policies as loaded_policies
from web.routes.users import LANGUAGES
from web.templating import render
from workflows.names import CLAIM_TYPES

router = APIRouter()
Reader = Annotated[UserRow, Depends(role(*CAN_READ))]
Opener = Annotated[UserRow, Depends(role(*CAN_OPEN_COMPLAINTS))]

VIEW_WAIT = 10  # seconds a complaint's view may take before the page says it did not answer
GENERATED_TRIES = 3
CHANNELS = [c.value for c in ComplaintChannel]
STATES = [s.value for s in ComplaintState]
OPEN = "open"  # the state filter's value for "not closed nor cancelled"
NUMBER = TypeAdapter(ComplaintNumber)
CLAIM_NUMBER = TypeAdapter(ClaimNumber)

# Labels of the action forms' fields (models/complaint.py COMPLAINT_ACTIONS), for gettext.
FIELD_LABELS = {
    "reply": N_("Reply to the customer"), "satisfied": N_("The customer's word"), "department": N_("Department"),
    "reason": N_("Reason"), "note": N_("Note"),
}  # fmt: skip
SECONDARY = frozenset({"reassign", "close_complaint", "cancel_complaint"})  # forms shown folded
# The complaint's clocks, and the levels of its ladder among them, as people say them.
CLOCK_LABELS = {
    "reply": N_("reply"), "handler": N_("handler"), "department_head": N_("department head"),
    "leader": N_("company leader"), "feedback": N_("customer's feedback"),
}  # fmt: skip
assert set(CLOCK_LABELS) == {c.value for c in ComplaintClock}


def _policies(request: Request) -> list[Policy]:
    """The policies that take complaints (a broken policy file is left out)."""
    return [p for p in loaded_policies(request) if p.complaints is not None]


def _chosen(policies: list[Policy], name: str) -> Policy | None:
    return next((p for p in policies if p.name == name), None)


# --- the list -------------------------------------------------------------------------------

LIST_FIELDS = ("claim", "state", "overdue", "policy", "department", "category")


@dataclass
class Filters(claims_list.Filters):
    """The list's filter form as typed, what could be read of it, and a message per field
    that could not: the claims list's, over complaints."""

    where: ComplaintFilter = ComplaintFilter()  # type: ignore[assignment]

    def url(self, **changes: str | None) -> str:
        return "/complaints" + super().url(**changes).removeprefix("/claims")


@dataclass
class Choices:
    """The policies that take complaints, their departments and categories: (id, name)."""

    policies: list[tuple[str, str]]
    departments: list[tuple[str, str]]
    categories: list[tuple[str, str]]


def _choices(policies: list[Policy]) -> Choices:
    departments: dict[str, str] = {}
    categories: dict[str, str] = {}
    for policy in policies:
        assert policy.complaints is not None
        for d in policy.complaints.departments:
            departments.setdefault(d.id, d.name)
        for c in policy.complaints.categories:
            categories.setdefault(c.id, c.title)
    return Choices([(p.name, p.name) for p in policies], sorted(departments.items()), sorted(categories.items()))


def read_filters(params: Mapping[str, str], choices: Choices) -> Filters:
    """The filters in `params` (a query string)."""
    filters = Filters(typed={name: params.get(name, "").strip() for name in LIST_FIELDS})
    typed, where = filters.typed, {}
    if typed["claim"]:
        try:
            where["claim_number"] = CLAIM_NUMBER.validate_python(typed["claim"])
        except ValidationError:
            filters.fail("claim", N_("“%(value)s” is not a claim number"))
    if typed["state"] == OPEN:
        where["open"] = True
    elif typed["state"] in STATES:
        where["state"] = typed["state"]
    elif typed["state"]:
        filters.fail("state", N_("there is no state “%(value)s”"))
    for name, known, message in (
        ("policy", choices.policies, N_("there is no policy “%(value)s”")),
        ("department", choices.departments, N_("there is no department “%(value)s”")),
        ("category", choices.categories, N_("there is no category “%(value)s”")),
    ):
        if typed[name] and typed[name] not in {k for k, _ in known}:
            filters.fail(name, message)
        elif typed[name]:
            where[name] = typed[name]
    answer = typed["overdue"].lower()
    if answer and answer not in YES | NO:
        filters.fail("overdue", NOT_YES_OR_NO)
    elif answer:
        where["overdue"] = answer in YES
    filters.where = ComplaintFilter(**where)
    if token := params.get("after"):
        try:
            filters.after = PageKey.parse(token)
        except ValueError:
            filters.page_error = N_("that page link is out of date; this is the first page")
    return filters


@router.get("/complaints")
def complaints_list(request: Request, user: Reader) -> Response:
    choices = _choices(_policies(request))
    filters = read_filters(request.query_params, choices)
    page, counts = complaints_page(request.app.state.reader, filters.where, filters.after, PAGE_SIZE)
    now = datetime.now(UTC)
    rows = [(row, time_left(row.due_at, now)) for row in page.rows]
    state = filters.where.state
    open_count = sum(n for s, n in counts.items() if ComplaintState(s) not in COMPLAINT_TERMINAL_STATES)
    return render(
        request, "complaints/list.html", filters=filters, rows=rows, page=page, choices=choices, clocks=CLOCK_LABELS,
        department_names=dict(choices.departments), category_titles=dict(choices.categories),
        all_count=sum(counts.values()), open_count=open_count, states=STATES,
        counts=[(s, counts.get(s, 0)) for s in STATES if counts.get(s) or s == state],
        total=counts.get(state, 0) if state else (open_count if filters.where.open else sum(counts.values())),
    )  # fmt: skip


# --- the intake form ------------------------------------------------------------------------

INTAKE_FIELDS = ("policy", "channel", "category", "description", "customer_name", "customer_contact", "locale",
                 "claim_number")  # fmt: skip
FIELD_OF_PATH = {("customer", "name"): "customer_name", ("customer", "contact"): "customer_contact"}


def intake_values(params: Any) -> dict[str, Any]:
    """What was typed (a query string or a posted form)."""
    values: dict[str, Any] = {name: str(params.get(name) or "") for name in INTAKE_FIELDS}
    values["emergency"] = params.get("emergency") in ("on", "true", "1")
    return values


def _form(request: Request, values: dict[str, Any], errors: Mapping[str, list[FieldError]] | None = None,
          status_code: int = 200) -> Response:  # fmt: skip
    policies = _policies(request)
    policy = _chosen(policies, values["policy"]) or (policies[0] if len(policies) == 1 else None)
    if policy is not None:
        values["policy"] = policy.name
    return render(
        request, "complaints/new.html", status_code=status_code, policies=policies, policy=policy, values=values,
        errors=errors or {}, channels=CHANNELS, languages=LANGUAGES,
    )  # fmt: skip


def _intake_data(policy: Policy, values: dict[str, Any], number: str, by: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "complaint_number": number,
        "policy": policy.name,
        "channel": values["channel"],
        "category": values["category"],
        "description": values["description"],
        "emergency": values["emergency"],
        "customer": {"name": values["customer_name"], "contact": values["customer_contact"]},
        "opened_by": by,
    }
    for name in ("locale", "claim_number"):
        if values[name].strip():
            data[name] = values[name]
    return data


def _intake_errors(error: ValidationError) -> dict[str, list[FieldError]]:
    errors: dict[str, list[FieldError]] = {}
    for e in error.errors():
        loc = tuple(e["loc"])
        name = FIELD_OF_PATH.get(loc[:2], str(loc[0]) if loc else "")
        errors.setdefault(name, []).append(explain(e))
    return errors


async def _claim_known(request: Request, client: Client, number: str) -> bool:
    """Whether `number` is a claim: in the read model or the archive, or (just opened, not
    projected yet) a claim workflow Temporal knows."""
    if await asyncio.to_thread(claim_number_taken, request.app.state.reader, number):
        return True
    try:
        described = await client.get_workflow_handle(number).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise HTTPException(503, N_("Temporal did not answer; try again in a moment")) from None
    return described.workflow_type in CLAIM_TYPES


@router.get("/complaints/new")
def new_complaint_form(request: Request, user: Opener) -> Response:
    values = intake_values(request.query_params)
    values["channel"] = values["channel"] or ComplaintChannel.PHONE.value
    return _form(request, values)


@router.post("/complaints/new", dependencies=[Depends(csrf)])
async def new_complaint(request: Request, user: Opener) -> Response:
    form = await request.form()
    values = intake_values(form)
    if form.get("refresh"):  # without scripts: show the categories of the policy chosen
        return _form(request, values)
    policy = _chosen(_policies(request), values["policy"])
    if policy is None:
        return _form(request, values, {"policy": [FieldError(values["policy"], N_("choose one of the policies"))]}, 422)
    client = await temporal(request)
    claim_number = values["claim_number"].strip()
    if claim_number:
        try:
            claim_number = CLAIM_NUMBER.validate_python(claim_number)
        except ValidationError:
            pass  # the intake's own check says why, below
        else:
            if not await _claim_known(request, client, claim_number):
                unknown = FieldError(values["claim_number"], N_("there is no claim with this number"))
                return _form(request, values, {"claim_number": [unknown]}, 422)
    for _ in range(GENERATED_TRIES):
        number = new_complaint_number()
        try:
            intake = ComplaintIntake.model_validate(_intake_data(policy, values, number, user.name))
            complaint = complaint_input(intake, policy, local_today(policy.timezone))
        except ValidationError as error:
            return _form(request, values, _intake_errors(error), 422)
        except ClaimError as error:  # the policy's checks: the category is the only one a form can miss
            return _form(request, values, {"category": [FieldError(values["category"], str(error))]}, 422)
        try:
            await open_complaint(client, complaint, task_queue=request.app.state.task_queue)
        except ComplaintExists:
            continue  # a generated number met an old one: another
        return RedirectResponse(f"/complaints/{quote(number)}?opened=1", status_code=303)
    raise ClaimError("no free complaint number could be generated; try again")  # pragma: no cover


# --- a complaint's page and its actions -------------------------------------------------------


def _number(number: str) -> str:
    try:
        return NUMBER.validate_python(number)
    except ValidationError:
        raise HTTPException(404, N_("there is no complaint with this number")) from None


async def _load(request: Request, number: str) -> ComplaintView:
    client = await temporal(request)
    try:
        return await asyncio.wait_for(view(client, number), VIEW_WAIT)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, N_("there is no complaint with this number")) from None
        raise HTTPException(503, N_("Temporal did not answer; try again in a moment")) from None
    except (TimeoutError, WorkflowQueryFailedError):
        raise HTTPException(503, N_("the complaint did not answer in time; is a worker running?")) from None


def _fields(action: str) -> list[str]:
    """The fields an action's form asks (its model's, without `by`; the note last)."""
    names = [n for n in COMPLAINT_ACTIONS[action].model_fields if n not in ("by", "note")]
    return names + ["note"]


def _departments(request: Request, complaint: ComplaintView) -> list[tuple[str, str]]:
    """The departments a complaint can be reassigned to: its policy's, as the file stands now."""
    policy = _chosen(_policies(request), complaint.policy)
    if policy is None or policy.complaints is None:
        return []
    return [(d.id, d.name) for d in policy.complaints.departments if d.id != complaint.department]


def _forms(user: UserRow, complaint: ComplaintView, posted: ActionForm | None) -> list[ActionForm]:
    """Forms for the actions this user's role may take on the complaint now."""
    forms = []
    for name in complaint_actions_for(UserRole(user.role), complaint.allowed_actions):
        forms.append(posted if posted is not None and posted.action == name else ActionForm(name, [], uuid.uuid4().hex))
    return forms


async def _page(request: Request, user: UserRow, number: str, posted: ActionForm | None = None,
                status_code: int = 200, **extra: Any) -> Response:  # fmt: skip
    complaint = await _load(request, number)
    now = complaint.as_of  # the workflow's clock: time left as the complaint counts it
    forms = _forms(user, complaint, posted)
    return render(
        request, "complaints/complaint.html", status_code=status_code, view=complaint, forms=forms,
        unplaced=posted if posted is not None and posted.action not in {f.action for f in forms} else None,
        fields={f.action: _fields(f.action) for f in forms}, labels=FIELD_LABELS, now=now, time_left=time_left,
        departments=_departments(request, complaint) if any(f.action == "reassign" for f in forms) else [],
        reply_clock=complaint.reply_clock, secondary=SECONDARY, clocks=CLOCK_LABELS, **extra,
    )  # fmt: skip


@router.get("/complaints/{number}")
async def complaint_page(request: Request, number: str, user: User, done: str | None = None,
                         opened: bool = False) -> Response:  # fmt: skip
    """`done`: the action just done (after its redirect); `opened`: the complaint was just taken in."""
    return await _page(request, user, _number(number), done=done if done in COMPLAINT_ACTIONS else None,
                       opened=opened)  # fmt: skip


def parse_action_form(action: str, form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(payload without `by`, the values as typed) from a posted action form; a field left
    empty is left out (its default, or "this is required")."""
    data: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for name in _fields(action):
        typed[name] = value = str(form.get(name) or "")
        if name == "satisfied" and value:
            data[name] = value in YES if value in YES | NO else value
        elif value.strip():
            data[name] = value
    return data, typed


@router.post("/complaints/{number}/act/{action}", dependencies=[Depends(csrf)])
async def complaint_action(request: Request, number: str, action: str, user: User) -> Response:
    number = _number(number)
    if action not in COMPLAINT_ACTIONS:
        raise HTTPException(404, N_("there is no such action"))
    if not may_act_on_complaint(UserRole(user.role), action):
        raise HTTPException(403, N_("your role may not do this"))
    form = await request.form()
    data, typed = parse_action_form(action, form)
    given_id = str(form.get("request_id") or "")
    posted = ActionForm(action, [], given_id if REQUEST_ID.match(given_id) else uuid.uuid4().hex, typed, kept=True)
    try:
        payload = COMPLAINT_ACTIONS[action].model_validate(data | {"by": user.name})
    except ValidationError as error:
        for e in error.errors():
            posted.errors.setdefault(str(e["loc"][0]) if e["loc"] else "", []).append(explain(e))
        return await _page(request, user, number, posted, status_code=422)
    try:
        await act(await temporal(request), number, payload, request_id=posted.request_id,
                  wait=request.app.state.settings.act_timeout)  # fmt: skip
    except WorkflowUpdateFailedError as err:
        posted.general = [err.cause.message if err.cause is not None else str(err)]
        posted.request_id = uuid.uuid4().hex  # the next try is a new request
        return await _page(request, user, number, posted, status_code=409)
    except ClaimError as err:  # no answer in time: the same request id again is done once
        posted.general = [str(err)]
        return await _page(request, user, number, posted, status_code=503)
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        posted.general = [err.message]  # a closed complaint takes no update (an unknown one is a 404 page)
        return await _page(request, user, number, posted, status_code=409)
    return RedirectResponse(f"/complaints/{quote(number)}?done={action}", status_code=303)

