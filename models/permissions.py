"""What each role may do: one table, used by the web UI on every route (and by its tests).

Pure: no I/O. The workflow does not know roles; the web UI checks them before it sends an
update, and the signed-in user is the update's `by`.
"""

from models.actions import ACTIONS
from models.complaint import COMPLAINT_ACTIONS
from models.enums import Role, UserRole

R = UserRole

# Actions only a supervisor (or an admin) may take: they override a deadline, settle money
# or speak for headquarters.
SUPERVISOR_ACTIONS = frozenset(
    {"reopen_claim", "extend_deadline", "settle_unpaid", "assign_claim", "record_determination"}
)
AGENT_ACTIONS = frozenset(ACTIONS) - SUPERVISOR_ACTIONS

ACTIONS_OF: dict[UserRole, frozenset[str]] = {
    R.AGENT: AGENT_ACTIONS,
    R.SUPERVISOR: frozenset(ACTIONS),
    R.AUDITOR: frozenset(),
    R.ADMIN: frozenset(ACTIONS),
}

# Pages and what they need (see web/routes).
CAN_READ = frozenset(R)  # every signed-in role reads claims, lists and the dashboard
CAN_OPEN_CLAIMS = frozenset({R.AGENT, R.SUPERVISOR, R.ADMIN})
CAN_WORK_ESCALATIONS = frozenset({R.SUPERVISOR, R.ADMIN})
CAN_MANAGE_USERS = frozenset({R.ADMIN})
CAN_READ_MAIL = frozenset({R.SUPERVISOR, R.AUDITOR, R.ADMIN})  # the mailbox: what claimflow e-mailed

# The users a notification for a role goes to (those enabled, with an e-mail address; the
# notify activity). A customer's, or a department's, goes only to the addresses it carries.
USERS_NOTIFIED: dict[str, UserRole] = {Role.AGENT: R.AGENT, Role.SUPERVISOR: R.SUPERVISOR, Role.MANAGER: R.ADMIN}


def may_act(role: UserRole, action: str) -> bool:
    return action in ACTIONS_OF[role]


def allowed_for(role: UserRole, actions: list[str]) -> list[str]:
    """Of the actions a claim allows now, those this role may take."""
    return [a for a in actions if may_act(role, a)]


# Complaint actions (models/complaint.py): an agent records the reply and the customer's
# word on it; a supervisor also routes the complaint elsewhere, takes an escalation in
# hand, and closes or cancels it. A table of its own: "acknowledge_escalation" is also a
# claim action, which agents may take.
COMPLAINT_SUPERVISOR_ACTIONS = frozenset({"reassign", "acknowledge_escalation", "close_complaint", "cancel_complaint"})
COMPLAINT_ACTIONS_OF: dict[UserRole, frozenset[str]] = {
    R.AGENT: frozenset(COMPLAINT_ACTIONS) - COMPLAINT_SUPERVISOR_ACTIONS,
    R.SUPERVISOR: frozenset(COMPLAINT_ACTIONS),
    R.AUDITOR: frozenset(),
    R.ADMIN: frozenset(COMPLAINT_ACTIONS),
}
CAN_OPEN_COMPLAINTS = frozenset({R.AGENT, R.SUPERVISOR, R.ADMIN})  # take a call, letter, visit or e-mail in


def may_act_on_complaint(role: UserRole, action: str) -> bool:
    return action in COMPLAINT_ACTIONS_OF[role]


def complaint_actions_for(role: UserRole, actions: list[str]) -> list[str]:
    """Of the actions a complaint allows now, those this role may take."""
    return [a for a in actions if may_act_on_complaint(role, a)]
