"""`alice organize` files on every core with helper processes (daemon/ingest/fanout.py): each
file once, the same bytes in two shares filed once, a helper that dies costs a re-run and
nothing else, and Ctrl-C stops them all."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from alice.daemon.config import parse
from alice.daemon.ingest.fanout import MIN_FILES, helper_count
from alice.pipeline.identity import file_hash
from tests.daemon_env import rows, unique_png
from tests.leftovers import assert_none_left, children_of
from tests.organize_env import ALICE, AliceEnv, media_files

UNIQUE = 90
TWINS = 12      # files with the bytes of another, each beside its twin: the shares split them


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=2, filing_processes=1)
    folder = e.inbox / "p"
    folder.mkdir(parents=True)
    for i in range(UNIQUE):
        data = unique_png(7000 + i, size=128)
        (folder / f"f{i:03d}.png").write_bytes(data)
        if i < TWINS:
            (folder / f"f{i:03d}b.png").write_bytes(data)
    return e


def start(env: AliceEnv, *args: str) -> subprocess.Popen:
    # A session of its own, as a terminal gives a command: Ctrl-C goes to the whole group.
    return subprocess.Popen([str(ALICE), "organize", "--json", "--pixels", "later", *args], env=env.env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)


def watch_children(pid: int, seen: set[int], stop: threading.Event) -> None:
    while not stop.is_set():
        seen.update(children_of(pid))
        time.sleep(0.002)


def finish(proc: subprocess.Popen) -> tuple[int, list[dict], str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, [json.loads(line) for line in out.decode().splitlines() if line.strip()], err.decode()


def assert_all_filed_once(env: AliceEnv) -> None:
    filed = media_files(env.organized)
    assert len(filed) == UNIQUE, sorted(p.name for p in filed)
    assert len({file_hash(p) for p in filed}) == UNIQUE
    assert rows(env.db_url, "SELECT count(*) FROM assets")[0][0] == UNIQUE


def test_how_many_helpers() -> None:
    base = {"inboxes": ["/tmp/alice-i"], "organized": "/tmp/alice-o", "data_dir": "/tmp/alice-d"}
    cfg = parse({**base, "filing_processes": 3}, environ={})
    assert helper_count(cfg, jobs=4, files=1000) == 3
    assert helper_count(cfg, jobs=2, files=1000) == 1      # --jobs bounds it
    assert helper_count(cfg, jobs=1, files=1000) == 0
    assert helper_count(cfg, jobs=4, files=MIN_FILES - 1) == 0
    assert helper_count(parse({**base, "filing_processes": 0}, environ={}), jobs=4, files=1000) == 0
    # Paid ratings before filing stay in the process that holds the API keys.
    stars = {**base, "filing_processes": 3, "layout": "{stars}/{project}",
             "quality": {"enabled": True, "stages": ["technical", "vision"]}}
    assert helper_count(parse(stars, environ={}), jobs=4, files=1000) == 0


def test_a_helper_files_a_share_and_each_file_is_filed_once(env: AliceEnv) -> None:
    proc = start(env)
    seen: set[int] = set()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_children, args=(proc.pid, seen, stop))
    watcher.start()
    try:
        code, results, err = finish(proc)
    finally:
        stop.set()
        watcher.join()
    assert code == 0, err
    assert seen, "no helper process took part"
    assert len(results) == UNIQUE + TWINS
    assert len({r["path"] for r in results}) == UNIQUE + TWINS
    statuses = [r["status"] for r in results]
    assert statuses.count("organized") == UNIQUE and statuses.count("duplicate") == TWINS
    assert_all_filed_once(env)
    assert_none_left(env.config)
    # Run again: nothing to do, from either process.
    code, again, err = finish(start(env))
    assert code == 0, err
    assert {r["status"] for r in again} == {"unchanged"} and len(again) == UNIQUE + TWINS


def test_a_helper_that_dies_leaves_its_share_to_the_next_run(env: AliceEnv) -> None:
    proc = start(env)
    killed = []
    try:
        end = time.monotonic() + 30
        while not killed and time.monotonic() < end and proc.poll() is None:
            for pid in children_of(proc.pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.001)
        code, results, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert killed, "never saw the helper"
    assert code == 1, err
    assert "Traceback" not in err
    failed = [r for r in results if r["status"] == "failed"]
    assert failed and all("helper process filing it stopped" in r["reason"] for r in failed)
    assert "run alice organize again" in failed[0]["reason"]
    assert len(results) == UNIQUE + TWINS       # every file said, once
    assert_none_left(env.config)
    code, again, err = finish(start(env))
    assert code == 0, err
    assert_all_filed_once(env)


def test_ctrl_c_stops_the_helpers_too(env: AliceEnv) -> None:
    proc = start(env)
    try:
        # Once files are being filed, by the helper too.
        end = time.monotonic() + 30
        while not children_of(proc.pid) and time.monotonic() < end:
            time.sleep(0.001)
        assert children_of(proc.pid), "never saw the helper"
        os.set_blocking(proc.stdout.fileno(), False)
        while not proc.stdout.read(1) and time.monotonic() < end:
            time.sleep(0.001)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
        code, err = proc.returncode, proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if code == 0:
        pytest.skip("organize finished before Ctrl-C reached it")
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "interrupted" in err
    assert_none_left(env.config)
    code, _, err = finish(start(env))
    assert code == 0, err
    assert_all_filed_once(env)
