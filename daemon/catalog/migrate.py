"""Bringing a database's schema to the version this code expects.

Several `alice` processes may start at once against one server (several
machines sharing a catalog, or `alice run` next to `alice events`), so the
upgrade runs under a PostgreSQL advisory lock: the first one migrates, the
others wait and then find nothing to do.
"""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from alice.daemon.catalog.errors import CatalogSchemaError

SCRIPT_LOCATION = "alice.daemon.catalog:migrations"
# Any constant works as long as every alice process uses the same one; this is
# "alice" in ASCII, unlikely to collide with another application's lock.
MIGRATION_LOCK_KEY = 0x616C696365


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations package has no revisions"
    return head


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; return the revision the database is at."""
    head = head_revision()
    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        try:
            conn.commit()
            current = current_revision(conn)
            conn.commit()
            if current is not None and current not in known:
                raise CatalogSchemaError(
                    f"the catalog database is at schema revision {current!r}, which this version of "
                    f"alice does not know (newest known: {head!r}); it was probably written by a newer "
                    "alice. Upgrade alice on this machine, or point database.url at another database."
                )
            if current != head:
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
            current = current_revision(conn)
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.commit()
    if current != head:
        raise CatalogSchemaError(
            f"after migrating, the catalog is at revision {current!r} instead of {head!r}; "
            "check the PostgreSQL log for a failed migration"
        )
    return current
