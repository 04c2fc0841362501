"""Exceptions the CLI reports as one line, in a module that imports nothing heavy (every
`claims` command loads it; SQLAlchemy only those that use the database)."""


class DatabaseUnusable(Exception):
    """DATABASE_URL is malformed or the database cannot be reached; the message says which."""
