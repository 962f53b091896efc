"""The embedded server: shared by processes, stopped by the last one, reused across runs.

Each test runs its own embedded PostgreSQL in tmp_path (about a second to
start), whatever ALICE_TEST_DATABASE_URL says, because the embedded mode is
what is under test.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.ingest import queue

# A second alice process: opens the embedded catalog, then obeys commands on stdin.
CHILD = r"""
import sys
from pathlib import Path
from sqlalchemy import text
from alice.daemon.ingest import queue
from alice.daemon.catalog.engine import Catalog
cat = Catalog.open(None, Path(sys.argv[1]))
print("ready", Path(sys.argv[1], "pg", "postmaster.pid").read_text().split()[0], flush=True)
for line in sys.stdin:
    if line.strip() == "query":
        with cat.session() as s:
            print("rows", s.execute(text("SELECT count(*) FROM projects")).scalar_one(), flush=True)
    elif line.strip() == "exit":
        cat.close()
        print("closed", flush=True)
        break
"""


class Child:
    def __init__(self, data_dir: Path, wait: bool = True) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD, str(data_dir)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.server_pid = 0
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        words = self._line().split()
        assert words[0] == "ready", words
        self.server_pid = int(words[1])

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        assert line, f"child exited with {self.proc.wait(10)}"
        return line

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line().strip()

    def exit(self) -> None:
        assert self.ask("exit") == "closed"
        assert self.proc.wait(30) == 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def server_pid(data_dir: Path) -> int | None:
    pidfile = data_dir / "pg" / "postmaster.pid"
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def wait_stopped(data_dir: Path, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server_pid(data_dir) is None:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under tmp_path: as root, pgserver runs postgres as user "pgserver" and
    # opens up the parent folders for it, but every pytest session (anyone's)
    # resets /tmp/pytest-of-root to 0700, which would lock the server out.
    d = Path(tempfile.mkdtemp(prefix="alice-embedded-test-"))
    yield d
    if server_pid(d) is not None:      # a failing test must not leave a server running
        from pgserver import pg_ctl
        user = "pgserver" if os.geteuid() == 0 else None      # pgserver runs postgres as this user under root
        try:
            pg_ctl(["-m", "immediate", "stop"], pgdata=d / "pg", user=user)
        except subprocess.CalledProcessError:
            pass
    shutil.rmtree(d, ignore_errors=True)


def test_two_processes_share_one_server_that_outlives_the_first_to_leave(data_dir: Path) -> None:
    child = Child(data_dir)
    try:
        cat = Catalog.open(None, data_dir)
        assert cat.embedded and "***" not in cat.display_url
        assert server_pid(data_dir) == child.server_pid         # reused, not a second server
        with cat.session() as s:
            s.execute(text("INSERT INTO projects (name) VALUES ('shared')"))
        assert child.ask("query") == "rows 1"
        child.exit()
        with cat.session() as s:                                  # the server outlived the child
            assert s.execute(text("SELECT name FROM projects")).scalar_one() == "shared"
        assert server_pid(data_dir) == child.server_pid
        cat.close()
        assert wait_stopped(data_dir), "the last process to leave must stop the server"
    finally:
        if child.proc.poll() is None:
            child.kill()
    again = Catalog.open(None, data_dir)                          # a later run reuses the data
    try:
        with again.session() as s:
            assert s.execute(text("SELECT name FROM projects")).scalar_one() == "shared"
    finally:
        again.close()
    assert wait_stopped(data_dir)


def test_leaving_first_does_not_stop_the_server_under_a_live_process(data_dir: Path) -> None:
    cat = Catalog.open(None, data_dir)
    child = Child(data_dir)
    try:
        cat.close()
        assert child.ask("query") == "rows 0"
        assert server_pid(data_dir) == child.server_pid
        child.exit()
        assert wait_stopped(data_dir)
    finally:
        if child.proc.poll() is None:
            child.kill()


def test_processes_starting_at_once_on_a_new_data_dir_share_one_server(data_dir: Path) -> None:
    children = [Child(data_dir, wait=False) for _ in range(3)]
    try:
        for c in children:
            c.wait_ready()
        assert len({c.server_pid for c in children}) == 1
        for c in children:
            assert c.ask("query") == "rows 0"
        for c in children:
            c.exit()
        assert wait_stopped(data_dir)
    finally:
        for c in children:
            if c.proc.poll() is None:
                c.kill()


def test_a_killed_process_does_not_pin_the_server_forever(data_dir: Path) -> None:
    child = Child(data_dir)
    child.kill()                                                  # no atexit, its handle stays behind
    cat = Catalog.open(None, data_dir)
    assert server_pid(data_dir) == child.server_pid
    cat.close()
    assert wait_stopped(data_dir)


def test_two_catalogs_in_one_process_are_counted(data_dir: Path) -> None:
    first = Catalog.open(None, data_dir)
    second = Catalog.open(None, data_dir)
    first.close()
    with second.session() as s:
        assert s.execute(text("SELECT 1")).scalar_one() == 1
    second.close()
    assert wait_stopped(data_dir)


def test_wait_available_restarts_an_embedded_server_that_died_and_keeps_the_queue(data_dir: Path) -> None:
    cat = Catalog.open(None, data_dir)
    try:
        with cat.session() as s:
            job_id = queue.enqueue(s, "/in/a.png", "/in", 1, 1.0)
        before = server_pid(data_dir)
        os.kill(before, signal.SIGKILL)                           # postmaster killed (OOM killer, admin)
        time.sleep(0.5)
        with pytest.raises(CatalogUnavailable):
            queue.claim(cat.engine, "w1", 60)
        with pytest.raises(CatalogUnavailable):
            with cat.session() as s:
                s.execute(text("SELECT 1"))
        assert cat.wait_available(timeout=60) is True
        assert server_pid(data_dir) not in (None, before)
        [job] = queue.claim(cat.engine, "w1", 60)                 # nothing was dropped
        assert job.id == job_id
    finally:
        cat.close()
    assert wait_stopped(data_dir)


def test_unusable_data_dir_says_what_to_check(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(CatalogUnavailable, match="data_dir"):
        Catalog.open("", blocker)
