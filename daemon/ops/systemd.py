"""The sd_notify protocol, spoken directly (no libsystemd binding needed).

systemd passes $NOTIFY_SOCKET to a Type=notify service: an AF_UNIX datagram
socket, either a filesystem path or, when it starts with '@', a name in the
abstract namespace. Each datagram is newline-separated KEY=VALUE assignments.
Outside systemd the variable is unset and every call is a cheap no-op that
returns False, so the daemon code calls these unconditionally.

The watchdog: with WatchdogSec= set, systemd passes WATCHDOG_USEC (and
WATCHDOG_PID, which must be our pid) and kills+restarts the service if no
WATCHDOG=1 arrives within that time. `Watchdog` pings at half the interval,
but only while the health callback says the daemon really works, so a hung
worker gets the service restarted instead of kept alive by a healthy timer.
"""
from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def _address(raw: str) -> str | bytes:
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    return raw


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=watching 2 inboxes") to $NOTIFY_SOCKET.

    Returns True if a datagram was sent, False when not running under systemd
    or when sending failed (logged; a notify failure must not take the daemon down).
    """
    raw = os.environ.get("NOTIFY_SOCKET")
    if not raw:
        return False
    if not raw.startswith(("/", "@")):
        log.warning("ignoring NOTIFY_SOCKET: not an absolute path or abstract name", notify_socket=raw)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(_address(raw))
            sock.sendall(state.encode())
    except OSError as e:
        log.warning("sd_notify failed", notify_socket=raw, state=state.split("\n", 1)[0], error=str(e))
        return False
    return True


def ready(status: str | None = None) -> bool:
    """READY=1: the catalog and the watchers are up; systemd considers the start complete."""
    return notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def stopping(status: str | None = None) -> bool:
    """STOPPING=1: draining after SIGTERM."""
    return notify("STOPPING=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def status(text: str) -> bool:
    """Free-form status shown by `systemctl --user status alice`."""
    return notify(f"STATUS={_one_line(text)}")


def watchdog_ping() -> bool:
    return notify("WATCHDOG=1")


def extend_timeout(seconds: float) -> bool:
    """Ask systemd for `seconds` more before it gives up on a start or stop in progress
    (a first start of the embedded PostgreSQL, or a long drain)."""
    return notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")


def watchdog_interval() -> float | None:
    """Seconds within which systemd expects a WATCHDOG=1, or None if the watchdog is off
    (unset, unparsable, zero, or meant for another process per WATCHDOG_PID)."""
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = os.environ.get("WATCHDOG_PID")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        log.warning("ignoring unparsable WATCHDOG_USEC", watchdog_usec=usec)
        return None
    return value / 1_000_000 if value > 0 else None


def _one_line(text: str) -> str:
    # A newline would start a new assignment in the datagram.
    return " ".join(text.splitlines())


class Watchdog:
    """Pings WATCHDOG=1 every `interval / 2` while `healthy()` returns True.

    `interval` defaults to watchdog_interval(); with no watchdog configured,
    start() does nothing. When healthy() turns False (or raises), pings stop and
    systemd restarts the service after WatchdogSec; once it recovers they resume.
    """

    def __init__(self, healthy: Callable[[], bool], interval: float | None = None) -> None:
        self._healthy = healthy
        self._interval = interval if interval is not None else watchdog_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pings = 0
        self._was_healthy = True

    @property
    def interval(self) -> float | None:
        return self._interval

    def start(self) -> bool:
        """Start pinging; False when no watchdog is configured."""
        if not self._interval or self._thread is not None:
            return False
        self._thread = threading.Thread(target=self._run, name="alice-sd-watchdog", daemon=True)
        self._thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        if not self._interval:          # start() runs this thread only with an interval
            return
        period = self._interval / 2
        while True:
            try:
                ok = bool(self._healthy())
            except Exception as e:  # noqa: BLE001 - an exploding health check means unhealthy
                log.error("health check raised; withholding watchdog ping", error=repr(e))
                ok = False
            if ok and watchdog_ping():
                self.pings += 1
            if ok != self._was_healthy:
                log.warning("health changed; watchdog pings " + ("resumed" if ok else "withheld"), healthy=ok)
                self._was_healthy = ok
            if self._stop.wait(period):
                return
