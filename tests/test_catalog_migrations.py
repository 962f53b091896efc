"""Schema migrations: from an empty database, concurrently, and against the models."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from alice.daemon.catalog.engine import Catalog, normalize_url
from alice.daemon.catalog.errors import CatalogConfigError, CatalogSchemaError, CatalogUnavailable
from alice.daemon.catalog.migrate import HEAD, alembic_config, head_revision
from alice.daemon.catalog.models import Base

TABLES = {"projects", "assets", "generations", "tags", "asset_tags", "locations", "events", "jobs"}


def test_open_migrates_an_empty_database_to_head(db_url: str, tmp_path: Path) -> None:
    cat = Catalog.open(db_url, tmp_path)
    try:
        assert not cat.embedded
        names = set(inspect(cat.engine).get_table_names())
        assert TABLES <= names
        with cat.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    finally:
        cat.close()


def test_models_and_migrated_schema_do_not_differ(catalog: Catalog) -> None:
    with catalog.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_reopening_is_a_no_op_and_keeps_data(db_url: str, tmp_path: Path) -> None:
    cat = Catalog.open(db_url, tmp_path)
    with cat.session() as s:
        s.execute(text("INSERT INTO projects (name) VALUES ('kept')"))
    cat.close()
    cat = Catalog.open(db_url, tmp_path)
    try:
        with cat.session() as s:
            assert s.execute(text("SELECT name FROM projects")).scalars().all() == ["kept"]
    finally:
        cat.close()


def test_concurrent_first_opens_migrate_once(db_url: str, tmp_path: Path) -> None:
    barrier = threading.Barrier(4)
    results: list[object] = []

    def opener() -> None:
        barrier.wait()
        try:
            cat = Catalog.open(db_url, tmp_path)
            cat.close()
            results.append("ok")
        except Exception as e:          # collected, asserted below
            results.append(e)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == ["ok"] * 4
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]


def test_head_constant_is_alembics_head() -> None:
    # A new migration must move HEAD too, or every command would migrate at each start.
    assert HEAD == head_revision()


def test_opening_a_catalog_at_head_does_not_import_alembic(db_url: str, tmp_path: Path) -> None:
    Catalog.open(db_url, tmp_path).close()          # migrated here, in the test process
    code = ("import sys; from pathlib import Path; from alice.daemon.catalog.engine import Catalog; "
            f"Catalog.open({db_url!r}, Path({str(tmp_path)!r})).close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako', 'pygments')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_downgrade_to_base_and_upgrade_again(catalog: Catalog) -> None:
    with catalog.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "base")
        conn.commit()
        assert not TABLES & set(inspect(conn).get_table_names())
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
        assert TABLES <= set(inspect(conn).get_table_names())


def test_unknown_revision_is_a_schema_error(db_url: str, tmp_path: Path) -> None:
    Catalog.open(db_url, tmp_path).close()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    with pytest.raises(CatalogSchemaError, match="9999_from_the_future.*newer"):
        Catalog.open(db_url, tmp_path)


def test_unreachable_server_says_what_to_check_and_hides_the_password(tmp_path: Path) -> None:
    with pytest.raises(CatalogUnavailable) as err:
        Catalog.open("postgresql://alice:hunter2@127.0.0.1:1/alice", tmp_path)
    message = str(err.value)
    assert "127.0.0.1:1" in message and "running" in message
    assert "hunter2" not in message


@pytest.mark.parametrize("url", ["sqlite:///x.db", "mysql://h/db", "::not a url::"])
def test_non_postgresql_urls_are_config_errors(url: str, tmp_path: Path) -> None:
    with pytest.raises(CatalogConfigError):
        Catalog.open(url, tmp_path)


def test_url_forms_are_pinned_to_psycopg3() -> None:
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg"
