"""The agent web UI: FastAPI + Jinja2 + htmx (vendored), a thin client of the claim workflows.

Actions go to the workflow as the same updates the CLI sends (claimflow.claims.act); lists
and counts come from the read model; a claim's live state from the workflow's `view` query.
`create_app` builds the app; `claims up` serves it beside the dev server and the worker,
`claims web` alone (for a cluster).
"""
