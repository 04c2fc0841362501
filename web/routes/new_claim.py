"""The new-claim form: a policy picker, then only the fields that policy needs.

GET /claims/new[?policy=…&kind=…] is the form; GET /claims/new/fields is its fields alone
(htmx swaps them in when the policy or the kind changes, keeping what was typed). POST
/claims/new checks the intake (pydantic, then `claim_input`: the policy's intake checks),
shows each problem beside its field with everything typed kept, and otherwise starts the
claim's workflow and sends the agent to the claim page, which shows the policy check's
decision with its clauses. The claim number is typed, or generated when left empty
(CF-<yymmdd>-<6 hex>); a number used before is refused beside the field.
"""

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from claimflow.calendars import local_today
from claimflow.claims import ClaimError, ClaimExists, claim_input, open_claim
from claimflow.policy_files import load_policy, policy_names
from claimflow.claim_lists import claim_number_taken
from models.claim import ClaimIntake
from models.enums import ClaimKind
from models.permissions import CAN_OPEN_CLAIMS
from models.policy import Exclusion, Policy, PolicyError
from models.read_model import UserRow
from web.deps import csrf, role, temporal
from web.i18n import N_
from web.routes.claim_page import FieldError, explain, sentences
from web.templating import render

router = APIRouter()
Opener = Annotated[UserRow, Depends(role(*CAN_OPEN_CLAIMS))]

TEXT_FIELDS = (
    "claim_number", "customer_name", "customer_contact", "product_model", "product_serial", "product_barcode",
    "fault_description", "purchase_date", "goods_received_date", "factory_shipment_date", "contract_warranty_months",
)  # fmt: skip
# intake paths whose form field has another name
FIELD_OF_PATH = {
    ("customer", "name"): "customer_name", ("customer", "contact"): "customer_contact",
    ("product", "model"): "product_model", ("product", "serial_number"): "product_serial",
    ("product", "barcode"): "product_barcode",
}  # fmt: skip
# where a sentence of the intake checks (models/rules.py intake_problems, claim_input) goes:
# the first of these it names, preferring a field left empty
MENTIONS = (
    ("goods_received_date", "goods_received_date"), ("factory_shipment_date", "factory_shipment_date"),
    ("contract_warranty_months", "contract_warranty_months"), ("purchase_date", "purchase_date"),
    ("condition", "conditions"), ("applies to", "conditions"), ("returns", "kind"), ("service claims", "kind"),
)  # fmt: skip
GENERATED_TRIES = 3


@dataclass
class Needs:
    """What a policy asks of a claim of one kind at intake."""

    kinds: list[str]
    kind: str
    purchase: bool
    factory_shipment: bool
    goods_received: bool
    contract_months: bool
    exclusions: list[Exclusion] = field(default_factory=list)


def needs(policy: Policy, kind: str | None) -> Needs:
    kinds = [k.value for k in policy.claim_kinds]
    kind = kind if kind in kinds else (ClaimKind.REPAIR.value if ClaimKind.REPAIR.value in kinds else kinds[0])
    clocks = policy.warranty.clocks
    return Needs(
        kinds=kinds,
        kind=kind,
        purchase=any(c.counted_from == "purchase" for c in clocks) or bool(policy.warranty.tiers),
        factory_shipment=any(c.counted_from == "factory_shipment" for c in clocks),
        goods_received=kind == ClaimKind.RETURN.value and policy.returns is not None,
        contract_months=any(c.period_from_claim for c in clocks),
        # readings 2 refuses a condition that does not apply to the kind: only those that do
        exclusions=[e for e in policy.exclusions if policy.readings < 2 or ClaimKind(kind) in e.applies_to],
    )


def values_of(params: Any) -> dict[str, Any]:
    """What was typed (a query string or a posted form); a fresh form has proof of purchase."""
    values: dict[str, Any] = {name: str(params.get(name) or "") for name in (*TEXT_FIELDS, "policy", "kind")}
    values["conditions"] = [str(c) for c in params.getlist("conditions")]
    seen = params.get("seen") is not None
    values["proof_of_purchase"] = params.get("proof_of_purchase") in ("on", "true", "1") if seen else True
    return values


def _policies(request: Request) -> list[Policy]:
    """Every policy file that loads (a broken one is left out of the picker)."""
    folder = request.app.state.settings.policy_dir
    loaded = []
    for name in policy_names(folder):
        try:
            loaded.append(load_policy(folder, name))
        except PolicyError:
            continue
    return loaded


def _chosen(policies: list[Policy], name: str) -> Policy | None:
    return next((p for p in policies if p.name == name), None)


def _page(
    request: Request,
    values: dict[str, Any],
    errors: Mapping[str, list[FieldError]] | None = None,
    status_code: int = 200,
    template: str = "new_claim.html",
) -> Response:
    policies = _policies(request)
    policy = _chosen(policies, values["policy"])
    need = needs(policy, values["kind"]) if policy else None
    return render(
        request, template, status_code=status_code, policies=policies, policy=policy, need=need,
        values=values, errors=errors or {},
    )  # fmt: skip


