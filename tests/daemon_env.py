"""Running `alice run` as a real subprocess for tests: readiness over a real NOTIFY_SOCKET."""
from __future__ import annotations

import io
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from tests.organize_env import ALICE, AliceEnv


class DaemonProc:
    def __init__(self, env: AliceEnv, name: str = "d", **extra_env: str):
        self.env = env
        self.name = name
        self.sock_path = env.root / f"notify-{name}-{random.randrange(1 << 30)}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.sock_path))
        self.sock.settimeout(0.2)
        self.log = open(env.root / f"daemon-{name}.log", "ab")
        self.proc = subprocess.Popen(
            [str(ALICE), "run"], env=env.env(NOTIFY_SOCKET=str(self.sock_path), **extra_env),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.messages: list[str] = []

    def read_notify(self, timeout: float) -> list[str]:
        end = time.monotonic() + timeout
        got = []
        while time.monotonic() < end:
            try:
                got.append(self.sock.recv(4096).decode())
            except TimeoutError:
                if got:
                    break
        self.messages.extend(got)
        return got

    def wait_ready(self, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for msg in self.read_notify(0.5):
                if "READY=1" in msg.split("\n"):
                    return
            if self.proc.poll() is not None:
                raise AssertionError(f"alice run exited {self.proc.returncode} before READY:\n{self.tail()}")
        raise AssertionError(f"alice run not READY after {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        self.log.flush()
        return (self.env.root / f"daemon-{self.name}.log").read_bytes()[-n:].decode(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.close()

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.read_notify(0.3)
        self.close()
        return code

    def close(self) -> None:
        self.sock.close()
        self.log.close()
        try:
            self.sock_path.unlink()
        except FileNotFoundError:
            pass


def unique_png(i: int, size: int = 16) -> bytes:
    rng = random.Random(i)
    img = Image.new("RGB", (size, size))
    img.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(size * size)])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def engine_for(db_url: str) -> sa.Engine:
    return sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))


def wait_until(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def job_states(db_url: str) -> dict[str, int]:
    engine = engine_for(db_url)
    try:
        with engine.connect() as c:
            return dict(c.execute(sa.text("SELECT state, count(*) FROM jobs GROUP BY state")).all())
    finally:
        engine.dispose()


def scalar(db_url: str, sql: str, **params):
    engine = engine_for(db_url)
    try:
        with engine.connect() as c:
            return c.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(db_url: str, sql: str, **params) -> list:
    engine = engine_for(db_url)
    try:
        with engine.connect() as c:
            return c.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


def write_slowly(path: Path, data: bytes, chunks: int = 5, pause: float = 0.3) -> None:
    step = max(1, len(data) // chunks)
    with open(path, "wb") as f:
        for i in range(0, len(data), step):
            f.write(data[i:i + step])
            f.flush()
            os.fsync(f.fileno())
            time.sleep(pause)
