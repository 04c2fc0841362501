"""The pages, one module each; ROUTERS is what the app includes."""

from web.routes import (
    audit,
    auth,
    claim_page,
    claims_list,
    codec,
    complaints,
    customer,
    dashboard,
    escalations,
    mailbox,
    new_claim,
    users,
)

ROUTERS = [
    auth.router,
    claims_list.router,
    new_claim.router,
    claim_page.router,
    escalations.router,
    dashboard.router,
    customer.router,
    users.router,
    audit.router,
    mailbox.router,
    complaints.router,
    codec.router,
]
