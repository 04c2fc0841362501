"""`claims demo`: open a realistic mix of claims under every policy and drive them into a
spread of states, to try the UI with and to benchmark against.

Each claim is planned from its own seeded random generator (`seed` and its number), so a
run is reproducible and a longer run (`--count 200` after `--count 30`) plans the first 30
claims the same way: a second run with the same prefix skips the claims already there.

A claim's plan is a *stage* (where it should end up: "quote sent", "awaiting payment",
"completed, refunded", …) reached by a *journey*: an intake that leads there under the
claim's policy (a purchase in or out of warranty, a return in its window, a refusing
condition) and the agent actions, in order, that take it there. The driver sends the
actions through `claimflow.claims.act` and stops when the claim reaches the stage's state.
Every action is one the workflow accepts in that state: a refusal raises, because it is a
bug in the plan. Deadlines are days long, so no timer fires while the demo runs: expired
claims, expired quotes and escalations are not among the stages (they need time to pass).
"""

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from dateutil.relativedelta import relativedelta
from rich.console import Console
from rich.table import Table
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from claimflow.claims import ClaimError, ClaimExists, act, claim_input, open_claim, view
from claimflow.policy_files import load_policy, policy_names
from claimflow.settings import TASK_QUEUE
from models import rules
from models.actions import (
    AgentAction,
    ApproveQuote,
    CancelClaim,
    ChooseChannel,
    CompleteRepair,
    ConfirmDelivery,
    DeclineQuote,
    ReceiveParcel,
    RecordCustomerShipment,
    RecordDocumentation,
    RecordInspection,
    RecordDetermination,
    RecordOnsiteReport,
    RecordPayment,
    RecordQualityCheck,
    RecordRefund,
    ReportFault,
    ResolveRemotely,
    SendQuote,
    ShipBack,
)
from claimflow.calendars import local_today
from models.claim import ClaimIntake
from models.enums import ClaimKind, ClaimState, Fault
from models.policy import Policy

S = ClaimState
CONCURRENCY = 20
WORKER_WAIT_SECONDS = 5.0
ON_SITE = ("on_site_repair", "on_site_check")
PREFIX = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,20}$")

# --- made-up people and products -----------------------------------------------------

AGENTS = ["agent.amy", "agent.li", "agent.chen", "agent.omar"]
TECHNICIANS = ["tech.tom", "tech.wang", "tech.zhao"]
ENGINEERS = ["eng.wu", "eng.he", "eng.sato"]
HEADQUARTERS = ["hq.chen", "hq.liu"]
QA = ["qa.zhou", "qa.lin"]
FINANCE = ["fin.liu", "fin.sun"]
REPAIR_WORK = [
    "replaced the main board", "replaced the power supply", "resoldered the connector", "replaced the driver",
    "recalibrated and replaced worn parts", "touched up the paint and re-fixed the base",
]  # fmt: skip
DOCUMENTS = ["photos of the fault", "video of the fault", "fault list", "installation photos", "controller log"]
CANCEL_REASONS = [
    "customer fixed it themselves", "customer bought a new one", "duplicate of another claim",
    "customer no longer wants the repair",
]  # fmt: skip
REMOTE_FIXES = [
    "DMX address was wrong", "reseated the signal cable", "updated the firmware",
    "reset the controller to factory settings", "supply was switched to 110 V",
]  # fmt: skip
CARRIERS = {"SF Express": "SF", "JD Logistics": "JD", "ZTO Express": "ZTO", "YTO Express": "YT", "EMS": "EM"}

CUSTOMERS = [
    "Li Wei", "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Lei", "Zhao Xin",
    "Huang Li", "Zhou Tao", "Wu Hua", "Xu Ming", "Sun Yue", "Ma Lin", "Zhu Qing", "Hu Jun",
    "Guo Mei", "He Bin", "Lin Xiao", "Gao Rui", "Luo Dan", "Anna Kowalski", "James Okafor",
    "Priya Raman", "Tomás Rivera", "Mia Schneider", "Kenji Watanabe", "Fatima Haddad",
    "Noah Bennett", "Chloe Martin", "Arjun Mehta",
]  # fmt: skip
COMPANIES = [
    "Starlight Events Ltd", "Harbour Hotel Group", "Nanjing Stagecraft", "Bright Mall Management",
    "Riverside School District", "Pearl Exhibition Services", "Golden Lotus Theatre", "Apex Print Works",
]  # fmt: skip


@dataclass(frozen=True)
class CatalogItem:
    model: str
    price: tuple[int, int]  # CNY, what the customer paid (refunds)
    faults: tuple[str, ...]


def _items(*rows: tuple[str, int, int, str]) -> list[CatalogItem]:
    """Catalog rows: model, price range, faults separated by " | "."""
    return [CatalogItem(model, (low, high), tuple(faults.split(" | "))) for model, low, high, faults in rows]


