"""ClaimWorkflow: one after-sales claim, from opening to completion, as a durable workflow.

The workflow decides; the pure functions in models/ say what the policy means; the
`notify` activity does the I/O. Agent actions are updates with validators (a refused
action writes nothing to history); the live state is the `view` query. Timers come from
the claim's deadlines, and a deadline that runs out walks its escalation ladder.
"""

import asyncio
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notify import NotifyActivities
    from activities.read_model import ReadModelActivities
    from models import rules
    from models.actions import (
        AcknowledgeEscalation,
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
        RecordOnsiteReport,
        RecordPayment,
        RecordQualityCheck,
        RecordRefund,
        ReportFault,
        ResolveRemotely,
        SendQuote,
        ShipBack,
        allowed_actions,
        refusal,
    )
    from models.calendar import local_date
    from models.claim import (
        ActionResult,
        ClaimInput,
        ClaimView,
        DeadlineStatus,
        Decision,
        Escalation,
        Notification,
        Payment,
        Quote,
        TimelineEntry,
        escalation_notification_key,
        escalation_subject,
        snapshot_of,
    )
    from models.deadlines import due_at, due_events, has_pending_steps, next_event_at
    from models.enums import TERMINAL_STATES, ClaimState, DeadlineKind, Fault, Remedy
    from workflows.names import CLAIM
    from workflows.search_attributes import CLAIM_OVERDUE, CLAIM_POLICY, CLAIM_STATE

S = ClaimState
READ_MODEL_PATCH = "read-model-projection"  # claims opened before it never projected
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))


