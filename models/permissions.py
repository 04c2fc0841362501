"""What each role may do: one table, used by the web UI on every route (and by its tests).

Pure: no I/O. The workflow does not know roles; the web UI checks them before it sends an
update, and the signed-in user is the update's `by`.
"""

from models.actions import ACTIONS
from models.enums import UserRole

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


def may_act(role: UserRole, action: str) -> bool:
    return action in ACTIONS_OF[role]


def allowed_for(role: UserRole, actions: list[str]) -> list[str]:
    """Of the actions a claim allows now, those this role may take."""
    return [a for a in actions if may_act(role, a)]
