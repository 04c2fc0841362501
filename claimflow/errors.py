"""Exceptions the CLI reports as one line, in a module that imports nothing heavy (every
`claims` command loads it; SQLAlchemy only those that use the database)."""


class DatabaseUnusable(Exception):
    """DATABASE_URL is malformed or the database cannot be reached; the message says which."""


class ClaimError(Exception):
    """A request about a claim that cannot be carried out; the message says why.
    (Here rather than in claimflow.claims, which imports temporalio, so that commands
    that never talk to Temporal can report it; claimflow.claims exports it too.)"""


class TemporalUnreachable(Exception):
    """Temporal cannot be reached at the configured address; the message says why in one line.
    (Exported by claimflow.temporal too.)"""
