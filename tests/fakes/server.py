"""The shared machinery of the fake services: a threaded HTTP server on an
ephemeral 127.0.0.1 port, request recording, auth checks and fault injection."""
from __future__ import annotations

import io
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from PIL import Image


def png_bytes(width: int = 16, height: int = 12, color: tuple[int, int, int] = (200, 40, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Reply:
    status: int = 200
    body: Any = None                      # dict/list -> JSON; bytes/str sent as-is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encode(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain"
        return (self.body or b""), self.content_type or "application/octet-stream"


@dataclass
class Fault:
    """What to answer instead of the normal reply (status 200 + junk body = malformed)."""
    status: int = 500
    body: Any = field(default_factory=lambda: {"detail": "injected failure"})
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0                  # > client timeout = "slow"
    drop: bool = False                    # close the connection without answering


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]               # lower-cased names
    body: bytes
    route: str

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Handler = Callable[[Request, "re.Match[str]"], Reply]


class FakeService:
    """Subclasses add routes in `setup_routes()` and define `auth_ok()`/`auth_error()`."""

    max_body = 32 * 1024 * 1024

    def __init__(self, api_key: str = "sk-test-0123456789abcdef") -> None:
        self.api_key = api_key
        self.routes: list[tuple[str, re.Pattern[str], str, Handler, bool]] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.delays: dict[str, float] = {}
        self.seen: list[Seen] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.route("GET", r"/files/(?P<name>[^/]+)", "file", self._serve_file, auth=False)
        self.setup_routes()

    # -- scripting ------------------------------------------------------------

    def route(self, method: str, pattern: str, name: str, handler: Handler, *, auth: bool = True) -> None:
        self.routes.append((method, re.compile(pattern + r"$"), name, handler, auth))

    def fail(self, route: str, *faults: Fault) -> None:
        """Answer the next len(faults) requests to `route` ("*" = any) with these faults."""
        with self._lock:
            self.faults[route].extend(faults)

    def count(self, route: str) -> int:
        return sum(1 for s in self.seen if s.route == route)

    def add_file(self, name: str, data: bytes, media_type: str) -> str:
        self.files[name] = (data, media_type)
        return f"{self.url}/files/{name}"

    # -- for subclasses ------------------------------------------------------------

    def setup_routes(self) -> None:
        raise NotImplementedError

    def auth_ok(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def auth_error(self, headers: dict[str, str]) -> Reply:
        return Reply(401, {"detail": "Unauthorized"})

    # -- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the fake first"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeService:
        service = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True    # else each answer waits out a 40 ms delayed ACK

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                service._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        class _Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass   # clients that time out leave broken pipes behind; that is the point

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch -------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(min(length, self.max_body)) if length else b""
        headers = {k.lower(): v for k, v in h.headers.items()}
        req = Request(h.command, parts.path, parse_qs(parts.query), headers, body)

        for method, pattern, name, handler, needs_auth in self.routes:  # noqa: B007 - read after the break
            match = pattern.match(parts.path)
            if method == h.command and match:
                break
        else:
            name, handler, needs_auth, match = "unknown", None, False, None
        with self._lock:
            self.seen.append(Seen(h.command, parts.path, req.query, headers, body, name))
            queue = self.faults.get(name) or self.faults.get("*")
            fault = queue.popleft() if queue else None

        if fault is not None:
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.drop:
                h.close_connection = True
                return
            reply = Reply(fault.status, fault.body, dict(fault.headers))
        elif handler is None:
            reply = Reply(404, {"detail": f"no route {h.command} {parts.path}"})
        elif needs_auth and not self.auth_ok(headers):
            reply = self.auth_error(headers)
        else:
            if self.delays.get(name):
                time.sleep(self.delays[name])
            reply = handler(req, match)
        self._send(h, reply)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, reply: Reply) -> None:
        data, ctype = reply.encode()
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _serve_file(self, req: Request, m: re.Match[str]) -> Reply:
        item = self.files.get(m["name"])
        if item is None:
            return Reply(404, {"detail": "no such file"})
        return Reply(200, item[0], content_type=item[1])


class Steps:
    """A job that advances one state per status poll and then stays put."""

    def __init__(self, states: list[str]) -> None:
        self.states = list(states)
        self.polls = 0

    def next(self) -> str:
        state = self.states[min(self.polls, len(self.states) - 1)]
        self.polls += 1
        return state

    @property
    def done(self) -> bool:
        return self.polls >= len(self.states)
