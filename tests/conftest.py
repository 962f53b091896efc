"""Shared fixtures: a real PostgreSQL server, and a fresh database per test.

With ALICE_TEST_DATABASE_URL set (e.g. postgresql://postgres@127.0.0.1:5432/postgres)
tests use that server; otherwise one embedded pgserver per test session, in a
temporary directory. Either way each test gets its own database, so tests do
not see each other's rows and can run against a server other people use.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from alice.daemon.catalog.embedded import EmbeddedServer
from alice.daemon.catalog.engine import Catalog

TEST_DB_ENV = "ALICE_TEST_DATABASE_URL"


def libpq_url(url: str) -> str:
    """A URL psycopg (libpq) accepts: no '+driver' part."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a maintenance database on the session's PostgreSQL server."""
    external = os.environ.get(TEST_DB_ENV, "").strip()
    if external:
        yield libpq_url(external)
        return
    root = Path(tempfile.mkdtemp(prefix="alice-test-pg-"))
    server = EmbeddedServer.attach(root / "pg")
    try:
        yield libpq_url(server.url("postgres").render_as_string(hide_password=False))
    finally:
        server.detach()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def db_url(pg_admin_url: str) -> Iterator[str]:
    """A freshly created, empty database (postgresql://...), dropped after the test."""
    yield from fresh_database(pg_admin_url)


def fresh_database(pg_admin_url: str) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it (for a fixture that needs one)."""
    name = f"alice_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def catalog(db_url: str, tmp_path: Path) -> Iterator[Catalog]:
    """A migrated catalog on the test's own database."""
    cat = Catalog.open(db_url, tmp_path)
    try:
        yield cat
    finally:
        cat.close()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked anyio) run on asyncio, the loop alice's providers use."""
    return "asyncio"
