"""ClaimWorkflow (workflow type "Claim"): one after-sales claim, from opening to completion.

The workflow decides; the pure functions in models/ say what the policy means; activities
do the I/O. Agent actions are updates with validators (a refused action writes nothing
to history); the live state is the `view` query.

Three rules hold the engine together:

* **The clock never waits.** The main loop fires what is due, arms one timer for the next
  deadline event and waits; it awaits no activity. Deliveries — the read-model projection
  and notifications — run in their own coroutines and catch up when their dependency
  returns (see `_keep_read_model`, `_deliver_notifications`).
* **Actions respect time.** Every update first applies what is due at `workflow.now()`;
  its validator refuses an action whose window has closed, naming the moment it closed.
* **One deadline model.** Which deadline runs, pauses or is cleared in which state is the
  table in models/deadline_table.py, applied in one place: `_enter`.
"""

import asyncio
from datetime import date, datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from models import rules
    from models.actions import (
        AcknowledgeEscalation,
        AgentAction,
        ApproveQuote,
        AssignClaim,
        CancelClaim,
        ChooseChannel,
        CompleteRepair,
        ConfirmDelivery,
        DeclineQuote,
        ExtendDeadline,
        ReceiveParcel,
        RecordCustomerShipment,
        RecordDetermination,
        RecordDocumentation,
        RecordInspection,
        RecordOnsiteReport,
        RecordPayment,
        RecordQualityCheck,
        RecordRefund,
        ReopenClaim,
        ReportFault,
        ResolveRemotely,
        ScheduleVisit,
        SendQuote,
        SettleUnpaid,
        ShipBack,
        allowed_actions,
        refusal,
    )
    from models.calendar import end_of_natural_days, local_date, local_text, next_in_service
    from models.claim import (
        ActionResult,
        CarriedClaim,
        ClaimInput,
        ClaimView,
        DeadlineStatus,
        Decision,
        Delivery,
        Escalation,
        FeeLine,
        Notification,
        Payment,
        Quote,
        TimelineEntry,
        escalation_notification_key,
        email_address,
        escalation_subject,
        is_overdue,
        next_deadline,
        snapshot_of,
    )
    from models.deadline_table import (
        ENGINE_CLAUSES,
        DeadlineSpec,
        Expiry,
        OpenDeadline,
        deadline_table,
        expiry_state,
        spec_for,
        state_at,
        transition,
    )
    from models.deadlines import due_at, due_events, has_pending_steps, next_event_at
    from models.enums import TERMINAL_STATES, ClaimKind, ClaimState, DeadlineKind, EscalationLevel, Fault, Remedy, Role
    from models.limits import (
        EXTENSIONS_MAX,
        FAULT_REPORTS_MAX,
        QUOTES_MAX,
        REOPENS_MAX,
        REPAIR_ATTEMPTS_MAX,
        TIMELINE_IN_VIEW,
    )
    from models.policy import DeadlineRule
    from workflows.names import CLAIM, NOTIFY, PROJECT_CLAIM
    from workflows.search_attributes import CLAIM_OVERDUE, CLAIM_STATE

from workflows.delivery import (
    ATTEMPT_BOUND,
    DELIVERY_BOUND,
    DELIVERY_RETRY,
    LOCAL_PROJECTION_BOUND,
    LOCAL_RETRY,
    cause_of,
    span,
)

S = ClaimState

# Deliveries (their bounds in workflows/delivery.py). The read model is written by a local
# activity (one marker event, in the same workflow task as the action); when that fails, by
# a regular activity retried by the server within DELIVERY_BOUND, again and again until the
# database is back. A notification is a regular activity with the same bound: one that is
# not delivered within it is recorded in the timeline, escalated to the supervisor, and
# retried. The claim keeps its own two loops, as it carries their state into a continued
# run; complaints use delivery.py's Outbox and ReadModelFeed.

# Behaviour changes made under open claims, each guarded by `workflow.patched` where it
# diverges (README, "Changing a workflow"). A claim whose history has no marker of a patch
# takes the old branch on replay, and keeps taking it after.
PAYMENT_DUE_NOTICE = "payment-due-notice"  # the customer is told the amount and due moment on entering awaiting_payment
CONTINUE_AS_NEW = "continue-as-new"  # a long history continues in a new run (models.claim.CarriedClaim)
EMAIL = "email-notifications"  # customer messages at their moments; non-urgent mail waits for service hours; outcomes logged

# The bound of claims opened before their input carried one. Never change it: their
# histories continued as new where it said.
UNBOUNDED_INPUT_EVENTS_MAX = 1_000

# The workflow's attributes that are not carried into the next run: the input and what is
# rebuilt from it, and the wiring of the run itself. Everything else is in CarriedClaim.
NOT_CARRIED = frozenset(
    {"input", "intake", "policy", "calendar", "number", "table", "rules", "intake_problems",
     "published", "changes", "timer", "timer_at", "may_continue"}
)  # fmt: skip


