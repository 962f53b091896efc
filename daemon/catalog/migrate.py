"""Bringing a database's schema to the version this code expects.

Several `alice` processes may start at once against one server (several
machines sharing a catalog, or `alice run` next to `alice events`), so the
upgrade runs under a PostgreSQL advisory lock: the first one migrates, the
others wait and then find nothing to do.

Every command opens the catalog, and importing alembic (with mako and pygments
behind it) costs more than the rest of a short command's start-up. A database
already at HEAD is recognised by one SELECT, and alembic is imported only when
there is something to migrate; tests/test_catalog_migrations.py checks that
HEAD is alembic's head.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import ProgrammingError

from alice.daemon.catalog.errors import CatalogSchemaError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision under migrations/versions/; a new migration changes it too.
HEAD = "0013"

SCRIPT_LOCATION = "alice.daemon.catalog:migrations"
# Any constant works as long as every alice process uses the same one; this is
# "alice" in ASCII, unlikely to collide with another application's lock.
MIGRATION_LOCK_KEY = 0x616C696365


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The head as alembic reads it from the migration scripts (imports alembic)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations package has no revisions"
    return head


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def at_head(engine: Engine) -> bool:
    """Whether the database is at HEAD already (one SELECT, no alembic)."""
    with engine.connect() as conn:
        try:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except ProgrammingError:        # no alembic_version table: a new database
            return False
    return rows == [HEAD]


def upgrade(engine: Engine) -> str:
    """Apply every pending migration; return the revision the database is at."""
    if at_head(engine):
        return HEAD
    from alembic import command
    from alembic.script import ScriptDirectory

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
