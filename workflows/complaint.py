"""ComplaintWorkflow (workflow type "Complaint"): one complaint, from intake to closing.

Routed by its category to a department (the policy's data), answered within the policy's
reply time — wall-clock or service hours — and, when the reply clock runs out, escalated
level by level: the department's handlers, its head, the company leader, each level with
its own clock, each step in the timeline and sent as a notification. An emergency goes to
the leader at once. The customer's word on a reply closes the complaint or reopens it with
a new reply clock. The pure rules are in models/complaint.py.

It holds to the claim engine's three rules (workflows/claim.py): the main loop fires what
is due, arms one timer and waits, and awaits no activity (deliveries: workflows/delivery.py);
every update first applies what is due at workflow.now(), and its validator refuses an
action whose window closed; the clocks are applied in one place (`_move`).
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.claim import Decision, Notification, TimelineEntry
    from models.complaint import (
        LEVEL_OF,
        LEVEL_TITLES,
        NEXT_LEVEL,
        RUNS_IN,
        STARTS_ON_ENTRY,
        AcknowledgeComplaintEscalation,
        CancelComplaint,
        CloseComplaint,
        ComplaintAction,
        ComplaintActionResult,
        ComplaintDeadline,
        ComplaintEscalation,
        ComplaintInput,
        ComplaintView,
        Reassign,
        RecordReply,
        RecordSatisfaction,
        Reply,
        allowed_actions,
        complaint_snapshot_of,
        counted_hours,
        escalated_at,
        feedback_due,
        hours_unit,
        intake_problems,
        is_email,
        is_overdue,
        ladder,
        level_due,
        recipients,
        refusal,
        reply_due,
        route,
        state_at,
    )
    from models.calendar import local_text
    from models.deadlines import due_events, next_event_at
    from models.enums import (
        COMPLAINT_TERMINAL_STATES,
        ComplaintClock,
        ComplaintState,
        EscalationLevel,
        Role,
    )
    from models.limits import COMPLAINT_REASSIGNS_MAX, COMPLAINT_REOPENS_MAX, TIMELINE_IN_VIEW
    from models.policy import ComplaintLevelName, ComplaintRules
    from workflows.delivery import NOT_DELIVERED, Outbox, ReadModelFeed
    from workflows.names import COMPLAINT, PROJECT_COMPLAINT

C = ComplaintState
NO_LADDER: tuple = ()  # a complaint clock has no steps of its own: each level is a clock


@workflow.defn(name=COMPLAINT)
class ComplaintWorkflow:
    @workflow.init
    def __init__(self, complaint: ComplaintInput) -> None:
        self._intake = complaint.intake
        self._policy = complaint.policy
        self._calendar = complaint.calendar
        self._number = complaint.intake.complaint_number
        now = workflow.now()
        self._state = C.RECEIVED
        self._opened_at = self._updated_at = now
        self._closed_at: datetime | None = None
        self._department = ""
        self._deadlines: list[ComplaintDeadline] = []
        self._escalations: list[ComplaintEscalation] = []
        self._decisions: list[Decision] = []
        self._replies: list[Reply] = []
        self._satisfied: bool | None = None
        self._reopens = 0
        self._reassigns = 0
        self._timeline: list[TimelineEntry] = []
        self._changes = 0  # bumped by every handler, so the main loop wakes up
        self._timer: asyncio.Task | None = None
        self._timer_at: datetime | None = None
        self._outbox = Outbox(self._policy.service_hours, self._policy.timezone, self._calendar, self._delivered)
        self._feed = ReadModelFeed(
            PROJECT_COMPLAINT,
            lambda since: complaint_snapshot_of(self._view(None), since, workflow.info().first_execution_run_id),
            lambda: len(self._timeline),
            lambda summary: self._log("delivery", summary),
        )
        # Received here, not in run(): an update may arrive in the very first workflow task.
        self._problems = intake_problems(self._policy, self._intake)
        if not self._problems:
            self._receive()

    @workflow.run
    async def run(self, complaint: ComplaintInput) -> ComplaintView:
        if self._problems:
            raise ApplicationError("cannot take the complaint: " + "; ".join(self._problems), non_retryable=True)
        deliveries = [asyncio.create_task(self._outbox.run()), asyncio.create_task(self._feed.run())]
        try:
            while True:
                self._apply_due()
                self._publish()
                if self._state in COMPLAINT_TERMINAL_STATES:
                    break
                await self._wait_for_change_or_next_event()
        except asyncio.CancelledError:  # cancelled in Temporal's UI or CLI
            self._log("state", "cancelled outside claimflow: the workflow was asked to cancel in Temporal")
            self._move(C.CANCELLED)
            self._publish()
            await self._close(deliveries)
            raise
        await self._close(deliveries)
        return self.view()

    async def _close(self, deliveries: list[asyncio.Task]) -> None:
        """End once every handler finished and the deliveries caught up."""
        self._cancel_timer()
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and self._outbox.empty and self._feed.caught_up
        )
        for task in deliveries:
            task.cancel()

    # --- queries ---------------------------------------------------------------------

    @workflow.query
    def view(self) -> ComplaintView:
        """The complaint as it stands, with the newest TIMELINE_IN_VIEW timeline entries."""
        return self._view(TIMELINE_IN_VIEW)

    def _view(self, newest: int | None) -> ComplaintView:
        if self._problems:
            raise ApplicationError("the complaint was not taken: " + "; ".join(self._problems))
        start = 0 if newest is None else max(0, len(self._timeline) - newest)
        rules = self._rules
        category = rules.category(self._intake.category)
        department = rules.department(self._department)
        assert category is not None and department is not None
        cited = {cid for d in self._decisions for cid in d.clause_ids} | {
            cid for d in self._deadlines for cid in d.clause_ids
        }
        return ComplaintView(
            complaint_number=self._number,
            policy=self._policy.name,
            channel=self._intake.channel,
            category=category.id,
            category_title=category.title,
            department=department.id,
            department_name=department.name,
            state=self._state,
            emergency=self._intake.emergency,
            customer=self._intake.customer,
            description=self._intake.description,
            locale=self._intake.locale,
            claim_number=self._intake.claim_number,
            opened_by=self._intake.opened_by,
            opened_at=self._opened_at,
            updated_at=self._updated_at,
            closed_at=self._closed_at,
            as_of=workflow.now(),
            timezone=self._policy.timezone,
            counting=rules.counting,
            reply_hours=rules.reply_hours,
            service_hours=counted_hours(self._policy),
            deadlines=self._deadlines,
            ladder=self._ladder(),
            escalations=self._escalations,
            replies=self._replies,
            satisfied=self._satisfied,
            reopens=self._reopens,
            decisions=self._decisions,
            timeline=self._timeline[start:],
            timeline_from=start,
            allowed_actions=allowed_actions(self._state, self._escalated_at(workflow.now())),
            clauses={cid: self._policy.clause_text(cid) for cid in sorted(cited)},
        )

    def _ladder(self):
        """The current reply clock's ladder, each rung marked when it fired."""
        clock = self._reply_clock()
        if clock is None:
            return []
        fired = {e.level for e in self._escalations if e.cycle == clock.cycle}
        return [
            step.model_copy(update={"fired": step.level in fired})
            for step in ladder(self._policy, clock.due_at, self._calendar)
        ]

    # --- actions: one update each, each with a validator -----------------------------
    # Every handler starts with `_catch_up()`: what is due at workflow.now() happens first.

    @workflow.update
    def record_reply(self, a: RecordReply) -> ComplaintActionResult:
        self._catch_up()
        clock = self._reply_clock()
        assert clock is not None
        now = workflow.now()
        late = now > clock.due_at
        self._replies.append(Reply(cycle=clock.cycle, reply=a.reply, by=a.by, at=now, due_at=clock.due_at, late=late))
        self._act(a, f"reply recorded ({len(a.reply)} characters)")
        self._decide(
            Decision(
                what="reply",
                outcome="late" if late else "in_time",
                reason=f"replied {'after' if late else 'before'} the reply time ran out at {clock.due_at:%Y-%m-%d %H:%M} UTC",
                clause_ids=self._rules.reply_clause_ids,
                inputs={"cycle": clock.cycle, "due_at": clock.due_at.isoformat()},
            )
        )
        result = self._move(C.ANSWERED)
        self._tell_customer(
            f"answered#{clock.cycle}",
            "complaint_answered",
            f"complaint {self._number} answered",
            {"reply": a.reply},
        )
        return result

    @record_reply.validator
    def _check_record_reply(self, a: RecordReply) -> None:
        self._check("record_reply")

    @workflow.update
    def record_satisfaction(self, a: RecordSatisfaction) -> ComplaintActionResult:
        self._catch_up()
        self._satisfied = a.satisfied
        self._act(a, "the customer is satisfied with the reply" if a.satisfied else "the customer is not satisfied")
        clause_ids = self._rules.feedback_clause_ids
        if a.satisfied:
            self._decide(Decision(what="satisfaction", outcome="satisfied", reason="a satisfactory reply: the "
                                  "complaint closes", clause_ids=clause_ids))  # fmt: skip
            return self._move(C.CLOSED)
        self._reopens += 1
        self._decide(
            Decision(
                what="satisfaction",
                outcome="reopened",
                reason=f"the reply did not satisfy the customer: reopened ({self._reopens} of "
                f"{COMPLAINT_REOPENS_MAX}), a new reply time runs",
                clause_ids=list(dict.fromkeys([*clause_ids, *self._rules.reply_clause_ids])),
            )
        )
        self._move(C.REOPENED)
        result = self._move(C.AWAITING_REPLY)
        self._tell_received()
        return result

    @record_satisfaction.validator
    def _check_record_satisfaction(self, a: RecordSatisfaction) -> None:
        self._check("record_satisfaction")
        if not a.satisfied and self._reopens >= COMPLAINT_REOPENS_MAX:
            raise ApplicationError(
                f"at most {COMPLAINT_REOPENS_MAX} reopenings of one complaint; a supervisor closes it (close_complaint)",
                type="LimitReached",
            )

    @workflow.update
    def reassign(self, a: Reassign) -> ComplaintActionResult:
        self._catch_up()
        department = self._rules.department(a.department)
        assert department is not None
        before, self._department = self._department, department.id
        self._reassigns += 1
        self._act(a, f"reassigned from {before} to {department.id}")
        self._decide(
            Decision(
                what="routing",
                outcome=department.id,
                reason=f"reassigned by {a.by} to the {department.name}; the reply clock runs on",
                clause_ids=department.clause_ids,
                inputs={"from": before},
            )
        )
        return self._result(f"complaint is with the {department.name}")

    @reassign.validator
    def _check_reassign(self, a: Reassign) -> None:
        self._check("reassign")
        known = [d.id for d in self._rules.departments]
        if a.department not in known:
            raise ApplicationError(
                f"policy {self._policy.name} has no department {a.department!r}; its departments: {', '.join(known)}",
                type="InvalidAction",
            )
        if a.department == self._department:
            raise ApplicationError(f"the complaint is with {a.department} already", type="InvalidAction")
        if self._reassigns >= COMPLAINT_REASSIGNS_MAX:
            raise ApplicationError(f"at most {COMPLAINT_REASSIGNS_MAX} reassignments of one complaint", type="LimitReached")

    @workflow.update
    def acknowledge_escalation(self, a: AcknowledgeComplaintEscalation) -> ComplaintActionResult:
        self._catch_up()
        clock = self._reply_clock()
        assert clock is not None
        clock.acknowledged_by = a.by
        for level in self._open_clocks():
            if level.kind is not ComplaintClock.REPLY:
                level.acknowledged_by = a.by
                self._clear(level, f"acknowledged by {a.by}")
        self._act(a, "escalation acknowledged: the ladder stops here; the reply is still owed")
        return self._result("escalation acknowledged")

    @acknowledge_escalation.validator
    def _check_acknowledge_escalation(self, a: AcknowledgeComplaintEscalation) -> None:
        self._check("acknowledge_escalation")

    @workflow.update
    def close_complaint(self, a: CloseComplaint) -> ComplaintActionResult:
        self._catch_up()
        self._act(a, f"complaint closed: {a.reason}")
        return self._move(C.CLOSED)

    @close_complaint.validator
    def _check_close_complaint(self, a: CloseComplaint) -> None:
        self._check("close_complaint")

    @workflow.update
    def cancel_complaint(self, a: CancelComplaint) -> ComplaintActionResult:
        self._catch_up()
        self._act(a, f"complaint cancelled: {a.reason}")
        return self._move(C.CANCELLED)

    @cancel_complaint.validator
    def _check_cancel_complaint(self, a: CancelComplaint) -> None:
        self._check("cancel_complaint")

    # --- the complaint's life ----------------------------------------------------------

    @property
    def _rules(self) -> ComplaintRules:
        rules = self._policy.complaints
        assert rules is not None  # (a policy without them: the complaint was refused at intake)
        return rules

    def _receive(self) -> None:
        intake = self._intake
        self._log("opened", f"{intake.channel.value} complaint received under policy {self._policy.name}",
                  intake.opened_by)  # fmt: skip
        self._decide(
            Decision(what="intake", outcome="recorded", reason=f"a {intake.channel.value} complaint recorded and "
                     "routed by its subject", clause_ids=self._rules.clause_ids)  # fmt: skip
        )
        self._department = self._decide(route(self._policy, intake.category)).outcome
        self._move(C.AWAITING_REPLY)
        if intake.emergency:
            self._emergency()
        self._tell_received()

    def _emergency(self) -> None:
        """An emergency is reported to the leader at once; its reply clock runs as any other's."""
        self._decide(
            Decision(what="emergency", outcome="reported", reason="an emergency: reported to the company leader at once",
                     clause_ids=self._rules.emergency_clause_ids)  # fmt: skip
        )
        escalation = ComplaintEscalation(
            level="leader", rung=LEVEL_OF["leader"], cycle=0, department=self._department,
            to=recipients(self._policy, self._department, "leader"), at=workflow.now(), urgent=True, emergency=True,
        )  # fmt: skip
        self._escalations.append(escalation)
        subject = f"[emergency] complaint {self._number}: {self._category_title()}"
        self._log("escalation", f"{subject}; the company leader notified")
        self._send(f"{self._number}/emergency", escalation, subject, until=None)

    def _escalate(self, level: ComplaintLevelName, ran_out: ComplaintDeadline) -> None:
        """`ran_out` (the reply clock, or a level's) passed: `level` gets the complaint and its own clock,
        counted from the moment `ran_out` passed (not from now: a worker that was away changes nothing)."""
        until = level_due(self._policy, level, ran_out.due_at, self._calendar)
        self._start(ComplaintClock(level), ran_out.due_at, until, self._rules.level(level).clause_ids, cycle=ran_out.cycle)
        escalation = ComplaintEscalation(
            level=level, rung=LEVEL_OF[level], cycle=ran_out.cycle, department=self._department,
            to=recipients(self._policy, self._department, level), at=workflow.now(), due_at=ran_out.due_at,
            urgent=level == "leader",
        )  # fmt: skip
        self._escalations.append(escalation)
        reply = self._reply_clock()
        assert reply is not None
        subject = f"[{LEVEL_TITLES[level]}] complaint {self._number}: no reply by {reply.due_at:%Y-%m-%d %H:%M} UTC"
        self._log("escalation", f"{subject}; {', '.join(escalation.to)} notified")
        self._send(f"{self._number}/reply#{ran_out.cycle}/{level}", escalation, subject, until=until)

    def _on_passed(self, clock: ComplaintDeadline) -> None:
        unit = hours_unit(self._policy)
        if clock.kind is ComplaintClock.FEEDBACK:
            self._decide(Decision(what="feedback", outcome="closed", reason=f"no word from the customer within "
                                  f"{self._rules.feedback_days} days of the reply: the complaint closes",
                                  clause_ids=clock.clause_ids))  # fmt: skip
            self._move(C.CLOSED)
            return
        if clock.kind is ComplaintClock.REPLY:
            reason = f"no reply within {self._rules.reply_hours} {unit}"
        else:
            level = self._rules.level(clock.kind.value)  # type: ignore[arg-type]
            reason = f"no reply within the {LEVEL_TITLES[level.level]}'s {level.hours} {unit}"
        self._decide(Decision(what=f"{clock.kind.value}_deadline", outcome="overdue", reason=reason,
                              clause_ids=clock.clause_ids,
                              inputs={"cycle": clock.cycle, "due_at": clock.due_at.isoformat()}))  # fmt: skip
        following = NEXT_LEVEL[clock.kind]
        if following is not None:
            self._escalate(following, clock)

    # --- clocks: the complaint's deadline table, applied in one place ---------------------

    def _move(self, state: ComplaintState) -> ComplaintActionResult:
        if state is not self._state:
            before, self._state = self._state, state
            self._log("state", f"{before.value} → {state.value}")
            for clock in self._open_clocks():
                if RUNS_IN[clock.kind] is not state:
                    self._clear(clock, f"no longer runs while the complaint is {state.value}")
            now = workflow.now()
            kind = STARTS_ON_ENTRY.get(state)
            if kind is not None:
                cycle = 1 + sum(1 for d in self._deadlines if d.kind is kind)
                if kind is ComplaintClock.REPLY:
                    due, clause_ids = reply_due(self._policy, now, self._calendar), self._rules.reply_clause_ids
                else:
                    due, clause_ids = feedback_due(self._policy, now), self._rules.feedback_clause_ids
                self._start(kind, now, due, clause_ids, cycle=cycle)
            if state in COMPLAINT_TERMINAL_STATES:
                self._closed_at = now
        self._changes += 1
        return self._result(f"complaint is {state.value}")

    def _start(self, kind: ComplaintClock, start: datetime, due: datetime, clause_ids: list[str], cycle: int) -> None:
        self._deadlines.append(
            ComplaintDeadline(kind=kind, cycle=cycle, started_at=start, due_at=due, clause_ids=clause_ids)
        )
        self._log("deadline", f"{kind.value} clock #{cycle} set: due {due:%Y-%m-%d %H:%M} UTC")

    def _clear(self, clock: ComplaintDeadline, why: str) -> None:
        clock.cleared = True
        self._log("deadline", f"{clock.kind.value} clock #{clock.cycle} closed: {why}")

    def _open_clocks(self) -> list[ComplaintDeadline]:
        return [d for d in self._deadlines if not d.cleared]

    def _reply_clock(self) -> ComplaintDeadline | None:
        return next((d for d in reversed(self._deadlines) if d.kind is ComplaintClock.REPLY), None)

    def _catch_up(self) -> None:
        self._changes += 1
        self._apply_due()

    def _apply_due(self) -> None:
        """Fire every clock due by now, earliest first (the feedback window's end closes the
        complaint, and so clears what else runs, before a later clock is looked at)."""
        now = workflow.now()
        while True:
            due = [(event.at, d) for d in self._deadlines for event in due_events(d, NO_LADDER, now)[:1]]
            if not due:
                return
            _, clock = min(due, key=lambda pair: pair[0])
            clock.due_passed = True
            self._on_passed(clock)

    def _escalated_at(self, now: datetime) -> bool:
        return escalated_at(self._state, self._deadlines, now)

    def _check(self, action: str) -> None:
        """Refuse an action that does not fit the complaint as it stands at workflow.now()."""
        now = workflow.now()
        state, closing = state_at(self._state, self._deadlines, now)
        why = refusal(action, state, self._escalated_at(now))
        if why is None:
            return
        if closing is not None and refusal(action, self._state, False) is None:
            raise ApplicationError(
                f"{action} refused: the customer's feedback window closed at {closing.due_at:%Y-%m-%d %H:%M} UTC "
                "and the complaint closed; open a new complaint if the customer comes back",
                type="DeadlinePassed",
            )
        raise ApplicationError(why, type="ActionRefused")

    # --- the main loop's timer ----------------------------------------------------------

    async def _wait_for_change_or_next_event(self) -> None:
        """Wait for an action or the next clock; the timer is re-armed only when that moves."""
        seen = self._changes
        upcoming = [(at, d) for d in self._deadlines if (at := next_event_at(d, NO_LADDER)) is not None]
        at, clock = min(upcoming, key=lambda pair: pair[0]) if upcoming else (None, None)
        if at != self._timer_at or (self._timer is not None and self._timer.done()):
            self._cancel_timer()
            if at is not None and clock is not None:
                wait = max(at - workflow.now(), timedelta(milliseconds=1))
                self._timer = asyncio.create_task(workflow.sleep(wait, summary=f"{clock.kind.value} clock #{clock.cycle}"))
                self._timer_at = at
        timer = self._timer
        await workflow.wait_condition(lambda: self._changes != seen or (timer is not None and timer.done()))

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer, self._timer_at = None, None

    def _publish(self) -> None:
        """What Temporal's UI shows: state, department, the next clock. No personal data."""
        running = [d for d in self._open_clocks() if not d.due_passed]
        upcoming = min(running, key=lambda d: d.due_at) if running else None
        overdue = is_overdue(self._state, self._deadlines)
        workflow.set_current_details(
            f"**{self._state.value}** · {self._department}"
            + (f" · next: {upcoming.kind.value} due {upcoming.due_at:%Y-%m-%d %H:%M} UTC" if upcoming else "")
            + (" · overdue" if overdue else "")
        )

    # --- notifications --------------------------------------------------------------------

    def _category_title(self) -> str:
        category = self._rules.category(self._intake.category)
        assert category is not None
        return category.title

    def _local(self, moment: datetime) -> str:
        return local_text(moment, self._policy.timezone)

    def _facts(self, **more: str) -> dict[str, str]:
        department = self._rules.department(self._department)
        assert department is not None
        return {
            "complaint_number": self._number, "category": self._category_title(), "department": department.name,
            "channel": self._intake.channel.value, "description": self._intake.description, **more,
        }  # fmt: skip

    def _send(self, key: str, escalation: ComplaintEscalation, subject: str, until: datetime | None) -> None:
        """Queue a step of the ladder (or an emergency) for its people. Facts for the template:
        the reply's due moment (`due_at`), the level and when its own time ends (`until`)."""
        reply = self._reply_clock()
        assert reply is not None
        facts = self._facts(level=LEVEL_TITLES[escalation.level], emergency="yes" if escalation.emergency else "no",
                            due_at=self._local(reply.due_at), until=self._local(until) if until else "")  # fmt: skip
        self._outbox.queue(
            Notification(
                key=key, claim_number=self._number, role=self._department if escalation.level != "leader" else "leader",
                level=escalation.rung, subject=subject, body=f"{subject}. {self._category_title()}: "
                f"{self._intake.description}", at=workflow.now(), message="complaint_escalation", to=escalation.to,
                facts=facts,
                urgent=escalation.urgent, policy=self._policy.name,
            )  # fmt: skip
        )

    def _tell_received(self) -> None:
        clock = self._reply_clock()
        assert clock is not None
        self._tell_customer(
            f"received#{clock.cycle}",
            "complaint_received",
            f"complaint {self._number} received: a reply by {clock.due_at:%Y-%m-%d %H:%M} UTC",
            {"due_at": self._local(clock.due_at)},
        )

    def _tell_customer(self, key: str, message: str, subject: str, facts: dict[str, str]) -> None:
        """A message to the customer, when their contact is an e-mail address."""
        contact = self._intake.customer.contact
        if not is_email(contact):
            return
        self._outbox.queue(
            Notification(
                key=f"{self._number}/{key}", claim_number=self._number, role=Role.CUSTOMER.value,
                level=EscalationLevel.REMINDER, subject=subject, body=subject, at=workflow.now(), message=message,
                to=[contact], facts=self._facts(**facts), locale=self._intake.locale, policy=self._policy.name,
            )  # fmt: skip
        )

    def _delivered(self, notification: Notification, outcome: str, detail: str) -> None:
        """The outbox's report: every outcome in the timeline; an undelivered one is also told
        to the department's head (once; their own warning is not escalated again)."""
        retrying = "; retrying" if outcome == NOT_DELIVERED else ""
        self._log("delivery", f"{notification.message} for {notification.role} {outcome}: {detail}{retrying}")
        if outcome != NOT_DELIVERED or notification.key.endswith("/undelivered"):
            return
        self._outbox.queue(
            notification.model_copy(
                update={
                    "key": f"{notification.key}/undelivered", "role": self._department,
                    "level": EscalationLevel.SUPERVISOR, "message": "undelivered",
                    "to": recipients(self._policy, self._department, "department_head"),
                    "subject": f"undelivered: {notification.subject}", "at": workflow.now(), "urgent": False,
                }
            )  # fmt: skip
        )

    # --- bookkeeping -------------------------------------------------------------------------

    def _decide(self, decision: Decision) -> Decision:
        decision = decision.model_copy(update={"at": workflow.now()})
        self._decisions.append(decision)
        self._log("decision", f"{decision.what}: {decision.outcome} — {decision.reason} [{', '.join(decision.clause_ids)}]")
        return decision

    def _act(self, action: ComplaintAction, summary: str) -> None:
        self._changes += 1
        self._log("action", summary + (f" — {action.note}" if action.note else ""), action.by)

    def _result(self, message: str) -> ComplaintActionResult:
        return ComplaintActionResult(
            complaint_number=self._number,
            state=self._state,
            allowed_actions=allowed_actions(self._state, self._escalated_at(workflow.now())),
            message=message,
        )

    def _log(self, kind: str, summary: str, by: str | None = None) -> None:
        now = workflow.now()
        self._updated_at = now
        self._timeline.append(TimelineEntry(at=now, kind=kind, summary=summary, by=by))
