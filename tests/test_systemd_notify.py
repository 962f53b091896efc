"""sd_notify against a real AF_UNIX datagram socket set as NOTIFY_SOCKET."""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from alice.daemon.ops import systemd


@pytest.fixture
def fs_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


@pytest.fixture
def abstract_socket(monkeypatch):
    name = f"alice-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    yield sock
    sock.close()


def recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_ready_status_stopping_on_a_filesystem_socket(fs_socket):
    assert systemd.ready("watching 2 inboxes")
    assert recv(fs_socket) == "READY=1\nSTATUS=watching 2 inboxes"
    assert systemd.status("queue: 3 pending\nand more")
    assert recv(fs_socket) == "STATUS=queue: 3 pending and more"
    assert systemd.stopping()
    assert recv(fs_socket) == "STOPPING=1"
    assert systemd.watchdog_ping()
    assert recv(fs_socket) == "WATCHDOG=1"
    assert systemd.extend_timeout(90.5)
    assert recv(fs_socket) == "EXTEND_TIMEOUT_USEC=90500000"


def test_abstract_namespace_socket(abstract_socket):
    assert systemd.notify("READY=1")
    assert recv(abstract_socket) == "READY=1"


def test_not_under_systemd_is_a_quiet_no_op(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.ready() is False
    assert systemd.watchdog_ping() is False


def test_unreachable_or_bogus_socket_returns_false(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert systemd.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/path")
    assert systemd.ready() is False


@pytest.mark.parametrize(("usec", "pid", "expected"), [
    ("30000000", None, 30.0),
    ("30000000", "self", 30.0),
    ("30000000", "1", None),       # meant for another process
    ("0", None, None),
    ("soon", None, None),
    (None, None, None),
])
def test_watchdog_interval(monkeypatch, usec, pid, expected):
    for var, val in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)):
        if val is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, val)
    assert systemd.watchdog_interval() == expected


def test_watchdog_thread_pings_only_while_healthy(fs_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s -> ping every 0.1 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    healthy = threading.Event()
    healthy.set()
    wd = systemd.Watchdog(healthy.is_set)
    assert wd.interval == pytest.approx(0.2)
    assert wd.start()
    try:
        assert recv(fs_socket) == "WATCHDOG=1"
        assert recv(fs_socket) == "WATCHDOG=1"
        healthy.clear()
        time.sleep(0.25)  # let an in-flight ping land, then drain
        fs_socket.setblocking(False)
        while True:
            try:
                fs_socket.recv(4096)
            except BlockingIOError:
                break
        fs_socket.settimeout(0.5)
        with pytest.raises(TimeoutError):
            fs_socket.recv(4096)  # several periods, no ping while unhealthy
        healthy.set()
        fs_socket.settimeout(5)
        assert recv(fs_socket) == "WATCHDOG=1"
    finally:
        wd.stop()


def test_watchdog_treats_a_raising_health_check_as_unhealthy(fs_socket):
    def boom() -> bool:
        raise RuntimeError("catalog gone")

    wd = systemd.Watchdog(boom, interval=0.1)
    assert wd.start()
    fs_socket.settimeout(0.4)
    try:
        with pytest.raises(TimeoutError):
            fs_socket.recv(4096)
    finally:
        wd.stop()
    assert wd.pings == 0


def test_watchdog_without_interval_does_not_start(monkeypatch):
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert systemd.Watchdog(lambda: True).start() is False
