"""Connection trouble: dropped connections, an unreachable server, stopping while waiting."""
from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import create_engine, text

from alice.daemon.catalog.engine import Catalog, is_disconnect
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.ingest import queue


def kill_connections(db_url: str) -> int:
    """What a PostgreSQL restart does to the catalog's pooled connections."""
    with psycopg.connect(db_url, autocommit=True) as admin:
        return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]


def test_pooled_connections_killed_by_a_restart_are_replaced_transparently(catalog: Catalog, db_url: str) -> None:
    with catalog.session() as s:
        queue.enqueue(s, "/in/a.png", "/in", 1, 1.0)
    assert kill_connections(db_url) >= 1
    [job] = queue.claim(catalog.engine, "w1", 60)             # pre-ping noticed and reconnected
    assert job.path == "/in/a.png"


def test_a_connection_lost_mid_transaction_is_catalog_unavailable(catalog: Catalog, db_url: str) -> None:
    with pytest.raises(CatalogUnavailable, match="lost the connection"):
        with catalog.session() as s:
            s.execute(text("SELECT 1"))
            kill_connections(db_url)
            s.execute(text("SELECT 1"))
    with catalog.session() as s:                              # and the next unit of work is fine
        assert queue.depth(s)["queued"] == 0


def test_statement_errors_are_not_mistaken_for_an_outage(catalog: Catalog) -> None:
    from sqlalchemy.exc import ProgrammingError

    with pytest.raises(ProgrammingError) as err:
        with catalog.session() as s:
            s.execute(text("SELECT no_such_column FROM jobs"))
    assert not is_disconnect(err.value)


def test_wait_available_gives_up_after_the_timeout_or_when_asked_to_stop() -> None:
    engine = create_engine("postgresql+psycopg://alice@127.0.0.1:1/alice", connect_args={"connect_timeout": 2})
    cat = Catalog(engine=engine, display_url="postgresql+psycopg://alice@127.0.0.1:1/alice", embedded=False)
    t = time.monotonic()
    with pytest.raises(CatalogUnavailable, match="127.0.0.1:1"):
        cat.wait_available(timeout=1.0)
    assert time.monotonic() - t < 5
    t = time.monotonic()
    assert cat.wait_available(timeout=60, should_stop=lambda: True) is False
    assert time.monotonic() - t < 5
    cat.close()
