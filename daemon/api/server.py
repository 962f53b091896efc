"""The socket server `alice run` hosts: JSON-RPC 2.0 over a Unix socket, in its own thread.

    server = RpcServer(cfg, catalog, Hooks(status=daemon.status, scan=daemon.scan_now))
    server.start()      # False (and a log line) if another live daemon serves the socket
    ...
    server.stop()

The socket lives in a 0700 folder and is itself 0600: only the user who runs
alice can talk to it. A stale socket file (a daemon that crashed) is replaced;
a live one (another daemon answers) is left alone and this server does not
start. Nothing a client sends can hurt the daemon: lines are capped at
protocol.MAX_MESSAGE, idle connections are closed after idle_timeout, a client
that does not read its answers is dropped after write_timeout, connections
beyond max_connections are refused with a BUSY error, and handlers run on a
small thread pool so at most `workers` database calls run at once.
"""
from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import structlog

from alice.daemon.api import protocol as p
from alice.daemon.api.methods import EVENT_NOTIFICATION, REGISTRY, Hooks, RpcContext, error_for
from alice.daemon.api.paths import PathGuard
from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.events import event_json, follow_events
from alice.daemon.config import Config

log = structlog.get_logger("alice.rpc")

SUBSCRIBER_QUEUE = 1000         # events buffered per subscriber before it is dropped as too slow
REPLAY_LIMIT = 1000             # events replayed for events.subscribe(since=...)


class SocketInUse(RuntimeError):
    """Another live process serves the socket path."""


class _Connection:
    def __init__(self, writer: asyncio.StreamWriter):
        self.writer = writer
        self.events: asyncio.Queue[dict[str, Any]] | None = None
        self.after = 0                      # highest event id already delivered
        self.pusher: asyncio.Task[None] | None = None


