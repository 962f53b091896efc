"""`alice run` as a person meets it in a terminal: a quiet start, and Ctrl-C."""
from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import time

import pytest
import structlog

from alice.daemon.ops import logs
from tests.daemon_env import rows, unique_png, wait_until
from tests.organize_env import ALICE, AliceEnv

NOISE = ("pg_ctl", "PostmasterInfo", "Context impl", "Will assume transactional DDL")


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for h in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(h)
    root.setLevel(level)
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    for name in logs.CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()


@pytest.mark.parametrize("verbose", [False, True])
def test_library_chatter_only_with_verbose(restore_logging, verbose: bool):
    buf = io.StringIO()
    logs.configure_logging("info", json=False, stream=buf, verbose=verbose)
    logging.getLogger("pgserver").info("Running commandline:\npg_ctl -D /x start")
    logging.getLogger("alembic.runtime.migration").info("Context impl PostgresqlImpl.")
    logging.getLogger("pgserver").warning("Failed to stop server, killing it instead.")
    structlog.get_logger("alice.run").info("alice is running")
    out = buf.getvalue()
    assert "alice is running" in out and "Failed to stop server" in out     # warnings always show
    assert ("pg_ctl -D /x start" in out) is verbose
    assert ("Context impl" in out) is verbose


def _start(env: AliceEnv, *args: str) -> subprocess.Popen:
    # A session of its own, as a terminal gives a command line: Ctrl-C goes to the whole group.
    return subprocess.Popen([str(ALICE), "run", *args], env=env.env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(proc: subprocess.Popen, out: list[bytes], needle: bytes, timeout: float) -> None:
    end = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while time.monotonic() < end:
        chunk = proc.stdout.read()
        if chunk:
            out.append(chunk)
        if needle in b"".join(out):
            return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no {needle!r} within {timeout}s:\n{b''.join(out).decode(errors='replace')[-3000:]}")


def _finish(proc: subprocess.Popen, out: list[bytes], timeout: float = 60) -> str:
    code = proc.wait(timeout)
    os.set_blocking(proc.stdout.fileno(), True)
    out.append(proc.stdout.read())
    proc.stdout.close()
    text = b"".join(out).decode(errors="replace")
    return code, text


def _ctrl_c(proc: subprocess.Popen, out: list[bytes]) -> str:
    """Ctrl-C to the terminal's process group: alice exits 130 and no process prints a traceback."""
    os.killpg(proc.pid, signal.SIGINT)
    code, text = _finish(proc, out)
    assert code == 130, text[-3000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-5000:]
    return text


def test_ctrl_c_stops_cleanly_with_files_in_flight(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(workers=2, watch={"settle_seconds": 0.2, "rescan_minutes": 0})
    (env.inbox / "p").mkdir(parents=True)
    proc = _start(env)
    out: list[bytes] = []
    try:
        _wait_for(proc, out, b"alice is running", 60)
        (env.inbox / "p" / "first.png").write_bytes(unique_png(0))
        # The workers exist once a file has been analysed: they are what Ctrl-C used to kill loudly.
        wait_until(lambda: rows(db_url, "SELECT 1 FROM jobs WHERE state = 'done'"), 60, what="first file filed")
        for i in range(1, 40):
            (env.inbox / "p" / f"f{i}.png").write_bytes(unique_png(i, size=256))
        _wait_for(proc, out, b'"status": "organized", "dest"', 30)
        text = _ctrl_c(proc, out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    events = [json.loads(line)["event"] for line in text.splitlines() if line.startswith("{")]
    assert "stopping…" in events and events[-1] == "stopped", text[-3000:]


def test_embedded_catalog_starts_quietly_unless_verbose(tmp_path):
    env = AliceEnv(tmp_path, "")
    env.write_config(workers=1, database={"url": ""})
    for verbose in (False, True):
        proc = _start(env, *(["-v"] if verbose else []))
        out: list[bytes] = []
        try:
            _wait_for(proc, out, b"alice is running", 120)
            proc.send_signal(signal.SIGTERM)
            code, text = _finish(proc, out)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        assert code == 0, text[-3000:]
        chatter = [n for n in NOISE[:3] if n in text]
        if verbose:
            assert "pg_ctl" in text, text[-3000:]
        else:
            assert chatter == [], text[-3000:]


def _blocks_sigint(pid: int) -> bool:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("SigBlk:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGINT - 1)))
    raise AssertionError(f"no SigBlk in /proc/{pid}/status")


def test_pixel_workers_start_with_the_daemon_and_never_see_ctrl_c(tmp_path, db_url):
    # Started before the first file (their start-up is not taken out of a burst's filing),
    # and every one with SIGINT blocked: Ctrl-C in the terminal stops the parent alone.
    from tests.leftovers import children_of

    env = AliceEnv(tmp_path, db_url)
    env.write_config(workers=2, filing_processes=0, watch={"settle_seconds": 0.2, "rescan_minutes": 0})
    (env.inbox / "p").mkdir(parents=True)
    proc = _start(env)
    out: list[bytes] = []

    def workers() -> list[int]:
        found = []
        for pid in children_of(proc.pid):
            try:
                if b"spawn_main" in open(f"/proc/{pid}/cmdline", "rb").read():
                    found.append(pid)
            except OSError:
                continue
        return found

    try:
        _wait_for(proc, out, b"alice is running", 60)
        wait_until(lambda: len(workers()) == 2, 60, what="two pixel workers, with no file dropped")
        assert all(_blocks_sigint(pid) for pid in workers())
        assert not rows(db_url, "SELECT 1 FROM jobs")
        _ctrl_c(proc, out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
