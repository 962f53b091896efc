"""Alembic environment: always run from Catalog.open with a live connection.

daemon/catalog/migrate.py passes the connection in `config.attributes`, so
there is no alembic.ini and no URL here; migrations run inside the
caller's advisory lock.
"""
from __future__ import annotations

from alembic import context

from alice.daemon.catalog.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "alice migrations run through alice.daemon.catalog.migrate.upgrade(), "
        "which supplies the database connection; the alembic CLI is not wired up"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    compare_type=True,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
