"""alembic's environment: the store hands over an open connection; nothing is read from
an alembic.ini, so the same migrations run from the service and from `alembic` alike."""

from __future__ import annotations

from alembic import context

from orchestrator.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through orchestrator.store.Store (it passes the connection)")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
