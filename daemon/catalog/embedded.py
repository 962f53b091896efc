"""The embedded PostgreSQL server used when no database.url is configured.

pgserver supplies the binaries, initdb and pg_ctl. Its own lifetime
handling is not enough for a daemon: it caches one handle per process, so a
second attach after a detach never re-registers the process, and its pid
list keeps the pids of processes that were killed. So the server is started
with pgserver's cleanup disabled and alice keeps its own register of live
users beside the data directory:

- `data_dir/pg.handles.json` lists (pid, process start time) of every process
  using the server; entries whose process is gone are dropped on every read,
  and the start time stops a reused pid from counting as alive.
- `data_dir/pg.lock` (an inter-process file lock) serialises attach, detach
  and start/stop, so a process never stops the server while another is
  starting to use it.

The server stops when the last attached process detaches (or exits), and is
started again, on the same data, by the next one.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import fasteners
import psutil
import psycopg
from sqlalchemy import URL

from alice.daemon.catalog.errors import CatalogUnavailable

if TYPE_CHECKING:   # pgserver is imported lazily: an external-URL setup never needs it
    from pgserver import PostgresServer
    from pgserver.utils import PostmasterInfo

_thread_lock = threading.RLock()
_refs: dict[Path, EmbeddedServer] = {}


def _identity(pid: int) -> tuple[int, float] | None:
    try:
        return pid, round(psutil.Process(pid).create_time(), 2)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _alive(entry: list) -> bool:
    pid, started = entry
    ident = _identity(int(pid))
    return ident is not None and ident[1] == started


class EmbeddedServer:
    """One process's share of the PostgreSQL server in `pgdata`."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata
        self.handles_path = pgdata.parent / "pg.handles.json"
        self._file_lock = fasteners.InterProcessLock(str(pgdata.parent / "pg.lock"))
        self._count = 0
        self._server: PostgresServer | None = None

    @classmethod
    def attach(cls, pgdata: Path) -> EmbeddedServer:
        """Start the server if nobody runs it, and register this process as a user."""
        pgdata = pgdata.expanduser().absolute()
        try:
            pgdata.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CatalogUnavailable(
                f"cannot create the embedded PostgreSQL directory {pgdata}: {e.strerror}. "
                "Check that data_dir exists and is writable by this user, or set database.url "
                "to use an external PostgreSQL server."
            ) from e
        with _thread_lock:
            server = _refs.get(pgdata)
            if server is None:
                server = _refs[pgdata] = cls(pgdata)
            try:
                with server._locked():
                    server._start()
                    if server._count == 0:
                        server._register()
                    server._count += 1
            finally:
                if server._count == 0:
                    _refs.pop(pgdata, None)
            return server

    def detach(self) -> None:
        """Drop this process's share; stop the server if no live process uses it any more."""
        with _thread_lock:
            if self._count == 0:
                return
            self._count -= 1
            if self._count > 0:
                return
            _refs.pop(self.pgdata, None)
            with self._locked():
                remaining = self._unregister()
                if not remaining:
                    self._stop()

    def ensure_running(self) -> None:
        """Start the server again if it died under us (crash, OOM killer, manual stop)."""
        with _thread_lock, self._locked():
            self._start()

    def url(self, database: str) -> URL:
        # Read fresh: another process may have restarted the server since we attached.
        info = self._info()
        if info is None:
            if self._server is None:
                raise CatalogUnavailable(f"the embedded PostgreSQL in {self.pgdata} is not started")
            info = self._server.get_postmaster_info()
        if info.socket_dir is not None:
            return URL.create("postgresql+psycopg", username="postgres", database=database,
                              query={"host": str(info.socket_dir)})
        return URL.create("postgresql+psycopg", username="postgres", host=info.hostname,
                          port=info.port, database=database)

    def ensure_database(self, name: str) -> None:
        """CREATE DATABASE `name` unless it exists.

        Under the file lock: two processes creating it at once would otherwise
        collide on the catalog's unique index (a UniqueViolation, not the
        DuplicateDatabase one might expect).
        """
        url = self.url("postgres").set(drivername="postgresql").render_as_string(hide_password=False)
        with _thread_lock, self._locked(), psycopg.connect(url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return
            try:
                conn.execute(f'CREATE DATABASE "{name}"')
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass

    # -- internals, all called with the file lock held --

    def _locked(self) -> fasteners.InterProcessLock:
        return self._file_lock

    def _info(self) -> PostmasterInfo | None:
        from pgserver.utils import PostmasterInfo

        try:
            return PostmasterInfo.read_from_pgdata(self.pgdata)
        except (OSError, ValueError, AssertionError):
            return None      # half-written pid file: treat as not running, pgserver looks again

    def _running(self) -> bool:
        info = self._info()
        if info is None or not info.is_running() or info.status != "ready":
            return False
        process = info.process
        if process is None:
            return False
        try:
            return "postgres" in process.name()
        except psutil.Error:
            return False

    def _start(self) -> None:
        with warnings.catch_warnings():
            # pgserver looks up a runtime folder it does not use here (we give it data_dir), and
            # platformdirs warns about XDG_RUNTIME_DIR on every command of a user without one.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
            from pgserver import PostgresServer

        if self._server is not None and self._running():
            return
        self._clear_stale_pidfile()
        try:
            # cleanup_mode=None: pgserver must never stop the server by itself;
            # only detach() does, after consulting the live-handle register.
            self._server = PostgresServer(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            log = self.pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise CatalogUnavailable(
                f"the embedded PostgreSQL server in {self.pgdata} did not start ({e}). "
                f"Check free disk space and permissions of data_dir. Server log {log}:\n{tail}"
            ) from e
        except OSError as e:
            raise CatalogUnavailable(
                f"cannot prepare the embedded PostgreSQL server in {self.pgdata}: {e}. "
                "Check that data_dir is writable by this user."
            ) from e

    def _clear_stale_pidfile(self) -> None:
        # After a power loss postmaster.pid survives, and at boot its pid may
        # belong to an unrelated process; pgserver would then believe the
        # server runs and never start it. A pid that is not a postgres
        # process cannot be our server, so the file is stale.
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        try:
            name = psutil.Process(pid).name()
        except psutil.NoSuchProcess:
            return   # pgserver and postgres handle a dead pid themselves
        except psutil.AccessDenied:
            return
        if "postgres" not in name:
            pidfile.unlink(missing_ok=True)

    def _stop(self) -> None:
        from pgserver import pg_ctl  # type: ignore[attr-defined]  # exported at runtime, not in its stubs

        if self._server is None or not self._running():
            return
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass   # already stopped by someone else, or it will finish stopping on its own

    def _read_handles(self) -> list[list]:
        try:
            entries = json.loads(self.handles_path.read_text())
        except (OSError, ValueError):
            return []
        return [e for e in entries if isinstance(e, list) and len(e) == 2 and _alive(e)]

    def _write_handles(self, entries: list[list]) -> None:
        tmp = self.handles_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, self.handles_path)

    def _register(self) -> None:
        me = list(_identity(os.getpid()) or (os.getpid(), 0.0))
        entries = [e for e in self._read_handles() if e[0] != me[0]]
        self._write_handles(entries + [me])

    def _unregister(self) -> list[list]:
        entries = [e for e in self._read_handles() if e[0] != os.getpid()]
        self._write_handles(entries)
        return entries

    @property
    def users(self) -> list[int]:
        """Pids of the live processes attached to this server."""
        with self._locked():
            return [e[0] for e in self._read_handles()]


@atexit.register
def _detach_all() -> None:
    for server in list(_refs.values()):
        server._count = min(server._count, 1)
        server.detach()