def _intake_data(policy: Policy, need: Needs, values: dict[str, Any], number: str, by: str) -> dict[str, Any]:
    """The intake from the fields the policy asks for (anything else sent is ignored)."""
    data: dict[str, Any] = {
        "claim_number": number,
        "policy": policy.name,
        "kind": need.kind,
        "customer": {"name": values["customer_name"], "contact": values["customer_contact"]},
        "product": {
            "model": values["product_model"],
            "serial_number": values["product_serial"],
            "barcode": values["product_barcode"] or None,
        },
        "proof_of_purchase": values["proof_of_purchase"],
        "fault_description": values["fault_description"],
        "conditions": [c for c in values["conditions"] if c in {e.id for e in need.exclusions}],
        "opened_by": by,
    }
    for name, asked in (
        ("purchase_date", need.purchase), ("goods_received_date", need.goods_received),
        ("factory_shipment_date", need.factory_shipment), ("contract_warranty_months", need.contract_months),
    ):  # fmt: skip
        if asked and values[name].strip():
            data[name] = values[name].strip()
    return data


def _place(message: str, values: dict[str, Any]) -> str:
    """The field a sentence of the intake checks is about ("" when it names none)."""
    named = [f for _, f in sorted((message.find(key), f) for key, f in MENTIONS if key in message)]
    empty = [f for f in named if not values.get(f)]
    return (empty or named or [""])[0]


def _domain_error(message: str, values: dict[str, Any], errors: dict[str, list[FieldError]]) -> None:
    where = _place(message, values)
    typed = values.get(where)
    typed = typed if isinstance(typed, str) and typed and typed not in message else ""
    errors.setdefault(where, []).append(FieldError(typed, message))


def _validation_errors(error: ValidationError, values: dict[str, Any]) -> dict[str, list[FieldError]]:
    errors: dict[str, list[FieldError]] = {}
    for e in error.errors():
        loc = tuple(e["loc"])
        if not loc:  # a check of the whole intake (dates in order): beside the date it names
            _domain_error(e["msg"].removeprefix("Value error, "), values, errors)
            continue
        name = FIELD_OF_PATH.get(loc[:2], str(loc[0]))
        errors.setdefault(name, []).append(explain(e))
    return errors


def generated_number() -> str:
    return f"CF-{datetime.now(UTC):%y%m%d}-{secrets.token_hex(3).upper()}"


@router.get("/claims/new")
def new_claim_form(request: Request, user: Opener) -> Response:
    return _page(request, values_of(request.query_params))


@router.get("/claims/new/fields")
def new_claim_fields(request: Request, user: Opener) -> Response:
    """The fields of the chosen policy and kind, with what was typed (htmx swaps them in)."""
    return _page(request, values_of(request.query_params), template="new_claim_fields.html")


@router.post("/claims/new", dependencies=[Depends(csrf)])
async def new_claim(request: Request, user: Opener) -> Response:
    form = await request.form()
    values = values_of(form)
    if form.get("refresh"):  # without scripts: show the fields of the policy chosen
        return _page(request, values)
    policy = _chosen(_policies(request), values["policy"])
    if policy is None:
        problem = FieldError(values["policy"], N_("choose one of the policies"))
        return _page(request, values, {"policy": [problem]}, status_code=422)
    need = needs(policy, values["kind"])
    typed_number = values["claim_number"].strip()
    client = await temporal(request)
    engine = request.app.state.engine
    for _ in range(GENERATED_TRIES):
        number = typed_number or generated_number()
        try:
            intake = ClaimIntake.model_validate(_intake_data(policy, need, values, number, user.name))
        except ValidationError as error:
            return _page(request, values, _validation_errors(error, values), status_code=422)
        try:
            claim = claim_input(intake, policy, local_today(policy.timezone))
        except ClaimError as error:
            errors: dict[str, list[FieldError]] = {}
            for sentence in sentences(str(error)):
                _domain_error(sentence, values, errors)
            return _page(request, values, errors, status_code=422)
        try:
            if await asyncio.to_thread(claim_number_taken, engine, intake.claim_number):
                raise ClaimExists(intake.claim_number)
            await open_claim(client, claim, task_queue=request.app.state.task_queue)
        except ClaimExists:
            if not typed_number:
                continue  # a generated number met an old one: another
            used = FieldError(typed_number, N_("this claim number is used already; a number is never used twice"), {})
            return _page(request, values, {"claim_number": [used]}, status_code=409)
        return RedirectResponse(f"/claims/{intake.claim_number}?opened=1", status_code=303)
    raise ClaimError("no free claim number could be generated; type one")  # pragma: no cover