class RpcServer:
    def __init__(self, cfg: Config, catalog: Catalog, hooks: Hooks | None = None, *,
                 socket_path: Path | None = None, max_connections: int = 256, idle_timeout: float = 300.0,
                 write_timeout: float = 30.0, workers: int = 4):
        self.cfg = cfg
        self.path = Path(socket_path or cfg.socket)
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.write_timeout = write_timeout
        self.ctx = RpcContext(cfg=cfg, catalog=catalog, hooks=hooks or Hooks(), guard=PathGuard(cfg.roots()),
                              server_info=self.info)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alice-rpc")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = threading.Event()
        self._feed: threading.Thread | None = None
        self._inode: tuple[int, int] | None = None
        self.requests = 0
        self.started_at: float | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> bool:
        """Serve in a background thread. False if another daemon serves the socket or it cannot be bound."""
        try:
            prepare_socket_path(self.path)
        except SocketInUse as exc:
            log.warning("not serving the socket API", reason=str(exc))
            return False
        except OSError as exc:
            log.error("cannot prepare the socket", path=str(self.path), error=str(exc))
            return False
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_unix_server(
                    self._serve, path=str(self.path), limit=p.MAX_MESSAGE + 1, backlog=512))
                os.chmod(self.path, 0o600)
                st = os.stat(self.path)
                self._inode = (st.st_dev, st.st_ino)
            except BaseException as exc:       # reported to start() below
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name="alice-rpc-server", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        if failure or not ready.is_set():
            log.error("cannot serve the socket API", path=str(self.path),
                      error=str(failure[0]) if failure else "timed out")
            return False
        self.started_at = time.time()
        log.info("socket API listening", path=str(self.path))
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._feed is not None:
            self._feed.join(timeout)
        self._unlink_own_socket()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Closing the transports ends each connection's read loop by itself; cancelling a
        # connection task instead makes asyncio (3.11) log a spurious error for it.
        for conn in list(self._connections):
            conn.writer.close()
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2)
            for task in pending:
                task.cancel()        # event pushers wait on their queue; nothing else should be left
            if pending:
                await asyncio.wait(pending, timeout=1)

    def _unlink_own_socket(self) -> None:
        # Only our own socket: a newer daemon may have replaced it since.
        try:
            st = os.stat(self.path)
            if (st.st_dev, st.st_ino) == self._inode:
                self.path.unlink()
        except FileNotFoundError:
            pass

    def info(self) -> dict[str, Any]:
        return {"socket": str(self.path), "connections": len(self._connections),
                "subscribers": sum(1 for c in self._connections if c.events is not None),
                "requests": self.requests, "started_at": self.started_at}

    # -- one connection -------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _Connection(writer)
        try:
            if len(self._connections) >= self.max_connections:
                await self._send(conn, p.error_message(None, p.RpcError(
                    p.BUSY, f"too many connections ({self.max_connections}); close idle ones and retry")))
                return
            self._connections.add(conn)
            await self._read_loop(conn, reader)
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(conn)
            if conn.pusher is not None:
                conn.pusher.cancel()
            writer.close()
            self._tasks.discard(task)

    async def _read_loop(self, conn: _Connection, reader: asyncio.StreamReader) -> None:
        while not self._stopping.is_set():
            # A subscriber may stay silent for as long as it likes: it is waiting for events.
            timeout = None if conn.events is not None else self.idle_timeout
            try:
                line = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
            except asyncio.IncompleteReadError as exc:
                # The client closed its sending side: answer a last unterminated request, then finish.
                if exc.partial.strip():
                    await self._handle_line(conn, exc.partial)
                return
            except asyncio.LimitOverrunError:
                await self._send(conn, p.error_message(None, p.RpcError(
                    p.INVALID_REQUEST, f"message longer than {p.MAX_MESSAGE:,} bytes; the connection is closed")))
                return
            except TimeoutError:
                return
            if line.strip():
                await self._handle_line(conn, line)

    async def _handle_line(self, conn: _Connection, line: bytes) -> None:
        self.requests += 1
        rid = None
        try:
            req = p.parse_request(line)
            rid = req.id
            method = REGISTRY.get(req.method)
            method.validate(req.params)
            if method.name == "events.subscribe":
                result: Any = await self._subscribe(conn, req.params.get("since"))
            elif method.name == "events.unsubscribe":
                result = self._unsubscribe(conn)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._pool, self._call, method, req.params)
            if req.is_notification:
                return
            await self._send(conn, p.result_message(rid, result))
        except p.RpcError as err:
            if isinstance(err.data, dict) and "id" in err.data and len(err.data) == 1:
                rid, err.data = err.data["id"], None
            await self._send(conn, p.error_message(rid, err))
        except (TimeoutError, ConnectionError):
            raise                           # the connection itself failed: _serve closes it
        except Exception as exc:            # e.g. the catalog went away during events.subscribe
            failure = error_for(exc)
            if failure.code == p.INTERNAL_ERROR:
                log.exception("rpc request failed")
            await self._send(conn, p.error_message(rid, failure))

    def _call(self, method: Any, params: dict[str, Any]) -> Any:
        try:
            return self.ctx.guard.scrub(method.handler(self.ctx, **params))
        except Exception as exc:
            err = error_for(exc)
            if err.code == p.INTERNAL_ERROR:
                log.exception("rpc handler failed", method=method.name)
            raise err from exc

    async def _send(self, conn: _Connection, message: dict[str, Any]) -> None:
        conn.writer.write(p.encode(message))
        await asyncio.wait_for(conn.writer.drain(), self.write_timeout)

    # -- events ---------------------------------------------------------------------------
    async def _subscribe(self, conn: _Connection, since: int | None) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        replay, last = await loop.run_in_executor(self._pool, self._events_after, since)
        if conn.events is None:
            conn.events = asyncio.Queue(SUBSCRIBER_QUEUE)
            conn.pusher = asyncio.create_task(self._push(conn))
            self._tasks.add(conn.pusher)
            conn.pusher.add_done_callback(self._tasks.discard)
        conn.after = max(conn.after, last)
        for ev in replay:
            conn.events.put_nowait(ev)
        self._ensure_feed()
        return {"subscribed": True, "last_event_id": last}

    def _unsubscribe(self, conn: _Connection) -> dict[str, Any]:
        if conn.pusher is not None:
            conn.pusher.cancel()
        conn.events, conn.pusher = None, None
        return {"subscribed": False}

    def _events_after(self, since: int | None) -> tuple[list[dict[str, Any]], int]:
        with self.ctx.catalog.session() as s:
            last = store.last_event_id(s)
            rows = store.events_since(s, since, REPLAY_LIMIT) if since is not None else []
        replay = [self.ctx.guard.scrub(event_json(ev)) for ev in rows]
        return replay, max([last, *(ev["id"] for ev in replay)])

    async def _push(self, conn: _Connection) -> None:
        assert conn.events is not None
        queue = conn.events
        try:
            while True:
                ev = await queue.get()
                await self._send(conn, p.notification(EVENT_NOTIFICATION, ev))
        except (TimeoutError, ConnectionError, OSError):
            conn.writer.close()

    def _ensure_feed(self) -> None:
        if self._feed is None or not self._feed.is_alive():
            self._feed = threading.Thread(target=self._follow, name="alice-rpc-events", daemon=True)
            self._feed.start()

    def _follow(self) -> None:
        """One LISTEN connection for every subscriber; restarts after a lost catalog."""
        while not self._stopping.is_set():
            try:
                for ev in follow_events(self.ctx.catalog, since=None, follow=True, poll_s=0.5,
                                        should_stop=self._stopping.is_set):
                    if self._loop is not None:
                        self._loop.call_soon_threadsafe(self._dispatch, self.ctx.guard.scrub(ev))
            except Exception as exc:
                log.warning("event feed interrupted; retrying", error=str(exc))
                self._stopping.wait(2.0)

    def _dispatch(self, ev: dict[str, Any]) -> None:
        for conn in list(self._connections):
            # Skip what a subscriber already has: events before it subscribed, or replayed to it.
            if conn.events is None or ev["id"] <= conn.after:
                continue
            try:
                conn.events.put_nowait(ev)
            except asyncio.QueueFull:
                log.warning("event subscriber too slow; closing its connection")
                conn.writer.close()


def prepare_socket_path(path: Path) -> None:
    """Make the socket folder (0700) and clear a stale socket; SocketInUse if a live server answers."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = folder.stat()
    if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise SocketInUse(f"{path} exists and is not a socket; move it away or set 'socket' in the configuration")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)      # stale: its daemon is gone
        return
    except OSError:
        pass                              # accepting but slow: treat as alive
    finally:
        probe.close()
    raise SocketInUse(f"another alice daemon is already serving {path}")
