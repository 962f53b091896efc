"""Opening the catalog: which server, which connection pool, which schema.

`Catalog.open(url, data_dir)` uses the PostgreSQL server at `url` (how
several machines share one catalog) or, when `url` is empty, the embedded
server in `data_dir/pg`, shared by every alice process on this machine.
Either way the schema is migrated to head before the catalog is returned.
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from alice.daemon.catalog.embedded import EmbeddedServer
from alice.daemon.catalog.errors import CatalogConfigError, CatalogUnavailable
from alice.daemon.catalog.migrate import upgrade

EMBEDDED_DATABASE = "alice"
# SQLSTATEs meaning "the server went away or is not accepting connections yet".
_DISCONNECT_STATES = ("08", "57P01", "57P02", "57P03")


def normalize_url(url: str) -> URL:
    """Parse a user's database.url and pin the psycopg 3 driver."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError as e:
        raise CatalogConfigError(
            f"database.url {url!r} is not a URL; expected e.g. postgresql://user:password@host:5432/alice"
        ) from e
    backend = parsed.get_backend_name()
    if backend not in ("postgresql", "postgres"):
        raise CatalogConfigError(
            f"database.url must point at PostgreSQL (postgresql://...), not {backend!r}"
        )
    return parsed.set(drivername="postgresql+psycopg")


def is_disconnect(exc: BaseException) -> bool:
    """True when `exc` means the server is unreachable, not that the statement was wrong."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if exc.orig is None:
            return False
        exc = exc.orig
    if isinstance(exc, psycopg.OperationalError):
        state = getattr(exc, "sqlstate", None)
        return state is None or state.startswith(_DISCONNECT_STATES)
    return isinstance(exc, psycopg.InterfaceError)


@contextmanager
def unavailable_on_disconnect(display_url: str) -> Iterator[None]:
    """Turn a lost connection into CatalogUnavailable, which callers treat as "pause and retry"."""
    try:
        yield
    except DBAPIError as e:
        if is_disconnect(e):
            raise CatalogUnavailable(
                f"lost the connection to the catalog at {display_url}: {e.orig}. "
                "Is the PostgreSQL server running?"
            ) from e
        raise


@dataclass
class Catalog:
    engine: Engine
    display_url: str
    embedded: bool
    server: EmbeddedServer | None = None
    _sessions: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # expire_on_commit=False: rows read in a session stay readable after
        # it commits, which is when the organizer logs them.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None, data_dir: Path, *, pool_size: int = 5,
             application_name: str = "alice") -> Catalog:
        server = None
        if url and url.strip():
            sa_url = normalize_url(url)
        else:
            server = EmbeddedServer.attach(Path(data_dir) / "pg")
            try:
                server.ensure_database(EMBEDDED_DATABASE)
            except psycopg.Error as e:
                server.detach()
                raise CatalogUnavailable(
                    f"the embedded PostgreSQL server in {server.pgdata} runs but refuses connections: {e}"
                ) from e
            sa_url = server.url(EMBEDDED_DATABASE)
        engine = create_engine(
            sa_url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=pool_size,
            # The name shows in pg_stat_activity: `alice status` finds running daemons by it.
            connect_args={"connect_timeout": 10, "application_name": application_name[:63]},
        )
        catalog = cls(engine=engine, display_url=sa_url.render_as_string(hide_password=True),
                      embedded=server is not None, server=server)
        try:
            catalog.ping()
            with unavailable_on_disconnect(catalog.display_url):
                upgrade(engine)
        except BaseException:
            catalog.close()
            raise
        return catalog

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed if the block succeeds, rolled back if it raises."""
        with unavailable_on_disconnect(self.display_url), self._sessions() as s:
            with s.begin():
                yield s

    def ping(self) -> None:
        """Raise CatalogUnavailable, with what to check, if the server cannot be reached."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as e:
            where = (f"the embedded server in {self.server.pgdata} (is data_dir readable and writable?)"
                     if self.server else f"{self.display_url} (is the server running? are host, port, "
                     "user, password and database name in database.url right?)")
            raise CatalogUnavailable(f"cannot reach the catalog at {where}: {e.orig}") from e

    def wait_available(self, timeout: float | None = None,
                       should_stop: Callable[[], bool] = lambda: False,
                       max_delay: float = 30.0) -> bool:
        """Block until the catalog answers; restart the embedded server if it died.

        Returns False if `should_stop()` turned true first; raises CatalogUnavailable
        once `timeout` seconds pass without an answer.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.5
        while True:
            try:
                if self.server is not None:
                    self.server.ensure_running()
                self.ping()
                return True
            except CatalogUnavailable:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
            if should_stop():
                return False
            pause = random.uniform(delay / 2, delay)
            if deadline is not None:
                pause = max(0.0, min(pause, deadline - time.monotonic()))
            _sleep(pause, should_stop)
            delay = min(delay * 2, max_delay)

    def close(self) -> None:
        self.engine.dispose()
        if self.server is not None:
            self.server.detach()
            self.server = None


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    # Sleep in slices so a daemon asked to stop does not wait out a long backoff.
    end = time.monotonic() + seconds
    event = threading.Event()
    while not should_stop() and (left := end - time.monotonic()) > 0:
        event.wait(min(left, 0.25))
