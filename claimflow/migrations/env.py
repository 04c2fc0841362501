"""Alembic environment: runs on the connection claimflow.db.migrate hands it."""

from alembic import context

import models.read_model  # noqa: F401  (registers the tables)
from sqlmodel import SQLModel

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