@workflow.defn(name=CLAIM)
class ClaimWorkflow:
    @workflow.init
    def __init__(self, claim: ClaimInput) -> None:
        self._intake = claim.intake
        self._policy = claim.policy
        self._calendar = claim.calendar
        self._number = claim.intake.claim_number
        now = workflow.now()
        self._state = S.OPENED
        self._opened_at = now
        self._updated_at = now
        self._reported_on = self._today()  # when the current fault was reported
        self._rma: str | None = None
        self._remedy: Remedy | None = None
        self._fault: Fault | None = None
        self._warranty: Decision | None = None
        self._quote: Quote | None = None
        self._payments: list[Payment] = []
        self._paid_repair = False  # the current cycle is a repair the customer pays for
        self._channel = "return_repair"
        self._fees_due: list[str] = []  # fee items a quote must carry (an on-site visit not covered)
        self._post_repair_until: date | None = None
        self._repair_cycles = 0
        self._deadlines: list[DeadlineStatus] = []
        self._escalations: list[Escalation] = []
        self._decisions: list[Decision] = []
        self._timeline: list[TimelineEntry] = []
        self._outbox: list[Notification] = []
        self._changes = 0  # bumped by every handler, so the main loop wakes up
        self._projected = 0  # timeline entries already written to the read model
        # Opened here, not in run(): an update may arrive in the very first workflow task.
        self._intake_problems = rules.intake_problems(self._policy, self._intake)
        if not self._intake_problems:
            self._open_claim()

    @workflow.run
    async def run(self, claim: ClaimInput) -> ClaimView:
        if self._intake_problems:
            raise ApplicationError(
                "cannot open the claim: " + "; ".join(self._intake_problems), non_retryable=True
            )
        while True:
            self._fire_due_events()
            await self._send_notifications()
            await self._project()
            if self._finished():
                break
            await self._wait_for_change_or_next_event()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- queries ---------------------------------------------------------------------

    @workflow.query
    def view(self) -> ClaimView:
        cited = {cid for d in self._decisions for cid in d.clause_ids}
        cited |= {cid for d in self._deadlines for cid in d.clause_ids}
        return ClaimView(
            claim_number=self._number,
            policy=self._policy.name,
            kind=self._intake.kind,
            state=self._state,
            remedy=self._remedy,
            product=self._intake.product,
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
            timeline=self._timeline,
            allowed_actions=self._allowed(),
            quote=self._quote,
            payments=self._payments,
            post_repair_warranty_until=self._post_repair_until,
            repair_cycles=self._repair_cycles,
            clauses={cid: self._policy.clause_text(cid) for cid in sorted(cited)},
        )

    # --- agent actions: one update each, each with a validator ----------------------

    @workflow.update
    def record_customer_shipment(self, a: RecordCustomerShipment) -> ActionResult:
        self._clear(DeadlineKind.SHIPPING)
        self._act(a, f"customer shipped the parcel with {a.carrier}, tracking {a.tracking_number}")
        return self._move(S.PARCEL_IN_TRANSIT)

    @record_customer_shipment.validator
    def _check_record_customer_shipment(self, a: RecordCustomerShipment) -> None:
        self._check("record_customer_shipment")

    @workflow.update
    def receive_parcel(self, a: ReceiveParcel) -> ActionResult:
        self._clear(DeadlineKind.SHIPPING)
        self._act(a, f"parcel {self._rma} received")
        if self._policy.deadlines.repair.starts_at == "parcel_received":
            self._start_deadline(DeadlineKind.REPAIR)
        return self._move(S.INSPECTING)

    @receive_parcel.validator
    def _check_receive_parcel(self, a: ReceiveParcel) -> None:
        self._check("receive_parcel")

    @workflow.update
    def record_inspection(self, a: RecordInspection) -> ActionResult:
        self._act(a, f"inspection: {_findings_text(a)}")
        self._decide_remedy(a)
        self._decide_freight()
        if self._remedy is Remedy.REFUND:
            return self._move(S.REFUND_DUE)
        if self._remedy is Remedy.FREE_REPAIR:
            return self._start_repair(paid=False)
        if self._remedy is Remedy.PAID_REPAIR:
            return self._move(S.AWAITING_QUOTE)
        # rejected or not repairable: goes back as it came; replacement: a new one goes out
        self._clear(DeadlineKind.REPAIR)
        return self._move(S.AWAITING_SHIP_BACK)

    @record_inspection.validator
    def _check_record_inspection(self, a: RecordInspection) -> None:
        self._check("record_inspection")
        self._check_findings(a)

    @workflow.update
    def record_onsite_report(self, a: RecordOnsiteReport) -> ActionResult:
        self._act(a, f"on-site report: {_findings_text(a)}")
        self._decide_remedy(a)
        covered = self._remedy in (Remedy.FREE_REPAIR, Remedy.REPLACEMENT, Remedy.REFUND)
        self._decide(rules.decide_fees(self._policy, self._channel, covered))
        self._fees_due = rules.fees_due(self._policy, self._channel, covered)
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

    @workflow.update
    def resolve_remotely(self, a: ResolveRemotely) -> ActionResult:
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
        self._act(a, f"fault documentation received: {', '.join(a.items)}")
        return self._move(S.ONSITE_VISIT)

    @record_documentation.validator
    def _check_record_documentation(self, a: RecordDocumentation) -> None:
        self._check("record_documentation")

    @workflow.update
    def record_refund(self, a: RecordRefund) -> ActionResult:
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
        self._clear(DeadlineKind.QUOTE)  # an expired quote's ladder stops with the new quote
        deadline = self._start_deadline(DeadlineKind.QUOTE)
        self._quote = Quote(
            lines=a.lines, currency=self._policy.currency, sent_at=workflow.now(), valid_until=deadline.due_at
        )
        self._act(a, f"quote sent: {self._quote.total} {self._policy.currency} ({len(a.lines)} lines)")
        return self._move(S.AWAITING_APPROVAL)

    @send_quote.validator
    def _check_send_quote(self, a: SendQuote) -> None:
        self._check("send_quote")
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

    @workflow.update
    def approve_quote(self, a: ApproveQuote) -> ActionResult:
        self._answer_quote(a, "approved")
        return self._start_repair(paid=True)

    @approve_quote.validator
    def _check_approve_quote(self, a: ApproveQuote) -> None:
        self._check("approve_quote")

    @workflow.update
    def decline_quote(self, a: DeclineQuote) -> ActionResult:
        self._answer_quote(a, "declined")
        self._clear(DeadlineKind.REPAIR)
        if self._on_site:
            return self._move(S.COMPLETED)  # the engineer leaves; nothing to ship
        self._decide_freight()
        return self._move(S.AWAITING_SHIP_BACK)

    @decline_quote.validator
    def _check_decline_quote(self, a: DeclineQuote) -> None:
        self._check("decline_quote")

    @workflow.update
    def complete_repair(self, a: CompleteRepair) -> ActionResult:
        self._act(a, f"repair done: {a.work_done}")
        return self._move(S.QUALITY_CHECK)

    @complete_repair.validator
    def _check_complete_repair(self, a: CompleteRepair) -> None:
        self._check("complete_repair")

    @workflow.update
    def record_quality_check(self, a: RecordQualityCheck) -> ActionResult:
        self._act(a, "quality check passed" if a.passed else "quality check failed: back to repair")
        if not a.passed:
            return self._move(S.REPAIRING)
        self._clear(DeadlineKind.REPAIR)
        if self._paid_repair:
            self._start_deadline(DeadlineKind.PAYMENT)
            return self._move(S.AWAITING_PAYMENT)
        return self._move(S.AWAITING_SHIP_BACK)

    @record_quality_check.validator
    def _check_record_quality_check(self, a: RecordQualityCheck) -> None:
        self._check("record_quality_check")

    @workflow.update
    def record_payment(self, a: RecordPayment) -> ActionResult:
        self._payments.append(Payment(amount=a.amount, reference=a.reference, at=workflow.now(), by=a.by))
        self._clear(DeadlineKind.PAYMENT)
        self._act(a, f"payment of {a.amount} {self._policy.currency} received, reference {a.reference}")
        return self._move(S.COMPLETED if self._on_site else S.AWAITING_SHIP_BACK)

    @record_payment.validator
    def _check_record_payment(self, a: RecordPayment) -> None:
        self._check("record_payment")
        assert self._quote is not None
        if a.amount != self._quote.total:
            raise ApplicationError(
                f"payment of {a.amount} does not match the approved quote of {self._quote.total} "
                f"{self._policy.currency}",
                type="InvalidAction",
            )

    @workflow.update
    def ship_back(self, a: ShipBack) -> ActionResult:
        self._act(a, f"shipped back with {a.carrier}, tracking {a.tracking_number}")
        repaired_for_a_fee = self._paid_repair and self._quote is not None and self._quote.answer == "approved"
        if repaired_for_a_fee and self._policy.post_repair_warranty is not None:
            window = self._decide(rules.post_repair_warranty(self._policy, self._today()))
            self._post_repair_until = date.fromisoformat(window.outcome)
            self._clear(DeadlineKind.POST_REPAIR_WARRANTY)
            self._start_deadline(DeadlineKind.POST_REPAIR_WARRANTY)
        return self._move(S.SHIPPED_BACK)

    @ship_back.validator
    def _check_ship_back(self, a: ShipBack) -> None:
        self._check("ship_back")

    @workflow.update
    def confirm_delivery(self, a: ConfirmDelivery) -> ActionResult:
        self._act(a, "delivered to the customer")
        if self._open_deadline(DeadlineKind.POST_REPAIR_WARRANTY) is not None:
            return self._move(S.POST_REPAIR_WARRANTY)
        return self._move(S.COMPLETED)

    @confirm_delivery.validator
    def _check_confirm_delivery(self, a: ConfirmDelivery) -> None:
        self._check("confirm_delivery")

    @workflow.update
    def report_fault(self, a: ReportFault) -> ActionResult:
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

    @workflow.update
    def acknowledge_escalation(self, a: AcknowledgeEscalation) -> ActionResult:
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
        self._clear(DeadlineKind.SHIPPING)
        self._act(a, f"claim cancelled: {a.reason}")
        return self._move(S.CANCELLED)

    @cancel_claim.validator
    def _check_cancel_claim(self, a: CancelClaim) -> None:
        self._check("cancel_claim")

    # --- the claim's life ------------------------------------------------------------

    def _open_claim(self) -> None:
        intake, policy = self._intake, self._policy
        self._log("opened", f"{intake.kind.value} claim opened under policy {policy.name}", intake.opened_by)
        check = self._decide(rules.policy_check(policy, intake, self._reported_on))
        if check.outcome == "rejected":
            self._move(S.REJECTED)
            return
        self._warranty = self._decide(rules.warranty_status(policy, intake, self._reported_on))
        if policy.channels:
            self._decide(rules.decide_channel(policy))
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
        cycle = 1 + sum(1 for d in self._deadlines if d.kind is DeadlineKind.SHIPPING)
        self._rma = f"RMA-{self._number}" + (f"-{cycle}" if cycle > 1 else "")
        self._start_deadline(DeadlineKind.SHIPPING)
        self._log("state", f"RMA {self._rma} issued: the customer ships within the deadline")

    def _start_repair(self, *, paid: bool) -> ActionResult:
        self._paid_repair = paid
        self._repair_cycles += 1
        if self._open_deadline(DeadlineKind.REPAIR) is None:  # unless it runs from parcel arrival
            self._start_deadline(DeadlineKind.REPAIR)
        return self._move(S.REPAIRING)

    def _answer_quote(self, a: ApproveQuote | DeclineQuote, answer: str) -> None:
        assert self._quote is not None
        self._quote = self._quote.model_copy(update={"answer": answer})
        self._clear(DeadlineKind.QUOTE)
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

    def _decide_remedy(self, findings: RecordInspection | RecordOnsiteReport) -> None:
        self._fault = findings.fault
        remedy = self._decide(
            rules.decide_remedy(
                self._policy, self._intake, findings, self._reported_on, self._warranty, self._post_repair_until
            )
        )
        self._remedy = Remedy(remedy.outcome)

    def _decide_freight(self) -> None:
        assert self._remedy is not None and self._fault is not None and self._warranty is not None
        covered = self._warranty.outcome == rules.COVERED or (
            self._post_repair_until is not None and self._reported_on <= self._post_repair_until
        )
        self._decide(rules.decide_freight(self._policy, self._remedy, self._fault, covered))

    def _on_deadline_passed(self, deadline: DeadlineStatus) -> None:
        """What happens by itself when a deadline passes (its ladder then notifies people)."""
        kind = deadline.kind
        clauses = deadline.clause_ids
        if kind is DeadlineKind.SHIPPING:
            self._decide(_passed(kind, "expired", "the customer did not ship the parcel in time", clauses))
            self._move(S.EXPIRED)
        elif kind is DeadlineKind.QUOTE:
            assert self._quote is not None
            self._quote = self._quote.model_copy(update={"answer": "expired"})
            self._decide(_passed(kind, "expired", "the customer did not answer the quote in time", clauses))
            self._move(S.QUOTE_EXPIRED)
        elif kind is DeadlineKind.REPAIR:
            self._decide(_passed(kind, "breached", "the repair did not pass QC within its SLA", clauses))
        elif kind is DeadlineKind.PAYMENT:
            self._decide(_passed(kind, "overdue", "the repair fee was not paid in time", clauses))
        elif kind is DeadlineKind.POST_REPAIR_WARRANTY:
            deadline.cleared = True
            self._decide(_passed(kind, "ended", "the post-repair warranty window ended", clauses))
            if self._state is S.POST_REPAIR_WARRANTY:
                self._move(S.COMPLETED)

    # --- deadlines and escalation ----------------------------------------------------

    def _start_deadline(self, kind: DeadlineKind) -> DeadlineStatus:
        rule = self._policy.deadline_rule(kind)
        now = workflow.now()
        deadline = DeadlineStatus(
            kind=kind,
            cycle=1 + sum(1 for d in self._deadlines if d.kind is kind),
            started_at=now,
            due_at=due_at(rule, now, self._policy.timezone, self._calendar),
            clause_ids=rule.clause_ids,
        )
        self._deadlines.append(deadline)
        self._log("deadline", f"{kind.value} deadline set: {rule.days} {rule.calendar} days, due {deadline.due_at}")
        return deadline

    def _open_deadline(self, kind: DeadlineKind) -> DeadlineStatus | None:
        return next((d for d in self._deadlines if d.kind is kind and not d.cleared), None)

    def _clear(self, kind: DeadlineKind) -> None:
        deadline = self._open_deadline(kind)
        if deadline is not None:
            deadline.cleared = True

    def _ladder(self, deadline: DeadlineStatus):
        return self._policy.deadline_rule(deadline.kind).ladder

    def _fire_due_events(self) -> None:
        now = workflow.now()
        for deadline in list(self._deadlines):
            for event in due_events(deadline, self._ladder(deadline), now):
                if event.step is None:
                    deadline.due_passed = True
                    self._on_deadline_passed(deadline)
                else:
                    self._escalate(deadline, event.step, now)

    def _escalate(self, deadline: DeadlineStatus, index: int, now: datetime) -> None:
        step = self._ladder(deadline)[index]
        deadline.steps_fired = index + 1
        if step.offset_hours >= 0 and deadline.escalated_at is None:
            deadline.escalated_at = now
        escalation = Escalation(
            deadline=deadline.kind, cycle=deadline.cycle, step=index, level=step.level, notify=step.notify.value, at=now
        )
        self._escalations.append(escalation)
        subject = escalation_subject(self._number, escalation, deadline.due_at)
        self._log("escalation", f"{subject}; {step.notify.value} notified")
        self._outbox.append(
            Notification(
                key=escalation_notification_key(self._number, escalation),
                claim_number=self._number,
                role=step.notify.value,
                level=step.level,
                subject=subject,
                body=f"The {deadline.kind.value} deadline of claim {self._number} is {deadline.due_at}. "
                f"The claim is {self._state.value}. Policy clauses: {', '.join(deadline.clause_ids)}.",
                at=now,
            )
        )

    async def _send_notifications(self) -> None:
        while self._outbox:
            await workflow.execute_activity_method(
                NotifyActivities.notify,
                self._outbox.pop(0),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=ACTIVITY_RETRY,
            )

    async def _project(self) -> None:
        """Keep the search attributes and the SQL read model up to date with the claim,
        until they have caught up (an action may land while the activity runs).

        Claims started before the read model existed (no patch marker) skip this.
        """
        while self._projected < len(self._timeline) and workflow.patched(READ_MODEL_PATCH):
            snapshot = snapshot_of(self.view(), self._projected)
            workflow.upsert_search_attributes(
                [
                    CLAIM_STATE.value_set(snapshot.state.value),
                    CLAIM_POLICY.value_set(snapshot.policy),
                    CLAIM_OVERDUE.value_set(snapshot.overdue),
                ]
            )
            await workflow.execute_activity_method(
                ReadModelActivities.project_claim,
                snapshot,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=ACTIVITY_RETRY,
            )
            self._projected = snapshot.version

    async def _wait_for_change_or_next_event(self) -> None:
        seen = self._changes
        upcoming = [
            (at, d) for d in self._deadlines if (at := next_event_at(d, self._ladder(d))) is not None
        ]
        if not upcoming:
            await workflow.wait_condition(lambda: self._changes != seen)
            return
        at, deadline = min(upcoming, key=lambda pair: pair[0])
        try:
            await workflow.wait_condition(
                lambda: self._changes != seen,
                timeout=max(at - workflow.now(), timedelta(seconds=1)),
                timeout_summary=f"{deadline.kind.value} deadline #{deadline.cycle}",
            )
        except asyncio.TimeoutError:
            pass

    def _finished(self) -> bool:
        if self._state not in TERMINAL_STATES:
            return False
        return not any(has_pending_steps(d, self._ladder(d)) for d in self._deadlines)

    # --- bookkeeping -----------------------------------------------------------------

    def _check(self, action: str) -> None:
        why = refusal(action, self._state, self._escalated_kinds())
        if why is not None:
            raise ApplicationError(why, type="ActionRefused")

    def _escalated(self) -> list[DeadlineStatus]:
        """Deadlines whose ladder started and can still climb: someone may acknowledge them."""
        return [d for d in self._deadlines if d.escalated and has_pending_steps(d, self._ladder(d))]

    def _escalated_kinds(self) -> set[DeadlineKind]:
        return {d.kind for d in self._escalated()}

    def _allowed(self) -> list[str]:
        return allowed_actions(self._state, self._escalated_kinds())

    def _today(self) -> date:
        return local_date(workflow.now(), self._policy.timezone)

    def _decide(self, decision: Decision) -> Decision:
        decision = decision.model_copy(update={"at": workflow.now()})
        self._decisions.append(decision)
        self._log("decision", f"{decision.what}: {decision.outcome} — {decision.reason} [{', '.join(decision.clause_ids)}]")
        return decision

    def _act(self, action, summary: str) -> None:
        self._changes += 1
        self._log("action", summary + (f" — {action.note}" if action.note else ""), action.by)

    def _move(self, state: ClaimState) -> ActionResult:
        if state is not self._state:
            self._log("state", f"{self._state.value} → {state.value}")
            self._state = state
        self._changes += 1
        return self._result(f"claim is {state.value}")

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


def _passed(kind: DeadlineKind, outcome: str, reason: str, clause_ids: list[str]) -> Decision:
    return Decision(what=f"{kind.value}_deadline", outcome=outcome, reason=reason, clause_ids=clause_ids)
