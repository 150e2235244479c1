"""Alembic environment: runs against the engine guard passes in (never a URL from a file)."""

from alembic import context
from sqlmodel import SQLModel

import guard.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