CATALOG: dict[str, list[CatalogItem]] = {
    "best_lighting": _items(
        ("BL-P600 LED panel 600x600 40W", 180, 320, "flickers when warm | one corner stays dark | does not light at all"),
        ("BL-TS20 track spotlight 20W", 90, 160, "beam turned green | driver buzzes loudly | goes off after ten minutes"),
        ("BL-CH8 crystal chandelier, 8 arms", 1200, 2600, "three arms do not light | dimmer makes it strobe"),
        ("BL-FL100 outdoor floodlight 100W", 260, 420, "water inside the lens | trips the breaker when switched on"),
        ("BL-DL12 ceiling downlight 12W", 35, 70, "hums and flickers | does not power on"),
    ),
    "changkong": _items(
        ("CK-200 controller", 480, 900, "does not power on | resets every few minutes | USB port not recognised"),
        ("CK-350 servo drive", 1100, 1900, "overcurrent alarm on start | motor jitters at low speed"),
        ("CK-R8 wireless receiver", 150, 260, "loses link after a minute | no signal on channel 3"),
        ("CK-PM90 power module", 220, 380, "output drops under load | fan does not spin"),
    ),
    "konjump": _items(
        ("KJ-P3.9 LED display cabinet", 3800, 6500, "a band of pixels is dark | colour shift on the left half | no signal"),
        ("KJ-MH230 moving head beam 230W", 5200, 8800, "pan motor stalls | lamp does not strike | DMX channel 5 ignored"),
        ("KJ-PAR54 LED par 54x3W", 600, 1100, "red channel dead | flickers at low dimming"),
        ("KJ-VX600 video processor", 7000, 12000, "no output on port 2 | freezes after an hour"),
    ),
    "model_figures": _items(
        ("1/6 scale samurai figure 'Ronin'", 890, 1500, "paint peeling on the armour | figure leans forward on its base"),
        ("1/7 scale figure 'Sakura, spring dress'", 560, 980, "dress colour differs from the box | left hand snapped off"),
        ("1/4 scale dragon statue 'Ember'", 2400, 4200, "wing joint loose, statue tilts | cracks in the paint of the tail"),
        ("1/12 mecha model 'Vanguard'", 380, 720, "foot broke off | dust under the clear coat"),
    ),
    "shanghai_equipment": _items(
        ("SE-3000 industrial chiller", 18000, 32000, "misses set temperature | compressor trips on start | E07 pressure alarm"),
        ("SE-75 screw air compressor 7.5kW", 9000, 15000, "oil in the discharge air | stops with overheat alarm"),
        ("SE-500 rotary vane vacuum pump", 4200, 7600, "cannot pull below 10 mbar | loud knocking noise"),
        ("SE-SC24 spindle controller", 2600, 4800, "spindle speed unstable | display blank"),
    ),
}  # fmt: skip
GENERIC_CATALOG = _items(
    ("Model A100", 200, 800, "does not power on | intermittent fault | makes a grinding noise"),
    ("Model B220", 500, 1500, "stops after a few minutes | display shows an error code"),
)
ABBREVIATIONS = {
    "best_lighting": "BL", "changkong": "CK", "konjump": "KJ", "model_figures": "MF", "shanghai_equipment": "SE",
}  # fmt: skip
FEE_RANGES = {  # CNY per fee line, by item
    "travel": (150, 600), "maintenance": (120, 900), "service": (80, 400), "door-to-door": (80, 200),
    "remote": (50, 150), "auxiliary material": (20, 120), "spare parts": (60, 1200), "labour": (60, 400),
}  # fmt: skip


def abbreviation(policy_name: str) -> str:
    """Short code of a policy in claim numbers: BL, CK, …; initials for a policy added later."""
    if policy_name in ABBREVIATIONS:
        return ABBREVIATIONS[policy_name]
    words = [w for w in policy_name.upper().split("_") if w]
    return "".join(w[0] for w in words) if len(words) > 1 else policy_name.upper()[:4]


# --- planning one claim ------------------------------------------------------------------


@dataclass
class Plan:
    """What a journey asks for: the intake's kind and dates, and the actions in order."""

    actions: list[AgentAction]
    kind: ClaimKind = ClaimKind.REPAIR
    covered: bool | None = None  # in warranty when opened (None: either, chosen at random)
    age: int | None = None  # days since purchase (default: from `covered`)
    received_ago: int | None = None  # days since the goods were received (returns)
    conditions: list[str] = field(default_factory=list)


