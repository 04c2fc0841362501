"""Workflow type names, shared by the workflows, the worker and the clients."""

CLAIM = "Claim"  # the claim engine with the deadline table (workflows/claim.py)
CLAIM_V1 = "ClaimWorkflow"  # the first engine, frozen (workflows/claim_v1.py)
CLAIM_TYPES = (CLAIM, CLAIM_V1)


def claim_types_query() -> str:
    """A visibility query matching every claim, of either engine."""
    return "WorkflowType IN (" + ", ".join(f'"{name}"' for name in CLAIM_TYPES) + ")"

# Activities, referenced by name so that workflow code never imports their implementations.
NOTIFY = "notify"
PROJECT_CLAIM = "project_claim"

COMPLAINT = "Complaint"  # one complaint, from intake to closing (workflows/complaint.py)
PROJECT_COMPLAINT = "project_complaint"