@workflow.defn(name=CLAIM)
class ClaimWorkflow:
    @workflow.init
    def __init__(self, claim: ClaimInput) -> None:
        self._input = claim
        self._intake = claim.intake
        self._policy = claim.policy
        self._calendar = claim.calendar
        self._number = claim.intake.claim_number
        self._table = deadline_table(self._policy, self._intake.kind)
        self._rules: dict[DeadlineKind, DeadlineRule] = {spec.kind: spec.rule(self._policy) for spec in self._table}
        now = workflow.now()
        self._run = 1  # the run of the workflow this is (continue-as-new starts the next)
        self._state = S.OPENED
        self._opened_at = now
        self._updated_at = now
        self._reported_on = self._today()  # when the current fault was reported
        self._rma: str | None = None
        self._rmas_issued = 0
        self._remedy: Remedy | None = None
        self._fault: Fault | None = None
        self._warranty: Decision | None = None
        self._quote: Quote | None = None
        self._payments: list[Payment] = []
        self._paid_repair = False  # the current cycle is a repair the customer pays for
        self._channel = "return_repair"
        self._fees_due: list[str] = []  # fee items a quote must carry (an on-site visit not covered)
        self._owed: list[FeeLine] = []  # fees owed for a visit whatever the answer to a quote
        self._visit_owed: list[FeeLine] | None = None  # a visit's fees owed, its report awaiting headquarters
        self._assignee: str | None = None  # given by a supervisor (assign_claim)
        self._post_repair_until: date | None = None
        self._repair_cycles = 0
        self._quotes_sent = self._qc_failures = self._fault_reports = self._reopens = 0  # bounded loops
        self._unpaid = False  # the product goes back without the repair fee paid
        self._deadlines: list[DeadlineStatus] = []
        self._escalations: list[Escalation] = []
        self._decisions: list[Decision] = []
        self._timeline: list[TimelineEntry] = []
        self._outbox: list[Notification] = []  # notifications not delivered yet, oldest first
        self._projected = 0  # timeline entries already written to the read model
        self._behind_since: datetime | None = None  # the read model has been unreachable since
        self._reported_late: list[str] = []  # outbox keys already reported as not delivered in time
        self._published: tuple[ClaimState, bool] | None = None  # search attributes last set
        self._changes = 0  # bumped by every handler, so the main loop wakes up
        self._timer: asyncio.Task | None = None
        self._timer_at: datetime | None = None
        self._may_continue = True  # False once this run declined to continue as new (replaying an older run)
        if claim.carried is not None:  # a continued run: the claim goes on where the previous run left it
            for name, value in claim.carried:
                setattr(self, "_" + name, value)
            self._intake_problems: list[str] = []
            return
        # Opened here, not in run(): an update may arrive in the very first workflow task.
        self._intake_problems = rules.intake_problems(self._policy, self._intake, self._reported_on)
        if not self._intake_problems:
            self._open_claim()

    @workflow.run
    async def run(self, claim: ClaimInput) -> ClaimView:
        if self._intake_problems:
            raise ApplicationError(
                "cannot open the claim: " + "; ".join(self._intake_problems), non_retryable=True
            )
        deliveries = [asyncio.create_task(self._keep_read_model()), asyncio.create_task(self._deliver_notifications())]
        try:
            while True:
                self._apply_due()
                self._publish()
                if self._finished():
                    break
                if self._history_full() and self._continuing():
                    await self._continue_as_new()
                await self._wait_for_change_or_next_event()
        except asyncio.CancelledError:  # "Request Cancellation" in Temporal's UI, `temporal workflow cancel`
            self._log("state", "cancelled outside claimflow: the workflow was asked to cancel in Temporal")
            self._move(S.CANCELLED)
            self._publish()
            await self._close(deliveries)
            raise  # the workflow ends as cancelled, its read model and notifications caught up
        await self._close(deliveries)
        return self.view()

    async def _close(self, deliveries: list[asyncio.Task]) -> None:
        """Stop the timer and end once every handler finished and the deliveries caught up."""
        self._cancel_timer()
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._delivered())
        for task in deliveries:
            task.cancel()

    # --- queries ---------------------------------------------------------------------

    @workflow.query
    def view(self) -> ClaimView:
        """The claim as it stands, with the newest TIMELINE_IN_VIEW timeline entries."""
        return self._view(TIMELINE_IN_VIEW)

    @workflow.query
    def timeline(self, offset: int, limit: int) -> list[TimelineEntry]:
        """A page of the whole timeline (at most TIMELINE_IN_VIEW entries)."""
        offset = max(offset, 0)
        return self._timeline[offset : offset + max(0, min(limit, TIMELINE_IN_VIEW))]

    def _view(self, newest: int | None) -> ClaimView:
        start = 0 if newest is None else max(0, len(self._timeline) - newest)
        cited = {cid for d in self._decisions for cid in d.clause_ids}
        cited |= {cid for d in self._deadlines for cid in d.clause_ids}
        return ClaimView(
            claim_number=self._number,
            policy=self._policy.name,
            kind=self._intake.kind,
            state=self._state,
            remedy=self._remedy,
            product=self._intake.product,
            customer=self._intake.customer,
            fault_description=self._intake.fault_description,
            channel=self._channel,
            timezone=self._policy.timezone,
            service_hours=self._policy.service_hours,
            rma_number=self._rma,
            opened_at=self._opened_at,
            updated_at=self._updated_at,
            as_of=workflow.now(),
            deadlines=self._deadlines,
            escalations=self._escalations,
            decisions=self._decisions,
            timeline=self._timeline[start:],
            timeline_from=start,
            allowed_actions=self._allowed(),
            quote=self._quote,
            payments=self._payments,
            fees_owed=self._owed,
            currency=self._policy.currency,
            assignee=self._assignee,
            post_repair_warranty_until=self._post_repair_until,
            repair_cycles=self._repair_cycles,
            clauses={cid: self._clause_text(cid) for cid in sorted(cited)},
        )

    # --- agent actions: one update each, each with a validator ----------------------
    # Every handler starts with `_catch_up()`: what is due at workflow.now() happens first.

    @workflow.update
    def record_customer_shipment(self, a: RecordCustomerShipment) -> ActionResult:
        self._catch_up()
        self._act(a, f"customer shipped the parcel with {a.carrier}, tracking {a.tracking_number}")
        return self._move(S.PARCEL_IN_TRANSIT)

    @record_customer_shipment.validator
    def _check_record_customer_shipment(self, a: RecordCustomerShipment) -> None:
        self._check("record_customer_shipment")

    @workflow.update
    def receive_parcel(self, a: ReceiveParcel) -> ActionResult:
        self._catch_up()
        self._act(a, f"parcel {self._rma} received")
        return self._move(S.INSPECTING)

    @receive_parcel.validator
    def _check_receive_parcel(self, a: ReceiveParcel) -> None:
        self._check("receive_parcel")

    @workflow.update
    def record_inspection(self, a: RecordInspection) -> ActionResult:
        self._catch_up()
        self._act(a, f"inspection: {_findings_text(a)}")
        self._decide_remedy(a)
        self._decide_freight()
        if self._remedy is Remedy.REFUND:
            return self._move(S.REFUND_DUE)
        if self._remedy is Remedy.FREE_REPAIR:
            return self._start_repair(paid=False)
        if self._remedy in (Remedy.PAID_REPAIR, Remedy.PAID_SERVICE):
            return self._move(S.AWAITING_QUOTE)
        # rejected or not repairable: goes back as it came; replacement: a new one goes out
        return self._move(S.AWAITING_SHIP_BACK)

    @record_inspection.validator
    def _check_record_inspection(self, a: RecordInspection) -> None:
        self._check("record_inspection")
        self._check_findings(a)

    @workflow.update
    def record_onsite_report(self, a: RecordOnsiteReport) -> ActionResult:
        self._catch_up()
        self._act(a, f"on-site report: {_findings_text(a)}" + _owed_text(a.owed, self._policy.currency))
        self._decide_remedy(a)
        assert self._remedy is not None
        spec = self._policy.channel(self._channel)
        if rules.as_written(self._policy) and spec is not None and spec.determination_clause_ids:
            if not rules.free_of_charge(self._remedy):  # "not covered" is headquarters' to say
                self._visit_owed = list(a.owed)
                return self._move(S.AWAITING_DETERMINATION)
        return self._after_visit(a.owed)

    @workflow.update
    def record_determination(self, a: RecordDetermination) -> ActionResult:
        self._catch_up()
        owed, spec = self._visit_owed, self._policy.channel(self._channel)
        assert owed is not None and spec is not None
        self._visit_owed = None
        verdict = "within" if a.within_policy else "not within"
        self._act(a, f"headquarters determined the problem is {verdict} the warranty policy")
        self._decide(
            Decision(
                what="determination",
                outcome="covered" if a.within_policy else "not_covered",
                reason=f"headquarters ({a.by}) "
                + (
                    "determined the problem is within the warranty policy"
                    if a.within_policy
                    else "confirmed the engineer's analysis: not within the warranty policy"
                ),
                clause_ids=spec.determination_clause_ids,
            )
        )
        if a.within_policy:
            self._remedy = self._decide(
                Decision(
                    what="remedy",
                    outcome=Remedy.FREE_REPAIR.value,
                    remedy=Remedy.FREE_REPAIR,
                    reason=f"headquarters ({a.by}) determined the problem is within the warranty policy: "
                    "repaired free of charge on site",
                    clause_ids=list(dict.fromkeys([*spec.determination_clause_ids, *spec.clause_ids])),
                )
            ).remedy
            return self._start_repair(paid=False)
        return self._after_visit(owed)

    @record_determination.validator
    def _check_record_determination(self, a: RecordDetermination) -> None:
        self._check("record_determination")

    def _after_visit(self, owed: list[FeeLine]) -> ActionResult:
        """The remedy of a visit decided: fees, then where the claim goes."""
        assert self._remedy is not None
        free = rules.free_of_charge(self._remedy)
        self._decide(rules.decide_fees(self._policy, self._channel, free))
        self._fees_due = rules.fees_due(self._policy, self._channel, free)
        if rules.as_written(self._policy):
            self._owed = list(owed)
            if self._remedy is Remedy.FREE_REPAIR:
                self._repair_cycles += 1
                self._log("state", "repaired free of charge during the visit")
                return self._move(S.COMPLETED)
            if self._remedy is Remedy.PAID_REPAIR:
                return self._move(S.AWAITING_QUOTE)
            if self._owed:  # nothing to repair, the visit's fees are still owed
                return self._move(S.AWAITING_PAYMENT)
            if self._remedy is Remedy.REFUND:
                return self._move(S.REFUND_DUE)
            if self._remedy is Remedy.REPLACEMENT:  # a new one goes out: who pays its freight
                self._decide_freight()
                return self._move(S.AWAITING_SHIP_BACK)
            return self._move(S.COMPLETED)
        if self._remedy is Remedy.FREE_REPAIR:
            self._repair_cycles += 1
            self._log("state", "repaired free of charge during the visit")
            return self._move(S.COMPLETED)
        if self._remedy is Remedy.PAID_REPAIR or self._fees_due:
            return self._move(S.AWAITING_QUOTE)
        if self._remedy is Remedy.REFUND:
            return self._move(S.REFUND_DUE)
        if self._remedy is Remedy.REPLACEMENT:
            return self._move(S.AWAITING_SHIP_BACK)
        return self._move(S.COMPLETED)  # rejected or not repairable, nothing charged

    @record_onsite_report.validator
    def _check_record_onsite_report(self, a: RecordOnsiteReport) -> None:
        self._check("record_onsite_report")
        self._check_findings(a)
        self._check_owed(a)

    @workflow.update
    def resolve_remotely(self, a: ResolveRemotely) -> ActionResult:
        self._catch_up()
        self._act(a, f"resolved by remote guidance: {a.summary}")
        spec = self._policy.channel("remote_guidance")
        assert spec is not None
        self._decide(
            Decision(
                what="channel",
                outcome="resolved_remotely",
                reason="solved by remote guidance; nothing to ship",
                clause_ids=spec.clause_ids,
            )
        )
        return self._move(S.COMPLETED)

    @resolve_remotely.validator
    def _check_resolve_remotely(self, a: ResolveRemotely) -> None:
        self._check("resolve_remotely")

    @workflow.update
    def choose_channel(self, a: ChooseChannel) -> ActionResult:
        self._catch_up()
        self._act(a, f"remote guidance did not solve it: moving to {a.channel.replace('_', ' ')}")
        self._decide(rules.decide_channel(self._policy, a.channel))
        return self._enter_channel(a.channel)

    @choose_channel.validator
    def _check_choose_channel(self, a: ChooseChannel) -> None:
        self._check("choose_channel")
        if self._policy.channel(a.channel) is None:
            offered = ", ".join(c.kind for c in self._policy.channels)
            raise ApplicationError(
                f"policy {self._policy.name} offers no {a.channel}; it offers: {offered}", type="InvalidAction"
            )

    @workflow.update
    def record_documentation(self, a: RecordDocumentation) -> ActionResult:
        self._catch_up()
        self._act(a, f"fault documentation received: {', '.join(a.items)}")
        spec = self._policy.channel(self._channel)
        if rules.as_written(self._policy) and spec is not None and spec.documentation_clause_ids:
            self._decide(
                Decision(
                    what="documentation",
                    outcome="received",
                    reason=f"the customer's fault documentation ({len(a.items)} items) is in: the visit can be "
                    "prepared",
                    clause_ids=spec.documentation_clause_ids,
                )
            )
        return self._move(S.ONSITE_VISIT)

    @record_documentation.validator
    def _check_record_documentation(self, a: RecordDocumentation) -> None:
        self._check("record_documentation")

    @workflow.update
    def record_refund(self, a: RecordRefund) -> ActionResult:
        self._catch_up()
        self._payments.append(
            Payment(kind="refund", amount=a.amount, reference=a.reference, at=workflow.now(), by=a.by)
        )
        self._act(a, f"refund of {a.amount} {self._policy.currency} paid, reference {a.reference}")
        return self._move(S.COMPLETED)

    @record_refund.validator
    def _check_record_refund(self, a: RecordRefund) -> None:
        self._check("record_refund")

    @workflow.update
    def send_quote(self, a: SendQuote) -> ActionResult:
        self._catch_up()
        self._quotes_sent += 1
        total = sum(line.amount for line in a.lines)
        self._act(a, f"quote sent: {total} {self._policy.currency} ({len(a.lines)} lines)")
        result = self._move(S.AWAITING_APPROVAL)  # starts the quote deadline (a new cycle after an expired quote)
        deadline = self._open_deadline(DeadlineKind.QUOTE)
        assert deadline is not None
        self._quote = Quote(
            lines=a.lines, currency=self._policy.currency, sent_at=workflow.now(), valid_until=deadline.due_at
        )
        self._quote_message()
        return result

    @send_quote.validator
    def _check_send_quote(self, a: SendQuote) -> None:
        self._check("send_quote")
        _within(self._quotes_sent, QUOTES_MAX, "quotes on one claim; decline or cancel the claim")
        allowed = self._policy.fee_items
        unknown = [line.item for line in a.lines if allowed and line.item not in allowed]
        if unknown:
            raise ApplicationError(
                f"fee items not in policy {self._policy.name}: {', '.join(unknown)}; allowed: {', '.join(allowed)}",
                type="InvalidAction",
            )
        missing = [fee for fee in self._fees_due if fee not in {line.item for line in a.lines}]
        if missing:
            raise ApplicationError(f"the quote must charge: {', '.join(missing)}", type="InvalidAction")
        owed = {line.item for line in self._owed} & {line.item for line in a.lines}
        if owed:
            raise ApplicationError(
                f"already owed from the visit, whatever the answer to this quote: {', '.join(sorted(owed))}; "
                "the quote carries the repair only",
                type="InvalidAction",
            )

    @workflow.update
    def approve_quote(self, a: ApproveQuote) -> ActionResult:
        self._catch_up()
        self._answer_quote(a, "approved")
        return self._start_repair(paid=True)

    @approve_quote.validator
    def _check_approve_quote(self, a: ApproveQuote) -> None:
        self._check("approve_quote")

    @workflow.update
    def decline_quote(self, a: DeclineQuote) -> ActionResult:
        self._catch_up()
        self._answer_quote(a, "declined")
        if self._on_site:  # the engineer leaves; nothing to ship, but the visit's fees stay owed
            return self._move(S.AWAITING_PAYMENT if self._owed else S.COMPLETED)
        self._decide_freight()
        return self._move(S.AWAITING_SHIP_BACK)

    @decline_quote.validator
    def _check_decline_quote(self, a: DeclineQuote) -> None:
        self._check("decline_quote")

    @workflow.update
    def complete_repair(self, a: CompleteRepair) -> ActionResult:
        self._catch_up()
        self._act(a, f"repair done: {a.work_done}")
        return self._move(S.QUALITY_CHECK)

    @complete_repair.validator
    def _check_complete_repair(self, a: CompleteRepair) -> None:
        self._check("complete_repair")

    @workflow.update
    def record_quality_check(self, a: RecordQualityCheck) -> ActionResult:
        self._catch_up()
        self._act(a, "quality check passed" if a.passed else "quality check failed: back to repair")
        if not a.passed:
            self._qc_failures += 1
            return self._move(S.REPAIRING)
        if self._paid_repair:
            return self._move(S.AWAITING_PAYMENT)
        return self._move(S.COMPLETED if self._on_site else S.AWAITING_SHIP_BACK)

    @record_quality_check.validator
    def _check_record_quality_check(self, a: RecordQualityCheck) -> None:
        self._check("record_quality_check")
        if not a.passed:
            _within(self._qc_failures, REPAIR_ATTEMPTS_MAX, "failed quality checks; replace, or cancel the claim")

    @workflow.update
    def record_payment(self, a: RecordPayment) -> ActionResult:
        self._catch_up()
        self._payments.append(Payment(amount=a.amount, reference=a.reference, at=workflow.now(), by=a.by))
        self._act(a, f"payment of {a.amount} {self._policy.currency} received, reference {a.reference}")
        return self._move(S.COMPLETED if self._on_site else S.AWAITING_SHIP_BACK)

    @record_payment.validator
    def _check_record_payment(self, a: RecordPayment) -> None:
        self._check("record_payment")
        due, what = self._amount_due()
        if a.amount != due:
            raise ApplicationError(
                f"payment of {a.amount} does not match {what} of {due} {self._policy.currency}",
                type="InvalidAction",
            )

    @workflow.update
    def ship_back(self, a: ShipBack) -> ActionResult:
        self._catch_up()
        self._act(a, f"shipped back with {a.carrier}, tracking {a.tracking_number}")
        repaired_for_a_fee = (
            self._paid_repair and not self._unpaid and self._quote is not None and self._quote.answer == "approved"
        )
        repaired_for_a_fee = repaired_for_a_fee and self._intake.kind is not ClaimKind.SERVICE
        in_warranty = self._warranty is not None and bool(self._warranty.covered)
        window = (
            rules.post_repair_warranty(self._policy, self._today(), in_warranty=in_warranty)
            if repaired_for_a_fee
            else None
        )
        if window is not None:
            self._post_repair_until = self._decide(window).until
            self._clear(DeadlineKind.POST_REPAIR_WARRANTY, "replaced by a new window")
            self._start(spec_for(self._table, DeadlineKind.POST_REPAIR_WARRANTY))
        return self._move(S.SHIPPED_BACK)

    @ship_back.validator
    def _check_ship_back(self, a: ShipBack) -> None:
        self._check("ship_back")

    @workflow.update
    def confirm_delivery(self, a: ConfirmDelivery) -> ActionResult:
        self._catch_up()
        self._act(a, "delivered to the customer")
        if self._open_deadline(DeadlineKind.POST_REPAIR_WARRANTY) is not None:
            return self._move(S.POST_REPAIR_WARRANTY)
        return self._move(S.COMPLETED)

    @confirm_delivery.validator
    def _check_confirm_delivery(self, a: ConfirmDelivery) -> None:
        self._check("confirm_delivery")

    @workflow.update
    def report_fault(self, a: ReportFault) -> ActionResult:
        self._catch_up()
        self._fault_reports += 1
        self._act(a, f"new fault reported: {a.description}")
        self._reported_on = self._today()
        self._warranty = self._decide(rules.warranty_status(self._policy, self._intake, self._reported_on))
        self._remedy = self._fault = self._quote = None
        self._paid_repair = False
        self._issue_rma()
        return self._move(S.AWAITING_PARCEL)

    @report_fault.validator
    def _check_report_fault(self, a: ReportFault) -> None:
        self._check("report_fault")
        _within(self._fault_reports, FAULT_REPORTS_MAX, "new faults on one claim; open a new claim")

    @workflow.update
    def acknowledge_escalation(self, a: AcknowledgeEscalation) -> ActionResult:
        self._catch_up()
        deadline = next(d for d in self._escalated() if d.kind == a.deadline)
        deadline.acknowledged_by = a.by
        self._act(a, f"escalation of the {a.deadline.value} deadline acknowledged")
        return self._result(f"{a.deadline.value} escalation acknowledged")

    @acknowledge_escalation.validator
    def _check_acknowledge_escalation(self, a: AcknowledgeEscalation) -> None:
        self._check("acknowledge_escalation")
        if a.deadline not in self._escalated_kinds():
            escalated = ", ".join(k.value for k in self._escalated_kinds())
            raise ApplicationError(
                f"the {a.deadline.value} deadline has not escalated; escalated now: {escalated}",
                type="InvalidAction",
            )

    @workflow.update
    def cancel_claim(self, a: CancelClaim) -> ActionResult:
        self._catch_up()
        self._act(a, f"claim cancelled: {a.reason}")
        return self._move(S.CANCELLED)

    @cancel_claim.validator
    def _check_cancel_claim(self, a: CancelClaim) -> None:
        self._check("cancel_claim")

    @workflow.update
    def settle_unpaid(self, a: SettleUnpaid) -> ActionResult:
        self._catch_up()
        self._act(a, f"unpaid repair settled: {a.outcome.replace('_', ' ')} — {a.reason}")
        returned = a.outcome == "return_unpaid"
        self._decide(
            Decision(
                what="unpaid",
                outcome=a.outcome,
                reason=f"the repair fee was not paid by its deadline; decided by {a.by}: "
                + ("the product goes back unpaid, with no post-repair warranty" if returned else "disposed of"),
                clause_ids=["CF-UNPAID"],
            )
        )
        self._unpaid = returned
        if returned and self._on_site and rules.as_written(self._policy):
            return self._move(S.COMPLETED)  # nothing to ship back from a visit
        return self._move(S.AWAITING_SHIP_BACK if returned else S.COMPLETED)

    @settle_unpaid.validator
    def _check_settle_unpaid(self, a: SettleUnpaid) -> None:
        self._check("settle_unpaid")

    @workflow.update
    def reopen_claim(self, a: ReopenClaim) -> ActionResult:
        self._catch_up()
        self._reopens += 1
        self._act(a, f"claim reopened: {a.reason}")
        self._decide(
            Decision(
                what="reopen",
                outcome="reopened",
                reason=f"reopened by {a.by}: {a.reason}; RMA {self._rma} stands and a new shipping deadline runs",
                clause_ids=list(self._rules[DeadlineKind.REOPEN_WINDOW].clause_ids),
            )
        )
        return self._move(S.AWAITING_PARCEL)

    @reopen_claim.validator
    def _check_reopen_claim(self, a: ReopenClaim) -> None:
        self._check("reopen_claim")
        _within(self._reopens, REOPENS_MAX, "reopenings; open a new claim")

    @workflow.update
    def assign_claim(self, a: AssignClaim) -> ActionResult:
        self._catch_up()
        self._assignee = a.assignee
        self._act(a, f"claim assigned to {a.assignee}")
        return self._result(f"claim assigned to {a.assignee}")

    @assign_claim.validator
    def _check_assign_claim(self, a: AssignClaim) -> None:
        """Assigning is bookkeeping, not a step of the claim: allowed while it is open (and
        not listed among the allowed actions)."""
        state, _ = state_at(self._table, self._state, self._deadlines, workflow.now())
        if state in (S.COMPLETED, S.CANCELLED, S.REJECTED):
            raise ApplicationError(f"assign_claim refused: the claim is {state.value}", type="ActionRefused")

    @workflow.update
    def extend_deadline(self, a: ExtendDeadline) -> ActionResult:
        self._catch_up()
        deadline = self._open_deadline(a.deadline)
        assert deadline is not None
        now = workflow.now()
        deadline.due_at += timedelta(days=a.days)
        deadline.extensions += 1
        self._rearm(deadline, now)
        if a.deadline is DeadlineKind.QUOTE and self._quote is not None:
            self._quote = self._quote.model_copy(update={"valid_until": deadline.due_at})
        self._act(a, f"{a.deadline.value} deadline extended by {a.days} days to {deadline.due_at}: {a.reason}")
        self._log("deadline", f"{a.deadline.value} deadline #{deadline.cycle} now due {deadline.due_at}")
        self._changes += 1
        return self._result(f"{a.deadline.value} deadline now due {deadline.due_at}")

    def _rearm(self, deadline: DeadlineStatus, now: datetime) -> None:
        """A deadline whose due moment moved: its ladder counts again from the new moment."""
        deadline.due_passed = deadline.due_at <= now
        deadline.escalated_at = None
        deadline.acknowledged_by = None
        ladder = self._ladder(deadline)
        deadline.steps_fired = sum(1 for step in ladder if deadline.due_at + timedelta(hours=step.offset_hours) <= now)

    @workflow.update
    def schedule_visit(self, a: ScheduleVisit) -> ActionResult:
        self._catch_up()
        deadline = self._open_deadline(DeadlineKind.ONSITE_VISIT)
        assert deadline is not None
        deadline.due_at = end_of_natural_days(a.on, 0, self._policy.timezone)
        self._rearm(deadline, workflow.now())
        self._act(a, f"on-site check booked for {a.on} with {a.professional}")
        self._log("deadline", f"onsite_visit deadline #{deadline.cycle} now due {deadline.due_at}: the end of the visit's day")
        self._changes += 1
        return self._result(f"visit booked for {a.on}; onsite_visit deadline now due {deadline.due_at}")

    @schedule_visit.validator
    def _check_schedule_visit(self, a: ScheduleVisit) -> None:
        self._check("schedule_visit")
        deadline = self._open_deadline(DeadlineKind.ONSITE_VISIT)
        if deadline is None:
            raise ApplicationError("no on-site visit deadline is open", type="InvalidAction")
        if a.on < self._today():
            raise ApplicationError(f"the visit day {a.on} is in the past (today is {self._today()})", type="InvalidAction")
        if end_of_natural_days(a.on, 0, self._policy.timezone) > deadline.due_at:
            raise ApplicationError(
                f"the visit day {a.on} is after the onsite_visit deadline ({deadline.due_at:%Y-%m-%d %H:%M} UTC, "
                f"{', '.join(deadline.clause_ids)}); a supervisor can extend it first",
                type="InvalidAction",
            )

    @extend_deadline.validator
    def _check_extend_deadline(self, a: ExtendDeadline) -> None:
        self._check("extend_deadline")
        extendable = self._extendable()
        if a.deadline not in extendable:
            names = ", ".join(k.value for k in extendable) or "none"
            raise ApplicationError(
                f"the {a.deadline.value} deadline cannot be extended now; extendable: {names}", type="InvalidAction"
            )
        deadline = self._open_deadline(a.deadline)
        assert deadline is not None
        _within(deadline.extensions, EXTENSIONS_MAX, f"extensions of the {a.deadline.value} deadline")
        if deadline.due_at + timedelta(days=a.days) <= workflow.now():
            raise ApplicationError(
                f"{a.days} days after its due moment ({deadline.due_at}) is still in the past; extend by more",
                type="InvalidAction",
            )

    # --- the claim's life ------------------------------------------------------------

    def _open_claim(self) -> None:
        intake, policy = self._intake, self._policy
        self._log("opened", f"{intake.kind.value} claim opened under policy {policy.name}", intake.opened_by)
        check = self._decide(rules.policy_check(policy, intake, self._reported_on))
        if check.outcome == "rejected":
            self._move(S.REJECTED)
            return
        self._warranty = self._decide(rules.warranty_status(policy, intake, self._reported_on))
        if policy.channels and not (rules.as_written(policy) and intake.kind is ClaimKind.RETURN):
            self._decide(rules.decide_channel(policy))  # a return ships in: no channel to choose
        self._enter_channel(policy.first_channel)

    def _enter_channel(self, channel: str) -> ActionResult:
        self._channel = channel
        if channel == "return_repair":
            self._issue_rma()
            return self._move(S.AWAITING_PARCEL)
        if channel == "remote_guidance":
            return self._move(S.REMOTE_GUIDANCE)
        spec = self._policy.channel(channel)
        if spec is not None and spec.documentation_required:
            return self._move(S.AWAITING_DOCUMENTATION)
        return self._move(S.ONSITE_VISIT)

    @property
    def _on_site(self) -> bool:
        return self._channel in ("on_site_repair", "on_site_check")

    def _issue_rma(self) -> None:
        self._rmas_issued += 1
        self._rma = f"RMA-{self._number}" + (f"-{self._rmas_issued}" if self._rmas_issued > 1 else "")
        self._log("state", f"RMA {self._rma} issued: the customer ships within the deadline")

    def _start_repair(self, *, paid: bool) -> ActionResult:
        self._paid_repair = paid
        self._repair_cycles += 1
        return self._move(S.REPAIRING)

    def _answer_quote(self, a: ApproveQuote | DeclineQuote, answer: str) -> None:
        assert self._quote is not None
        self._quote = self._quote.model_copy(update={"answer": answer})
        self._act(a, f"customer {answer} the quote of {self._quote.total} {self._quote.currency}")
        self._decide(
            Decision(
                what="quote",
                outcome=answer,
                reason=f"the customer {answer} the repair offer; "
                + ("repair starts" if answer == "approved" else "the product goes back unrepaired"),
                clause_ids=self._policy.warranty.paid_repair_clause_ids,
                inputs={"total": str(self._quote.total), "currency": self._quote.currency},
            )
        )

    def _check_findings(self, findings: RecordInspection | RecordOnsiteReport) -> None:
        policy = self._policy
        if findings.replace and not policy.warranty.replacement_clause_ids:
            raise ApplicationError(f"policy {policy.name} does not replace products", type="InvalidAction")
        for what, given, known in [
            ("exclusion", findings.exclusions, [e.id for e in policy.exclusions]),
            ("non-repairable condition", findings.non_repairable, [c.id for c in policy.non_repairable]),
            ("defect", [findings.defect] if findings.defect else [], [d.id for d in policy.warranty.scope]),
        ]:
            unknown = [g for g in given if g not in known]
            if unknown:
                raise ApplicationError(
                    f"unknown {what} {', '.join(unknown)}; policy {policy.name} knows: {', '.join(known) or 'none'}",
                    type="InvalidAction",
                )
        misplaced = rules.exclusions_not_for(policy, self._intake.kind, findings.exclusions)
        if misplaced:
            raise ApplicationError("; ".join(misplaced), type="InvalidAction")
        scope = policy.warranty.scope
        if findings.fault is Fault.NOT_IN_SCOPE and not scope:
            raise ApplicationError(
                f"policy {policy.name} lists no defect scope: record the fault as quality_fault, man_made_damage, "
                "excluded_condition or no_fault_found",
                type="InvalidAction",
            )
        if rules.as_written(policy) and scope and findings.fault is Fault.QUALITY_FAULT and findings.defect is None:
            listed = "; ".join(f"{d.id} ({d.label})" for d in scope)
            raise ApplicationError(
                f"a quality fault under policy {policy.name} names its defect, one of the quality guarantee's "
                f"scope: {listed}. A problem outside that scope is recorded as fault not_in_scope (paid service)",
                type="InvalidAction",
            )

    def _check_owed(self, a: RecordOnsiteReport) -> None:
        """The visit's owed fees: given exactly when the policy owes them for a visit not covered."""
        policy, spec = self._policy, self._policy.channel(self._channel)
        owed_items = list(spec.fees_owed) if spec is not None and rules.as_written(policy) else []
        given = [line.item for line in a.owed]
        if not owed_items:
            if given:
                raise ApplicationError(f"policy {policy.name} owes no fees for a visit", type="InvalidAction")
            return
        assert self._warranty is not None
        remedy = rules.decide_remedy(
            policy, self._intake, a, self._reported_on, self._warranty, self._post_repair_until
        ).remedy
        assert remedy is not None
        if rules.free_of_charge(remedy):
            if given:
                raise ApplicationError(
                    f"this visit is covered ({remedy.value}): nothing is owed for it", type="InvalidAction"
                )
            return
        if sorted(given) != sorted(owed_items):
            raise ApplicationError(
                f"a visit found not covered owes {', '.join(owed_items)} whatever the answer to a quote "
                f"({', '.join(spec.fees_clause_ids)}): give each once with its amount (owed), e.g. "
                f"{owed_items[0]}=300; given: {', '.join(given) or 'none'}",
                type="InvalidAction",
            )

    def _decide_remedy(self, findings: RecordInspection | RecordOnsiteReport) -> None:
        assert self._warranty is not None
        self._fault = findings.fault
        self._remedy = self._decide(
            rules.decide_remedy(
                self._policy, self._intake, findings, self._reported_on, self._warranty, self._post_repair_until
            )
        ).remedy

    def _decide_freight(self) -> None:
        assert self._remedy is not None and self._fault is not None and self._warranty is not None
        covered = rules.is_covered(self._warranty, self._reported_on, self._post_repair_until)
        if rules.as_written(self._policy):  # a Three Guarantees refund or change is free, warranty counted or not
            covered = covered or rules.free_of_charge(self._remedy)
        self._decide(rules.decide_freight(self._policy, self._remedy, self._fault, covered, self._intake.kind))

    def _amount_due(self) -> tuple[Decimal, str]:
        """What a payment must come to: the approved quote, plus the visit's owed fees."""
        quote = self._quote.total if self._quote is not None and self._quote.answer == "approved" else Decimal(0)
        owed = sum((line.amount for line in self._owed), Decimal(0))
        if not owed:
            return quote, "the approved quote"
        return quote + owed, "the approved quote and the visit's fees" if quote else "the visit's fees"

    # --- deadlines: the table, applied in one place ------------------------------------

    def _move(self, state: ClaimState) -> ActionResult:
        if state is not self._state:
            before, self._state = self._state, state
            self._log("state", f"{before.value} → {state.value}")
            self._enter(before, state)
            if state is S.AWAITING_PAYMENT:
                self._payment_due_notice()
            self._tell_customer(state)
        self._changes += 1
        return self._result(f"claim is {state.value}")

    def _enter(self, before: ClaimState, after: ClaimState) -> None:
        """What the deadline table says entering `after` does to the claim's deadlines."""
        open_now = {
            d.kind: OpenDeadline(passed=d.due_passed, paused=d.paused) for d in self._deadlines if not d.cleared
        }
        change = transition(self._table, before, after, open_now)
        for kind in change.clear:
            self._clear(kind, f"no longer runs while the claim is {after.value}")
        for kind in change.pause:
            self._pause(kind)
        for kind in change.resume:
            self._resume(kind)
        for spec in change.restart:
            self._clear(spec.kind, "a new cycle starts")
            self._start(spec)
        for spec in change.start:
            self._start(spec)

    def _start(self, spec: DeadlineSpec) -> DeadlineStatus:
        rule = self._rules[spec.kind]
        now = workflow.now()
        deadline = DeadlineStatus(
            kind=spec.kind,
            cycle=1 + sum(1 for d in self._deadlines if d.kind is spec.kind),
            started_at=now,
            due_at=due_at(rule, now, self._policy.timezone, self._calendar),
            clause_ids=rule.clause_ids,
        )
        self._deadlines.append(deadline)
        self._log(
            "deadline", f"{spec.kind.value} deadline set: {rule.days} {rule.calendar} days, due {deadline.due_at}"
        )
        return deadline

    def _clear(self, kind: DeadlineKind, why: str) -> None:
        deadline = self._open_deadline(kind)
        if deadline is not None:
            deadline.cleared = True
            self._log("deadline", f"{kind.value} deadline #{deadline.cycle} closed: {why}")

    def _pause(self, kind: DeadlineKind) -> None:
        deadline = self._open_deadline(kind)
        assert deadline is not None
        deadline.paused_at = workflow.now()
        left = deadline.due_at - deadline.paused_at
        self._log("deadline", f"{kind.value} deadline paused while the claim waits on the customer ({span(left)} left)")

    def _resume(self, kind: DeadlineKind) -> None:
        deadline = self._open_deadline(kind)
        assert deadline is not None and deadline.paused_at is not None
        deadline.due_at += workflow.now() - deadline.paused_at
        deadline.paused_at = None
        self._log("deadline", f"{kind.value} deadline resumed, due {deadline.due_at}")

    def _open_deadline(self, kind: DeadlineKind) -> DeadlineStatus | None:
        return next((d for d in self._deadlines if d.kind is kind and not d.cleared), None)

    def _ladder(self, deadline: DeadlineStatus):
        return self._rules[deadline.kind].ladder

    def _catch_up(self) -> None:
        """An action first applies everything due at workflow.now()."""
        self._changes += 1
        self._apply_due()

    def _apply_due(self) -> None:
        """Fire every deadline event due by now, earliest first (an expiry may move the
        claim, and so clear other deadlines, before a later event is looked at)."""
        now = workflow.now()
        while True:
            due = [(event, d) for d in self._deadlines for event in due_events(d, self._ladder(d), now)[:1]]
            if not due:
                return
            event, deadline = min(due, key=lambda pair: (pair[0].at, pair[0].step is not None))
            if event.step is None:
                deadline.due_passed = True
                self._on_deadline_passed(deadline)
            else:
                self._escalate(deadline, event.step, now)

    def _on_deadline_passed(self, deadline: DeadlineStatus) -> None:
        spec = spec_for(self._table, deadline.kind)
        outcome = {Expiry.EXPIRE: "expired", Expiry.ESCALATE: "overdue", Expiry.CLOSE: "ended"}[spec.on_expiry]
        self._decide(
            Decision(
                what=f"{deadline.kind.value}_deadline",
                outcome=outcome,
                reason=spec.reason,
                clause_ids=deadline.clause_ids,
                inputs={"due_at": deadline.due_at.isoformat(), "cycle": deadline.cycle},
            )
        )
        if deadline.kind is DeadlineKind.QUOTE and self._quote is not None:
            self._quote = self._quote.model_copy(update={"answer": "expired"})
        if spec.on_expiry is Expiry.CLOSE:
            deadline.cleared = True
        target = expiry_state(spec, self._state)
        if target is not None:
            self._move(target)

    def _escalate(self, deadline: DeadlineStatus, index: int, now: datetime) -> None:
        step = self._ladder(deadline)[index]
        deadline.steps_fired = index + 1
        if step.offset_hours >= 0 and deadline.escalated_at is None:
            deadline.escalated_at = now
        escalation = Escalation(
            deadline=deadline.kind,
            cycle=deadline.cycle,
            step=index,
            extension=deadline.extensions,
            level=step.level,
            notify=step.notify.value,
            at=now,
        )
        self._escalations.append(escalation)
        subject = escalation_subject(self._number, escalation, deadline.due_at)
        self._log("escalation", f"{subject}; {step.notify.value} notified")
        to_customer = step.notify is Role.CUSTOMER
        self._send(
            escalation_notification_key(self._number, escalation),
            step.notify.value,
            step.level,
            subject,
            f"The {deadline.kind.value} deadline of claim {self._number} is {deadline.due_at}. "
            f"The claim is {self._state.value}. Policy clauses: {', '.join(deadline.clause_ids)}.",
            facts={"deadline": deadline.kind.value, "due_at": self._local(deadline.due_at),
                   "state": self._state.value, "level": step.level.value, "clauses": ", ".join(deadline.clause_ids)},
            to=self._customer_address() if to_customer else [],
            urgent=step.level is EscalationLevel.MANAGER,
        )  # fmt: skip

    def _send(
        self, key: str, role: str, level: EscalationLevel, subject: str, body: str, *, message: str = "escalation",
        facts: dict[str, str] | None = None, to: list[str] | None = None, urgent: bool = False,
    ) -> None:  # fmt: skip
        """Queue a notification for delivery (`_deliver_notifications`); `key` makes it once.
        `facts` fill the e-mail's template (`message`); `to` are addresses the claim knows."""
        self._outbox.append(
            Notification(
                key=key, claim_number=self._number, role=role, level=level, subject=subject, body=body,
                at=workflow.now(), message=message, to=to or [], urgent=urgent, policy=self._policy.name,
                facts={"claim_number": self._number, "policy": self._policy.name, **(facts or {})},
            )  # fmt: skip
        )

    def _local(self, moment: datetime) -> str:
        """A moment as the e-mail shows it: in the policy's time zone, which it names."""
        return local_text(moment, self._policy.timezone)

    def _customer_address(self) -> list[str]:
        address = email_address(self._intake.customer.contact)
        return [address] if address else []

    def _emails(self) -> bool:
        """Whether this claim sends customer messages, waits for service hours and logs each
        delivery (patch EMAIL: claims recorded before it did none of these)."""
        return workflow.patched(EMAIL)

    def _tell_customer(self, state: ClaimState) -> None:
        """The customer's e-mail at the moments they expect one: the RMA with its shipping
        deadline, the quote, the product on its way back (the payment due notice is
        `_payment_due_notice`). Only to a contact that is an e-mail address."""
        if state not in (S.AWAITING_PARCEL, S.SHIPPED_BACK) or not self._customer_address():
            return
        if not self._emails():
            return
        if state is S.AWAITING_PARCEL:
            deadline = self._open_deadline(DeadlineKind.SHIPPING)
            due = self._local(deadline.due_at) if deadline else ""
            self._tell("rma_issued", f"{self._rma}", f"claim {self._number}: RMA {self._rma} issued",
                       f"Please ship the product with RMA {self._rma}" + (f" by {due}." if due else "."),
                       {"rma_number": self._rma or "", "due_at": due})  # fmt: skip
        else:
            self._tell("shipped_back", f"shipped#{self._repair_cycles}", f"claim {self._number}: on its way back",
                       "Your product is on its way back.", {})  # fmt: skip

    def _quote_message(self) -> None:
        """The customer's e-mail with the quote just sent (the notify activity adds its link)."""
        if self._quote is None or not self._customer_address() or not self._emails():
            return
        total = f"{self._quote.total} {self._quote.currency}"
        until = self._local(self._quote.valid_until)
        facts = {
            "total": total,
            "valid_until": until,
            "quote_sent_at": self._quote.sent_at.isoformat(),  # the activity signs the customer's link from these
            "quote_valid_until": self._quote.valid_until.isoformat(),
        }
        self._tell("quote_sent", f"quote#{self._quotes_sent}", f"claim {self._number}: quote of {total}",
                   f"Your repair quote comes to {total}; it holds until {until}.", facts)  # fmt: skip

    def _tell(self, message: str, what: str, subject: str, body: str, facts: dict[str, str]) -> None:
        self._log("delivery", f"{message.replace('_', ' ')} message queued for the customer")
        self._send(f"{self._number}/{message}/{what}", Role.CUSTOMER.value, EscalationLevel.REMINDER, subject, body,
                   message=message, facts=facts, to=self._customer_address())  # fmt: skip

    def _payment_due_notice(self) -> None:
        """Tell the customer what to pay and by when, as the payment deadline starts (patch
        PAYMENT_DUE_NOTICE: claims recorded without its marker sent no such notice). One
        notification per payment deadline cycle; the ladder's own reminders still follow."""
        deadline = self._open_deadline(DeadlineKind.PAYMENT)
        if deadline is None or not workflow.patched(PAYMENT_DUE_NOTICE):
            return
        amount, what = self._amount_due()
        currency = self._policy.currency
        subject = (
            f"[{EscalationLevel.REMINDER.value}] claim {self._number}: payment of {amount} {currency} "
            f"due by {deadline.due_at:%Y-%m-%d %H:%M} UTC"
        )
        self._log(
            "deadline", f"payment due notice to the customer: {amount} {currency} ({what}), due {deadline.due_at}"
        )
        self._send(
            f"{self._number}/{PAYMENT_DUE_NOTICE}#{deadline.cycle}",
            Role.CUSTOMER.value,
            EscalationLevel.REMINDER,
            subject,
            f"Claim {self._number}: please pay {amount} {currency} ({what}) by {deadline.due_at}. "
            f"Policy clauses: {', '.join(deadline.clause_ids)}.",
            message="payment_due",
            facts={"amount": f"{amount} {currency}", "what": what, "due_at": self._local(deadline.due_at)},
            to=self._customer_address(),
        )

    def _extendable(self) -> list[DeadlineKind]:
        """Open deadlines a supervisor may extend: not a warranty window, and not one whose
        expiry already moved the claim (reopen that instead)."""
        return [
            d.kind
            for d in self._deadlines
            if not d.cleared
            and d.kind is not DeadlineKind.POST_REPAIR_WARRANTY
            and not (d.due_passed and spec_for(self._table, d.kind).on_expiry is not Expiry.ESCALATE)
        ]

    # --- the main loop's timer -------------------------------------------------------

    async def _wait_for_change_or_next_event(self) -> None:
        """Wait for an action or the next deadline event. The timer is re-armed only when
        the next event moves, so actions that change no deadline cost no timer events."""
        seen = self._changes
        upcoming = [(at, d) for d in self._deadlines if (at := next_event_at(d, self._ladder(d))) is not None]
        at, deadline = min(upcoming, key=lambda pair: pair[0]) if upcoming else (None, None)
        if at != self._timer_at or (self._timer is not None and self._timer.done()):
            self._cancel_timer()
            if at is not None and deadline is not None:
                wait = max(at - workflow.now(), timedelta(milliseconds=1))
                summary = f"{deadline.kind.value} deadline #{deadline.cycle}"
                self._timer = asyncio.create_task(workflow.sleep(wait, summary=summary))
                self._timer_at = at
        timer = self._timer
        await workflow.wait_condition(
            lambda: self._changes != seen or (timer is not None and timer.done()) or self._history_full()
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer, self._timer_at = None, None

    # --- long lives: continue as new ---------------------------------------------------

    def _history_full(self) -> bool:
        """This run's history reached the claim's bound (ClaimInput.history_events_max), or Temporal suggests a new
        run, and nothing is being delivered (a delivery completing while the run ends would
        fail that workflow task); past twice the bound, a delivery that does not complete
        (a database or mail outage) is left to the next run."""
        if not self._may_continue:
            return False
        info = workflow.info()
        events, bound = info.get_current_history_length(), self._input.history_events_max or UNBOUNDED_INPUT_EVENTS_MAX
        if events >= 2 * bound:
            return True
        full = events >= bound or info.is_continue_as_new_suggested()
        return full and self._delivered()

    def _delivered(self) -> bool:
        """Every notification sent and every timeline entry in the read model."""
        return not self._outbox and self._projected >= len(self._timeline)

    def _continuing(self) -> bool:
        """Whether this run continues as new (patch CONTINUE_AS_NEW: a run recorded before it
        replays on without a marker, and never continues)."""
        self._may_continue = workflow.patched(CONTINUE_AS_NEW)
        return self._may_continue

    async def _continue_as_new(self) -> None:
        """End this run and start the next with the whole claim (CarriedClaim). Deliveries in
        flight are dropped and sent again by the next run: both are idempotent."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._cancel_timer()
        events = workflow.info().get_current_history_length()
        self._log("state", f"history continued in run {self._run + 1} after {events} events; the claim is unchanged")
        self._run += 1
        carried = CarriedClaim.model_validate({name: getattr(self, "_" + name) for name in CarriedClaim.model_fields})
        workflow.continue_as_new(self._input.model_copy(update={"carried": carried}))

    def _finished(self) -> bool:
        if self._state not in TERMINAL_STATES:
            return False
        return not any(has_pending_steps(d, self._ladder(d)) for d in self._deadlines)

    # --- deliveries: never on the clock's path ------------------------------------------

    async def _keep_read_model(self) -> None:
        """Project the claim into the read model whenever its timeline grew: one coalesced
        snapshot of everything new. Local activity first; while the database is away, a
        regular activity retried by the server, run after run, until it is back."""
        while True:
            await workflow.wait_condition(lambda: self._projected < len(self._timeline))
            snapshot = snapshot_of(self._view(None), self._projected, workflow.info().first_execution_run_id)
            try:
                if self._behind_since is None:
                    await workflow.execute_local_activity(
                        PROJECT_CLAIM,
                        snapshot,
                        schedule_to_close_timeout=LOCAL_PROJECTION_BOUND,
                        retry_policy=LOCAL_RETRY,
                        summary="project into the read model",
                    )
                else:
                    await workflow.execute_activity(
                        PROJECT_CLAIM,
                        snapshot,
                        schedule_to_close_timeout=DELIVERY_BOUND,
                        start_to_close_timeout=ATTEMPT_BOUND,
                        retry_policy=DELIVERY_RETRY,
                        summary="project into the read model (catching up)",
                    )
            except FailureError as err:  # a local activity raises its failure itself, not an ActivityError
                if self._behind_since is None:
                    self._behind_since = workflow.now()
                    self._log("delivery", f"read model not updated ({cause_of(err)}); retrying until it is back")
                continue
            self._projected = snapshot.version
            if self._behind_since is not None:
                self._log("delivery", f"read model caught up after {span(workflow.now() - self._behind_since)}")
                self._behind_since = None

    async def _deliver_notifications(self) -> None:
        """Send the outbox in order. A notification not delivered within DELIVERY_BOUND is
        recorded in the timeline, escalated to the supervisor (once) and sent again; the
        notify activity's database key makes every send idempotent."""
        while True:
            await workflow.wait_condition(lambda: bool(self._outbox))
            if self._emails() and not await self._in_service_hours():
                continue
            notification = self._outbox[0]
            try:
                result = await workflow.execute_activity(
                    NOTIFY,
                    notification,
                    schedule_to_close_timeout=DELIVERY_BOUND,
                    start_to_close_timeout=ATTEMPT_BOUND,
                    retry_policy=DELIVERY_RETRY,
                    summary=f"notify {notification.role}",
                )
            except FailureError as err:
                self._outbox.append(self._outbox.pop(0))  # the others are not held up behind it
                if notification.key not in self._reported_late:
                    self._reported_late.append(notification.key)
                    self._undelivered(notification, cause_of(err))
                continue
            self._outbox.pop(0)
            if self._emails() and isinstance(result, dict):  # a Delivery (recorded before EMAIL: True)
                self._log("delivery", f"{notification.subject}: {Delivery.model_validate(result).note}")
            if notification.key in self._reported_late:
                self._reported_late.remove(notification.key)
                self._log("delivery", f"notification to {notification.role} delivered late: {notification.subject}")

    async def _in_service_hours(self) -> bool:
        """Put an urgent notification first; when the first one is not urgent and the policy's
        service hours are closed, wait until they open (or an urgent one comes) and say False."""
        urgent = next((i for i, n in enumerate(self._outbox) if n.urgent), None)
        if urgent is not None:
            self._outbox.insert(0, self._outbox.pop(urgent))
            return True
        now = workflow.now()
        opens = next_in_service(now, self._policy.service_hours, self._policy.timezone, self._calendar)
        if opens <= now:
            return True
        try:
            await workflow.wait_condition(
                lambda: any(n.urgent for n in self._outbox), timeout=opens - now, timeout_summary="until service hours"
            )
        except asyncio.TimeoutError:
            pass  # the desk opens
        return False

    def _undelivered(self, notification: Notification, cause: str) -> None:
        self._log(
            "delivery",
            f"notification to {notification.role} not delivered within {span(DELIVERY_BOUND)} ({cause}): "
            f"{notification.subject}; retrying",
        )
        if notification.key.endswith("/undelivered"):
            return  # the supervisor's own warning: recorded, not escalated again
        self._outbox.append(
            notification.model_copy(
                update={
                    "key": f"{notification.key}/undelivered",
                    "role": "supervisor",
                    "subject": f"undelivered: {notification.subject}",
                    "body": f"A notification to the {notification.role} could not be delivered within "
                    f"{span(DELIVERY_BOUND)} ({cause}). {notification.body}",
                    "at": workflow.now(),
                    "message": "undelivered",  # to the supervisors, never the customer's message again
                    "to": [],
                    "urgent": False,
                }
            )
        )

    def _publish(self) -> None:
        """Search attributes, only when they change; the current details for Temporal's UI.
        No personal data in either."""
        overdue = is_overdue(self._state, self._deadlines)
        if self._published != (self._state, overdue):
            workflow.upsert_search_attributes([CLAIM_STATE.value_set(self._state.value), CLAIM_OVERDUE.value_set(overdue)])
            self._published = (self._state, overdue)
        upcoming = next_deadline(self._deadlines)
        workflow.set_current_details(
            f"**{self._state.value}**"
            + (f" · next deadline: {upcoming.kind.value} due {upcoming.due_at:%Y-%m-%d %H:%M} UTC" if upcoming else "")
            + (" · overdue" if overdue else "")
        )

    # --- bookkeeping -----------------------------------------------------------------

    def _check(self, action: str) -> None:
        """Refuse an action that does not fit the claim as it stands at workflow.now()."""
        state, closing = state_at(self._table, self._state, self._deadlines, workflow.now())
        why = refusal(action, state, self._escalated_kinds(), self._extra_actions(state))
        if why is None:
            return
        closing = closing or self._expired_into(state)
        if closing is not None:
            spec = spec_for(self._table, closing.kind)
            if self._allowed_before(action, spec):
                raise ApplicationError(
                    f"{action} refused: the {closing.kind.value} deadline passed at "
                    f"{closing.due_at:%Y-%m-%d %H:%M} UTC; {spec.after_expiry}",
                    type="DeadlinePassed",
                )
        raise ApplicationError(why, type="ActionRefused")

    def _expired_into(self, state: ClaimState) -> DeadlineStatus | None:
        """The passed deadline whose expiry moved the claim into `state`, if one did."""
        return next(
            (
                d
                for d in reversed(self._deadlines)
                if not d.cleared and d.due_passed and spec_for(self._table, d.kind).expires_to is state
            ),
            None,
        )

    def _allowed_before(self, action: str, spec: DeadlineSpec) -> bool:
        """Whether `action` fitted the claim before `spec`'s expiry moved it."""
        return any(refusal(action, before, set()) is None for before in spec.moves_claim_from)

    def _escalated(self) -> list[DeadlineStatus]:
        """Deadlines whose ladder started and can still climb: someone may acknowledge them."""
        return [d for d in self._deadlines if d.escalated and has_pending_steps(d, self._ladder(d))]

    def _escalated_kinds(self) -> set[DeadlineKind]:
        return {d.kind for d in self._escalated()}

    def _allowed(self) -> list[str]:
        return allowed_actions(self._state, self._escalated_kinds(), self._extra_actions(self._state))

    def _extra_actions(self, state: ClaimState) -> list[str]:
        """What the claim allows beyond its state: extend an open deadline; cancel while it
        is open (a way out of every state); settle a payment whose deadline passed."""
        extra = ["extend_deadline"] if self._extendable() else []
        if state not in (S.COMPLETED, S.CANCELLED, S.REJECTED):
            extra.append("cancel_claim")
        payment = self._open_deadline(DeadlineKind.PAYMENT)
        if state is S.AWAITING_PAYMENT and payment is not None and payment.due_passed:
            extra.append("settle_unpaid")
        return extra

    def _today(self) -> date:
        return local_date(workflow.now(), self._policy.timezone)

    def _clause_text(self, clause_id: str) -> str:
        return ENGINE_CLAUSES.get(clause_id) or self._policy.clause_text(clause_id)

    def _decide(self, decision: Decision) -> Decision:
        decision = decision.model_copy(update={"at": workflow.now()})
        self._decisions.append(decision)
        self._log("decision", f"{decision.what}: {decision.outcome} — {decision.reason} [{', '.join(decision.clause_ids)}]")
        return decision

    def _act(self, action: AgentAction, summary: str) -> None:
        self._changes += 1
        self._log("action", summary + (f" — {action.note}" if action.note else ""), action.by)

    def _result(self, message: str) -> ActionResult:
        return ActionResult(
            claim_number=self._number, state=self._state, allowed_actions=self._allowed(), message=message
        )

    def _log(self, kind: str, summary: str, by: str | None = None) -> None:
        now = workflow.now()
        self._updated_at = now
        self._timeline.append(TimelineEntry(at=now, kind=kind, summary=summary, by=by))


def _findings_text(findings: RecordInspection | RecordOnsiteReport) -> str:
    named = [*findings.exclusions, *findings.non_repairable, *([findings.defect] if findings.defect else [])]
    return findings.fault.value + (f" ({', '.join(named)})" if named else "")


def _owed_text(owed: list[FeeLine], currency: str) -> str:
    return ("; owed for the visit: " + ", ".join(f"{line.item} {line.amount} {currency}" for line in owed)) if owed else ""


def _within(count: int, limit: int, what: str) -> None:
    """Refuse one more of a bounded loop of the claim's life (models/limits.py)."""
    if count >= limit:
        raise ApplicationError(f"at most {limit} {what}", type="LimitReached")