class Ctx:
    """One claim being planned: its policy, today, and its own random generator."""

    def __init__(self, rng: random.Random, policy: Policy, today: date, channel: str):
        self.rng = rng
        self.policy = policy
        self.today = today
        self.channel = channel  # where the journey runs (on-site: the policy's on-site channel)
        self.product = rng.choice(CATALOG.get(policy.name, GENERIC_CATALOG))
        self.contract_months = (
            rng.choice([12, 24, 36]) if any(c.period_from_claim for c in policy.warranty.clocks) else None
        )
        self.quote_total = Decimal("0")
        self.owed_total = Decimal("0")  # a visit's fees owed whatever the quote's answer

    # who does what
    def agent(self) -> str:
        return self.rng.choice(AGENTS)

    def tech(self) -> str:
        return self.rng.choice(ENGINEERS if self.on_site else TECHNICIANS)

    @property
    def on_site(self) -> bool:
        return self.channel in ON_SITE

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    # --- dates ---------------------------------------------------------------------

    def warranty_days(self) -> int:
        """Days from purchase that the policy's first warranty clock covers (as of today)."""
        clock = self.policy.warranty.clocks[0]
        if clock.days is not None:
            return clock.days
        months = clock.months if clock.months is not None else self.contract_months
        assert months is not None
        return (self.today - (self.today - relativedelta(months=months))).days

    def age(self, covered: bool) -> int:
        """Days since purchase, well inside or well outside the warranty (never a boundary day)."""
        length = self.warranty_days()
        if covered:
            return self.rng.randint(min(20, length // 2), max(length - 10, 1))
        return self.rng.randint(length + 10, length + 500)

    # --- actions -------------------------------------------------------------------

    def parcel_in(self) -> list[AgentAction]:
        """The customer ships (sometimes recorded), the parcel arrives."""
        shipped = [self.shipment()] if self.chance(0.5) else []
        return [*shipped, ReceiveParcel(by=self.agent())]

    def shipment(self) -> RecordCustomerShipment:
        carrier, code = self.rng.choice(list(CARRIERS.items()))
        return RecordCustomerShipment(by=self.agent(), carrier=carrier, tracking_number=self.tracking(code))

    def tracking(self, code: str) -> str:
        return f"{code}{self.rng.randrange(10**11, 10**12)}"

    def findings(self, fault: Fault, **more) -> AgentAction:
        cls = RecordOnsiteReport if self.on_site else RecordInspection
        return cls(by=self.tech(), fault=fault, **more)

    def covered_findings(self) -> AgentAction:
        """A fault of the product itself, inside the warranty's scope where it lists one."""
        scope = self.policy.warranty.scope
        defect = {"defect": self.rng.choice(scope).id} if scope else {}
        return self.findings(Fault.QUALITY_FAULT, **defect)

    def paid_reason(self, out_of_warranty: bool = False) -> tuple[bool, AgentAction]:
        """Why a repair is paid: out of warranty, damage by use, an exclusion, outside the scope.
        Returns whether the purchase is in warranty, and the findings."""
        if out_of_warranty:
            return False, self.covered_findings()
        scope = self.policy.warranty.scope
        excluded = [
            e for e in self.policy.exclusions if e.effect == "no_free_service" and ClaimKind.REPAIR in e.applies_to
        ]
        reasons = ["out_of_warranty", "out_of_warranty", "damage"]  # out of warranty most often
        reasons += ["exclusion"] * bool(excluded) + ["out_of_scope"] * bool(scope)
        reason = self.rng.choice(reasons)
        if reason == "out_of_warranty":
            return False, self.covered_findings()  # the same fault, but the warranty is over
        if reason == "damage":
            why = self.rng.choice(["dropped by the customer", "cable cut", "liquid inside", "wrong supply voltage"])
            return True, self.findings(Fault.MAN_MADE_DAMAGE, notes=why)
        if reason == "exclusion":
            return True, self.findings(Fault.EXCLUDED_CONDITION, exclusions=[self.rng.choice(excluded).id])
        return True, self.findings(Fault.NOT_IN_SCOPE, notes="not among the covered defects")

    def visit_not_covered(self, findings: AgentAction) -> list[AgentAction]:
        """An on-site report not covered: with the fees the visit owes whatever the quote's
        answer, then headquarters' determination, where the policy asks for them."""
        spec = self.policy.channel(self.channel)
        if not self.on_site or spec is None or self.policy.readings < 2:
            return [findings]
        owed = [self.fee_line(item) for item in spec.fees_owed]
        self.owed_total = sum((line["amount"] for line in owed), Decimal("0"))
        report = RecordOnsiteReport.model_validate(findings.model_dump() | {"owed": owed})
        determination = [RecordDetermination(by=self.rng.choice(HEADQUARTERS), within_policy=False)]
        return [report, *(determination if spec.determination_clause_ids else [])]

    def fee_line(self, item: str) -> dict:
        low, high = FEE_RANGES.get(item, (50, 500))
        return {"item": item, "amount": Decimal(self.rng.randint(low, high)) + self.rng.choice([Decimal("0"), Decimal("0.50")])}

    def repair(self) -> list[AgentAction]:
        """The repair and its quality check, sometimes failed once."""
        qa = self.tech() if self.on_site else self.rng.choice(QA)
        checks = [False, True] if self.chance(0.15) else [True]
        actions: list[AgentAction] = []
        for passed in checks:
            actions.append(CompleteRepair(by=self.tech(), work_done=self.rng.choice(REPAIR_WORK)))
            actions.append(RecordQualityCheck(by=qa, passed=passed))
        return actions

    def quote(self) -> SendQuote:
        """Lines the policy allows; every fee the channel charges when not covered."""
        spec = self.policy.channel(self.channel)
        required = list(spec.fees_if_not_covered) if (spec and self.on_site) else []
        owed = list(spec.fees_owed) if (spec and self.on_site and self.policy.readings >= 2) else []
        required = [item for item in required if item not in owed]  # owed already, not quoted
        allowed = list(self.policy.fee_items) or ["spare parts", "labour"]
        if not self.on_site and "travel" in allowed and len(allowed) > 1:
            allowed.remove("travel")  # nobody travels for a return repair
        allowed = [i for i in allowed if i not in owed] or ["spare parts"]
        extra = [i for i in self.rng.sample(allowed, k=min(len(allowed), self.rng.randint(1, 2))) if i not in required]
        items = required + extra if required else extra
        lines = []
        for item in items:
            low, high = FEE_RANGES.get(item, (50, 500))
            cents = self.rng.choice([Decimal("0"), Decimal("0.50")])
            lines.append({"item": item, "amount": Decimal(self.rng.randint(low, high)) + cents})
        quote = SendQuote(by=self.agent(), lines=lines)
        self.quote_total = sum((line.amount for line in quote.lines), Decimal("0"))
        return quote

    def payment(self) -> RecordPayment:
        reference = f"PAY-{self.rng.randrange(10**6, 10**7)}"
        return RecordPayment(by=self.rng.choice(FINANCE), amount=self.quote_total + self.owed_total, reference=reference)

    def ship_and_deliver(self) -> list[AgentAction]:
        carrier, code = self.rng.choice(list(CARRIERS.items()))
        back = ShipBack(by=self.agent(), carrier=carrier, tracking_number=self.tracking(code))
        return [back, ConfirmDelivery(by=self.agent())]

    def documentation(self) -> list[AgentAction]:
        spec = self.policy.channel(self.channel)
        if spec is None or not spec.documentation_required:
            return []
        items = self.rng.sample(DOCUMENTS, k=2)
        return [RecordDocumentation(by=self.agent(), items=items)]


# --- journeys: an intake and the actions that lead along one path ---------------------

Journey = Callable[[Ctx], Plan]


def opened(ctx: Ctx) -> Plan:
    return Plan([])


def shipped(ctx: Ctx) -> Plan:
    return Plan([ctx.shipment()])


def parcel_received(ctx: Ctx) -> Plan:
    return Plan([*ctx.parcel_in()])


def cancelled(ctx: Ctx) -> Plan:
    reason = ctx.rng.choice(CANCEL_REASONS)
    before = ctx.documentation() if ctx.on_site and ctx.chance(0.5) else []
    return Plan([*before, CancelClaim(by=ctx.agent(), reason=reason)])


def free_repair(ctx: Ctx) -> Plan:
    return Plan([*ctx.parcel_in(), ctx.covered_findings(), *ctx.repair(), *ctx.ship_and_deliver()], covered=True)


def paid_repair(ctx: Ctx, out_of_warranty: bool = False) -> Plan:
    covered, findings = ctx.paid_reason(out_of_warranty)
    actions = [*ctx.parcel_in(), findings, ctx.quote(), ApproveQuote(by=ctx.agent()), *ctx.repair(), ctx.payment()]
    return Plan([*actions, *ctx.ship_and_deliver()], covered=covered)


def repair_in_window(ctx: Ctx) -> Plan:
    """A paid repair of a product out of warranty, delivered: its post-repair window runs
    (001 gives it only after a repair out of warranty)."""
    return paid_repair(ctx, out_of_warranty=True)


def repair_then_new_fault(ctx: Ctx) -> Plan:
    """A paid repair, delivered; a new fault inside the post-repair warranty."""
    plan = repair_in_window(ctx)
    plan.actions.append(ReportFault(by=ctx.agent(), description=ctx.rng.choice(ctx.product.faults) + " again"))
    return plan


def free_repair_in_window(ctx: Ctx) -> Plan:
    """… and the new fault repaired free under the post-repair warranty."""
    plan = repair_then_new_fault(ctx)
    plan.actions += [*ctx.parcel_in(), ctx.findings(Fault.QUALITY_FAULT)]
    return plan


def repair_or_paid(ctx: Ctx) -> Plan:
    return free_repair(ctx) if ctx.chance(0.5) else paid_repair(ctx)


def quote_declined(ctx: Ctx) -> Plan:
    covered, findings = ctx.paid_reason()
    visit = ctx.visit_not_covered(findings)
    quote = ctx.quote()
    ctx.quote_total = Decimal("0")  # declined: only what the visit owes is paid
    tail = ([ctx.payment()] if ctx.owed_total else []) if ctx.on_site else ctx.ship_and_deliver()
    return Plan([*ctx.documentation(), *([] if ctx.on_site else ctx.parcel_in()), *visit, quote,
                 DeclineQuote(by=ctx.agent()), *tail], covered=covered)  # fmt: skip


def no_fault_found(ctx: Ctx) -> Plan:
    findings = ctx.findings(Fault.NO_FAULT_FOUND, notes="ran 24 hours on the test bench without a fault")
    return Plan([*ctx.parcel_in(), findings, *ctx.ship_and_deliver()])


def refund(ctx: Ctx) -> Plan:
    """A return: inside the returns window, or inside a Three Guarantees refund tier."""
    price = Decimal(ctx.rng.randint(*ctx.product.price))
    pay = RecordRefund(by=ctx.rng.choice(FINANCE), amount=price, reference=f"RF-{ctx.rng.randrange(10**6, 10**7)}")
    if ctx.policy.returns is not None:
        unused = ctx.chance(0.4)  # changed their mind: unused and complete, nothing wrong
        fault = Fault.NO_FAULT_FOUND if unused else Fault.QUALITY_FAULT
        findings = ctx.findings(fault, unused_and_complete=unused)
        window = ctx.policy.returns.window_days
        received_ago = ctx.rng.randint(0, max(window - 2, 0))
        return Plan([*ctx.parcel_in(), findings, pay], kind=ClaimKind.RETURN, received_ago=received_ago)
    tier = next(t for t in ctx.policy.warranty.tiers if t.remedy == "refund")
    age = ctx.rng.randint(1, max(tier.up_to_day - 2, 1))
    actions = [*ctx.parcel_in(), ctx.findings(Fault.QUALITY_FAULT), pay]
    return Plan(actions, kind=ClaimKind.RETURN, covered=True, age=age)


def replacement(ctx: Ctx) -> Plan:
    """A Three Guarantees replacement tier, or a covered product that cannot be repaired."""
    tiers = ctx.policy.warranty.tiers
    replace = next((t for t in tiers if t.remedy == "replacement"), None)
    if replace is not None and (not ctx.policy.warranty.replacement_clause_ids or ctx.chance(0.5)):
        before = max((t.up_to_day for t in tiers if t.up_to_day < replace.up_to_day), default=0)
        age = ctx.rng.randint(before + 2, max(replace.up_to_day - 2, before + 2))
        actions = [*ctx.parcel_in(), ctx.findings(Fault.QUALITY_FAULT), *ctx.ship_and_deliver()]
        return Plan(actions, kind=ClaimKind.RETURN, covered=True, age=age)
    broken = ctx.policy.non_repairable
    more = {"non_repairable": [ctx.rng.choice(broken).id]} if broken and ctx.chance(0.6) else {"replace": True}
    return Plan([*ctx.parcel_in(), ctx.findings(Fault.QUALITY_FAULT, **more), *ctx.ship_and_deliver()], covered=True)


def not_repairable(ctx: Ctx) -> Plan:
    condition = ctx.rng.choice(ctx.policy.non_repairable).id
    findings = ctx.findings(Fault.QUALITY_FAULT, non_repairable=[condition])
    return Plan([*ctx.parcel_in(), findings, *ctx.ship_and_deliver()], covered=False)


def refused_at_intake(ctx: Ctx) -> Plan:
    refusing = [e for e in ctx.policy.exclusions if e.effect == "refuse"]
    exclusion = ctx.rng.choice(refusing)
    kind = ClaimKind.REPAIR if ClaimKind.REPAIR in exclusion.applies_to else ClaimKind.RETURN
    received_ago = 1 if kind is ClaimKind.RETURN else None
    return Plan([], kind=kind, conditions=[exclusion.id], received_ago=received_ago)


def late_return(ctx: Ctx) -> Plan:
    assert ctx.policy.returns is not None
    return Plan([], kind=ClaimKind.RETURN, received_ago=ctx.policy.returns.window_days + ctx.rng.randint(3, 40))


def resolved_remotely(ctx: Ctx) -> Plan:
    return Plan([ResolveRemotely(by=ctx.rng.choice(ENGINEERS), summary=ctx.rng.choice(REMOTE_FIXES))])


def onsite_visit(ctx: Ctx) -> Plan:
    return Plan(ctx.documentation())


def onsite_free(ctx: Ctx) -> Plan:
    return Plan([*ctx.documentation(), ctx.covered_findings()], covered=True)


def onsite_paid(ctx: Ctx) -> Plan:
    covered, findings = ctx.paid_reason()
    visit = ctx.visit_not_covered(findings)
    actions = [*ctx.documentation(), *visit, ctx.quote(), ApproveQuote(by=ctx.agent()), *ctx.repair(), ctx.payment()]
    return Plan(actions, covered=covered)


# --- stages: where a claim ends up ---------------------------------------------------


@dataclass(frozen=True)
class Stage:
    name: str
    weight: float
    journey: Journey
    target: ClaimState | None = None  # stop once the claim is here; None: the whole journey
    channel: str | None = "return_repair"  # "on_site": the policy's on-site channel; None: any
    fits: Callable[[Policy], bool] = lambda policy: True


def _has_window(p: Policy) -> bool:
    return p.post_repair_warranty is not None


def _refunds(p: Policy) -> bool:
    return p.returns is not None or any(t.remedy == "refund" for t in p.warranty.tiers)


def _replaces(p: Policy) -> bool:
    return bool(p.warranty.replacement_clause_ids) or any(t.remedy == "replacement" for t in p.warranty.tiers)


def _refuses(p: Policy) -> bool:
    return any(e.effect == "refuse" for e in p.exclusions)


def _determines(p: Policy) -> bool:
    return p.readings >= 2 and any(c.determination_clause_ids for c in p.channels if c.kind in ON_SITE)


def _documentation(p: Policy) -> bool:
    return any(c.documentation_required for c in p.channels if c.kind in ON_SITE)


RR, RG = "return_repair", "remote_guidance"
STAGES: list[Stage] = [
    # return repair: RMA issued, parcel, inspection, remedy
    Stage("awaiting_parcel", 8, opened),
    Stage("parcel_in_transit", 4, shipped),
    Stage("parcel_received", 5, parcel_received),
    Stage("free_repair_in_progress", 6, free_repair, S.REPAIRING),
    Stage("free_repair_in_quality_check", 2, free_repair, S.QUALITY_CHECK),
    Stage("free_repair_ready_to_ship", 2, free_repair, S.AWAITING_SHIP_BACK),
    Stage("paid_repair_awaiting_quote", 3, paid_repair, S.AWAITING_QUOTE),
    Stage("quote_sent", 6, paid_repair, S.AWAITING_APPROVAL),
    Stage("paid_repair_in_progress", 4, paid_repair, S.REPAIRING),
    Stage("awaiting_payment", 5, paid_repair, S.AWAITING_PAYMENT),
    Stage("shipped_back", 4, repair_or_paid, S.SHIPPED_BACK),
    Stage("in_post_repair_window", 4, repair_in_window, fits=_has_window),
    Stage("new_fault_in_post_repair_window", 1, repair_then_new_fault, fits=_has_window),
    Stage("free_repair_under_post_repair_warranty", 1, free_repair_in_window, fits=_has_window),
    Stage("refund_due", 2, refund, S.REFUND_DUE, fits=_refunds),
    Stage("completed_refund", 3, refund, fits=_refunds),
    Stage("completed_free_repair", 6, free_repair),
    Stage("completed_paid_repair", 3, paid_repair, fits=lambda p: not _has_window(p)),
    Stage("completed_quote_declined", 3, quote_declined),
    Stage("completed_no_fault_found", 2, no_fault_found),
    Stage("completed_replacement", 2, replacement, fits=_replaces),
    Stage("completed_not_repairable", 1, not_repairable, fits=lambda p: bool(p.non_repairable)),
    Stage("cancelled_before_shipping", 3, cancelled),
    # refused when opened
    Stage("rejected_at_intake", 3, refused_at_intake, channel=None, fits=_refuses),
    Stage("rejected_late_return", 2, late_return, channel=None, fits=lambda p: p.returns is not None),
    # remote guidance first
    Stage("remote_guidance", 8, opened, channel=RG),
    Stage("completed_remotely", 5, resolved_remotely, channel=RG),
    Stage("cancelled_in_remote_guidance", 2, cancelled, channel=RG),
    # on site: documentation (where required), the visit, the engineer's report, fees
    Stage("awaiting_documentation", 3, opened, channel="on_site", fits=_documentation),
    Stage("onsite_visit_planned", 5, onsite_visit, channel="on_site"),
    Stage("completed_onsite_free", 5, onsite_free, channel="on_site"),
    Stage("onsite_awaiting_determination", 2, onsite_paid, S.AWAITING_DETERMINATION, channel="on_site",
          fits=_determines),  # fmt: skip
    Stage("onsite_awaiting_quote", 2, onsite_paid, S.AWAITING_QUOTE, channel="on_site"),
    Stage("onsite_quote_sent", 4, onsite_paid, S.AWAITING_APPROVAL, channel="on_site"),
    Stage("onsite_repair_in_progress", 3, onsite_paid, S.REPAIRING, channel="on_site"),
    Stage("onsite_awaiting_payment", 3, onsite_paid, S.AWAITING_PAYMENT, channel="on_site"),
    Stage("completed_onsite_paid", 3, onsite_paid, channel="on_site"),
    Stage("completed_onsite_declined", 2, quote_declined, channel="on_site"),
    Stage("cancelled_before_visit", 2, cancelled, channel="on_site"),
]  # fmt: skip
OTHER_CHANNEL_SHARE = 0.5  # weight of a stage reached by leaving remote guidance for another channel


def _channels(policy: Policy, stage: Stage) -> list[str]:
    """The policy's channels the stage can run in ([] when it does not fit the policy)."""
    if not stage.fits(policy):
        return []
    if stage.channel is None:
        return [policy.first_channel]
    offered = [c.kind for c in policy.channels] or [RR]
    wanted = [k for k in offered if k in ON_SITE] if stage.channel == "on_site" else [stage.channel]
    first = policy.first_channel
    # a claim starts in the first channel; only remote guidance moves it to another one
    return [k for k in wanted if k in offered and (k == first or first == RG)]


def stages_for(policy: Policy) -> list[tuple[Stage, float]]:
    """The stages that fit the policy's channels and rules, with their weights."""
    fitting = []
    for stage in STAGES:
        channels = _channels(policy, stage)
        if channels:
            share = 1.0 if policy.first_channel in channels else OTHER_CHANNEL_SHARE
            fitting.append((stage, stage.weight * share))
    return fitting


# --- the claims of a run -------------------------------------------------------------


@dataclass
class DemoClaim:
    number: str
    policy: str
    stage: str
    intake: ClaimIntake
    actions: list[AgentAction]
    target: ClaimState | None
    state: ClaimState | None = None  # where it ended up (None: skipped, it already existed)
    skipped: bool = False


@dataclass
class DemoReport:
    """What a demo run did. The counts are of the claims it opened (not those it skipped)."""

    opened: int = 0
    skipped: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_policy: dict[str, int] = field(default_factory=dict)
    by_stage: dict[str, int] = field(default_factory=dict)
    claims: list[DemoClaim] = field(default_factory=list)
    seconds: float = 0.0


class DemoError(Exception):
    """The demo's plan did not lead where it should: a bug in the plan, not in the claim."""


def plan_claim(
    policy: Policy, n: int, *, seed: int, prefix: str, today: date, stage: Stage | None = None
) -> DemoClaim:
    """Claim number `n` of a run: deterministic from `seed` and `n` (and `stage`, when given
    instead of drawn from the policy's weighted stages)."""
    rng = random.Random(f"claimflow-demo/{seed}/{n}")
    stages = stages_for(policy)
    drawn = rng.choices([s for s, _ in stages], weights=[w for _, w in stages])[0]
    stage = stage or drawn
    channels = _channels(policy, stage)
    if not channels:
        raise DemoError(f"stage {stage.name} does not fit policy {policy.name}")
    channel = rng.choice(channels)
    ctx = Ctx(rng, policy, today, channel)
    plan = stage.journey(ctx)
    if channel != policy.first_channel:
        plan.actions.insert(0, ChooseChannel(by=rng.choice(ENGINEERS), channel=channel))
    number = f"{prefix}-{abbreviation(policy.name)}-{n:05d}"
    intake = _intake(ctx, plan, number)
    if plan.covered is not None and plan.kind is ClaimKind.REPAIR:
        warranty = rules.warranty_status(policy, intake, today)
        if warranty.covered != plan.covered:
            planned = "in" if plan.covered else "out of"
            raise DemoError(f"{number} ({stage.name}): planned {planned} warranty, the policy says {warranty.outcome}")
    return DemoClaim(number, policy.name, stage.name, intake, plan.actions, stage.target)


def _intake(ctx: Ctx, plan: Plan, number: str) -> ClaimIntake:
    rng, today = ctx.rng, ctx.today
    if plan.received_ago is not None:
        received = today - timedelta(days=plan.received_ago)
        purchased = received - timedelta(days=rng.randint(0, 3))
    else:
        covered = plan.covered if plan.covered is not None else ctx.chance(0.65)
        age = plan.age if plan.age is not None else ctx.age(covered)
        purchased = today - timedelta(days=age)
        received = min(purchased + timedelta(days=rng.randint(0, 3)), today)
    if rng.random() < 0.25:
        name = rng.choice(COMPANIES)
        contact = f"+86 1{rng.randint(30, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
    else:
        name = rng.choice(CUSTOMERS)
        contact = f"{name.lower().replace(' ', '.').replace('á', 'a')}@example.com"
    abbr = abbreviation(ctx.policy.name)
    return ClaimIntake(
        claim_number=number,
        policy=ctx.policy.name,
        kind=plan.kind,
        customer={"name": name, "contact": contact},
        product={
            "model": ctx.product.model,
            "serial_number": f"{abbr}{purchased:%y%m}{rng.randrange(10**5, 10**6)}",
            "barcode": f"69{rng.randrange(10**10, 10**11)}",
        },
        proof_of_purchase=True,
        purchase_date=purchased,
        goods_received_date=received,
        factory_shipment_date=purchased - timedelta(days=rng.randint(14, 120)),
        contract_warranty_months=ctx.contract_months,
        fault_description=rng.choice(ctx.product.faults),
        conditions=plan.conditions,
        opened_by=ctx.agent(),
    )


def plan_claims(policies: list[Policy], count: int, *, seed: int, prefix: str) -> list[DemoClaim]:
    """The run's claims, the policies taken in turn: claim n is the same in every run."""
    today = {p.name: local_today(p.timezone) for p in policies}
    return [
        plan_claim(policy, n, seed=seed, prefix=prefix, today=today[policy.name])
        for n in range(1, count + 1)
        for policy in [policies[(n - 1) % len(policies)]]
    ]


async def _open_and_drive(client: Client, claim: DemoClaim, policy: Policy, task_queue: str) -> None:
    try:
        await open_claim(client, claim_input(claim.intake, policy, local_today(policy.timezone)), task_queue)
    except ClaimExists:
        claim.skipped = True
        return
    state = None
    for action in claim.actions:
        state = (await act(client, claim.number, action)).state
        if state is claim.target:
            break
    else:
        if claim.target is not None:
            raise DemoError(f"{claim.number} ({claim.stage}) ended {state} without reaching {claim.target.value}")
    claim.state = state if state is not None else (await view(client, claim.number)).state


async def _check_worker(client: Client, task_queue: str) -> None:
    """Refuse at once, rather than wait forever on the first action, when no worker polls
    the task queue (a worker that just started gets WORKER_WAIT_SECONDS to show up)."""
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    deadline = time.monotonic() + WORKER_WAIT_SECONDS
    while not (await client.workflow_service.describe_task_queue(request)).pollers:
        if time.monotonic() > deadline:
            raise ClaimError(
                f"no worker polls task queue {task_queue!r}: start `claims up` or `claims worker` first"
            )
        await asyncio.sleep(0.2)


async def open_demo_claims(
    client: Client,
    count: int,
    *,
    policy_dir: Path,
    task_queue: str = TASK_QUEUE,
    seed: int = 0,
    prefix: str = "DEMO",
    concurrency: int = CONCURRENCY,
) -> DemoReport:
    """Open `count` claims, the policies in `policy_dir` in turn, and drive each into its
    planned stage with real agent actions, `concurrency` claims at a time. Claims whose
    number exists already (a rerun with the same prefix) are skipped and counted."""
    prefix = prefix.strip().upper()
    if not PREFIX.match(prefix):
        raise ClaimError(f"prefix {prefix!r} must be 1-21 letters, digits or dashes, starting with a letter or digit")
    if count < 0:
        raise ClaimError(f"count must be 0 or more, not {count}")
    names = policy_names(policy_dir)
    if not names:
        raise ClaimError(f"no policy files in {policy_dir}")
    policies = [load_policy(policy_dir, name) for name in names]
    claims = plan_claims(policies, count, seed=seed, prefix=prefix)
    return await drive_claims(client, claims, policies, task_queue=task_queue, concurrency=concurrency)


async def drive_claims(
    client: Client,
    claims: list[DemoClaim],
    policies: list[Policy],
    *,
    task_queue: str = TASK_QUEUE,
    concurrency: int = CONCURRENCY,
) -> DemoReport:
    """Open and drive planned claims, `concurrency` at a time; the first failure raises."""
    by_name = {p.name: p for p in policies}
    if claims:
        await _check_worker(client, task_queue)
    started = time.monotonic()
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def one(claim: DemoClaim) -> None:
        async with gate:
            await _open_and_drive(client, claim, by_name[claim.policy], task_queue)

    try:
        async with asyncio.TaskGroup() as tasks:
            for claim in claims:
                tasks.create_task(one(claim))
    except ExceptionGroup as group:  # the first failure, as itself (the others were cancelled)
        raise group.exceptions[0] from None

    opened = [c for c in claims if not c.skipped]
    return DemoReport(
        opened=len(opened),
        skipped=len(claims) - len(opened),
        by_state=dict(Counter(c.state.value for c in opened if c.state is not None)),
        by_policy=dict(Counter(c.policy for c in opened)),
        by_stage=dict(Counter(c.stage for c in opened)),
        claims=claims,
        seconds=time.monotonic() - started,
    )


def print_report(report: DemoReport, console: Console | None = None) -> None:
    """The run as a small table: claims by state (rows, in the order of a claim's life) and
    policy (columns), with one claim number per state to look at."""
    console = console or Console()
    opened = [c for c in report.claims if not c.skipped and c.state is not None]
    if opened:
        policies = sorted({c.policy for c in opened})
        columns = [abbreviation(p) for p in policies]
        table = Table(
            "state", *columns, "total", "for example",
            title="Demo claims by state and policy",
            caption=", ".join(f"{a} {p}" for a, p in zip(columns, policies)),
        )  # fmt: skip
        for state in ClaimState:
            row = [c for c in opened if c.state is state]
            if row:
                counts = Counter(c.policy for c in row)
                table.add_row(state.value, *(str(counts.get(p, "")) for p in policies), str(len(row)), row[0].number)
        table.add_section()
        table.add_row("total", *(str(report.by_policy.get(p, 0)) for p in policies), str(len(opened)), "", style="bold")
        console.print(table)
    skipped = f", skipped {report.skipped} that already existed" if report.skipped else ""
    console.print(f"opened {report.opened} claims{skipped} in {report.seconds:.1f} s", highlight=False)
