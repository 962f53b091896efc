"""A synchronous client for the daemon's socket, used by the CLI and the MCP bridge.

    with RpcClient(cfg.socket) as client:
        page = client.call("assets.search", {"text": "cyberpunk portrait", "tool": "midjourney"})
"""
from __future__ import annotations

import itertools
import json
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alice.daemon.api import protocol as p

MAX_RESPONSE = 64 << 20           # answers may carry a tool's whole raw record


class DaemonNotRunning(ConnectionError):
    """No daemon answers on the socket."""


class RpcCallError(Exception):
    """The daemon answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class RpcClient:
    def __init__(self, socket_path: Path | str, timeout: float | None = 60.0):
        self.path = Path(socket_path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._ids = itertools.count(1)
        self._notifications: deque[dict[str, Any]] = deque()

    def __enter__(self) -> RpcClient:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self) -> None:
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            what = "no socket at" if isinstance(exc, FileNotFoundError) else "nothing listening on"
            raise DaemonNotRunning(f"alice is not running ({what} {self.path}): start it with `alice run` "
                                   "or `systemctl --user start alice`") from None
        except PermissionError:
            sock.close()
            raise DaemonNotRunning(f"cannot open {self.path}: permission denied (the daemon runs as another "
                                   "user?)") from None
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """The method's result; RpcCallError if the daemon answers with an error."""
        self.connect()
        assert self._sock is not None
        rid = next(self._ids)
        self._sock.sendall(p.encode(p.request_message(rid, method, params)))
        while True:
            msg = self._read()
            if "id" not in msg:
                self._notifications.append(msg)
                continue
            if msg.get("id") not in (rid, None):
                continue
            if "error" in msg:
                err = msg["error"] or {}
                raise RpcCallError(err.get("code", p.INTERNAL_ERROR), err.get("message", "unknown error"),
                                   err.get("data"))
            return msg.get("result")

    def events(self, since: int | None = None) -> Iterator[dict[str, Any]]:
        """Subscribe now; the iterator yields each event as it happens (blocking; timeout=None to follow long)."""
        self.call("events.subscribe", {} if since is None else {"since": since})
        return self._event_stream()

    def _event_stream(self) -> Iterator[dict[str, Any]]:
        while True:
            msg = self._notifications.popleft() if self._notifications else self._read()
            if msg.get("method") == "events.event":
                yield msg.get("params") or {}

    def _read(self) -> dict[str, Any]:
        assert self._sock is not None
        while b"\n" not in self._buf:
            if len(self._buf) > MAX_RESPONSE:
                raise RpcCallError(p.INTERNAL_ERROR, f"answer larger than {MAX_RESPONSE:,} bytes")
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise DaemonNotRunning(f"the daemon closed the connection on {self.path} (is it stopping?)")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RpcCallError(p.PARSE_ERROR, f"the daemon sent something that is not JSON: {exc}") from None
        if not isinstance(msg, dict):
            raise RpcCallError(p.INVALID_REQUEST, "the daemon sent a message that is not an object")
        return msg
