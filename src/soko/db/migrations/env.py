"""Alembic environment: runs on the connection that `soko.db.schema.upgrade` hands it."""

from __future__ import annotations

from alembic import context

from soko.db.metadata import metadata
from soko.features import modules

modules("tables")  # every feature's tables join the one metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
