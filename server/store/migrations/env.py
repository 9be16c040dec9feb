"""Alembic environment: always run programmatically with a connection in ``attributes``.

``serialtrace server migrate`` (and the server at start) call :func:`server.store.migrate.upgrade`,
which passes its own connection; there is no alembic.ini and no URL in here.
"""

from __future__ import annotations

from alembic import context

from server.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - misuse, not a runtime path
    raise RuntimeError("run migrations through server.store.migrate, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
