"""Alembic's environment for the warehouse: the caller hands over its connection.

SQLite cannot alter a table in place, so revisions run in batch mode there (Alembic
copies the table); the views are dropped before an upgrade and re-created after it,
since SQLite refuses to copy a table that a view uses.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
