"""Class 8 of issue 11: a SIGKILLed `alice run` leaves no worker or resource tracker behind, and a
daemon started on the same host takes its jobs at once instead of waiting out the lease."""
from __future__ import annotations

import time

import pytest

from tests.daemon_env import DaemonProc, rows, unique_png, wait_until
from tests.leftovers import assert_none_left, children_of, processes_of
from tests.organize_env import AliceEnv, media_files


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    # A long lease: only the takeover can explain a quick recovery.
    e.write_config(workers=2, watch={"settle_seconds": 0.3, "rescan_minutes": 0},
                   queue={"lease_seconds": 300, "max_attempts": 10})
    return e


def test_sigkill_leaves_no_worker_or_tracker_behind(env: AliceEnv) -> None:
    (env.inbox / "p").mkdir(parents=True)
    d = DaemonProc(env, "k")
    try:
        d.wait_ready()
        for i in range(6):
            (env.inbox / "p" / f"f{i}.png").write_bytes(unique_png(i, size=64))
        wait_until(lambda: len(media_files(env.organized)) >= 2 if env.organized.exists() else False, 60,
                   what="the pool at work")
        # Pixels are decoded in the worker pool after filing: wait for it to be at work.
        wait_until(lambda: len(children_of(d.proc.pid)) >= 2, 60, what="analysis workers and a resource tracker")
        kids = children_of(d.proc.pid)
        assert set(kids) <= set(processes_of(env.config))
    finally:
        d.kill()
    assert_none_left(env.config)


def test_a_new_daemon_takes_over_a_dead_ones_jobs_at_once(env: AliceEnv) -> None:
    (env.inbox / "p").mkdir(parents=True)
    for i in range(40):
        (env.inbox / "p" / f"f{i}.png").write_bytes(unique_png(100 + i, size=256))
    a = DaemonProc(env, "a")
    kids: set[int] = set()
    try:
        a.wait_ready()
        wait_until(lambda: rows(env.db_url, "SELECT count(*) FROM jobs WHERE state = 'running'")[0][0] > 0, 60,
                   interval=0.02, what="jobs held by the first daemon")
        kids = set(children_of(a.proc.pid))     # its filing processes hold jobs too (ingest/filers.py)
    finally:
        a.kill()
    assert_none_left(env.config)
    held = rows(env.db_url, "SELECT count(*), array_agg(DISTINCT worker) FROM jobs WHERE state = 'running'")[0]
    if held[0] == 0:
        pytest.skip("the first daemon finished its jobs before it could be killed")
    for owner in held[1]:       # host:pid:start, of the daemon or one of its filing processes
        assert len(owner.split(":")) == 3 and int(owner.split(":")[1]) in {a.proc.pid, *kids}
    t0 = time.monotonic()
    b = DaemonProc(env, "b")
    try:
        b.wait_ready()
        wait_until(lambda: len(media_files(env.organized)) == 40 if env.organized.exists() else False, 60,
                   what="every file filed by the second daemon")
        # A copy is in the tree a moment before its group commits and its job is done.
        wait_until(lambda: rows(env.db_url, "SELECT count(*) FROM jobs WHERE state <> 'done'")[0][0] == 0, 60,
                   interval=0.02, what="every job done")
        took = time.monotonic() - t0
        assert "took over the jobs of a dead daemon" in b.tail(100_000)
    finally:
        assert b.terminate() == 0
    assert took < 60, f"{took:.0f} s: the second daemon waited for the 300 s lease"
    assert rows(env.db_url, "SELECT count(*) FROM jobs WHERE state <> 'done'")[0][0] == 0
    assert_none_left(env.config)


def test_a_zombie_owner_is_dead() -> None:
    # A filing process whose daemon was SIGKILLed stays a zombie until init reaps it, and
    # init may take its time: its jobs must be taken over all the same.
    import os
    import subprocess

    from alice.daemon.ops import lineage

    child = subprocess.Popen(["sleep", "30"])
    try:
        owner = lineage.owner_name(child.pid)
        assert not lineage.owner_is_dead(owner)
        os.kill(child.pid, 9)
        wait_until(lambda: open(f"/proc/{child.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z", 10,
                   interval=0.01, what="the child a zombie")
        assert lineage.owner_is_dead(owner)
    finally:
        child.kill()
        child.wait()
    assert lineage.owner_is_dead(owner)
    assert not lineage.owner_is_dead(lineage.owner_name())
