"""Alembic environment. Run through :func:`steller_server.db.migrate.upgrade`, which passes an open
sync connection in ``config.attributes["connection"]``; there is no alembic.ini."""

from __future__ import annotations

from alembic import context

from steller_server.db.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("run migrations through steller_server.db.migrate.upgrade()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
