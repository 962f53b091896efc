"""`alice run` files with processes beside its own filing line (daemon/ingest/filers.py): they
share the queue, die with the daemon, and one that dies alone is replaced with nothing lost."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from alice.daemon.config import ConfigError, parse
from alice.daemon.ingest import filers
from alice.pipeline.identity import file_hash
from tests.daemon_env import DaemonProc, rows, unique_png, wait_until
from tests.leftovers import assert_none_left, children_of
from tests.organize_env import AliceEnv, media_files


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    # A lease far longer than any wait below: only a takeover explains a quick recovery.
    e.write_config(workers=1, filing_processes=1, watch={"settle_seconds": 0.3, "rescan_minutes": 0},
                   queue={"lease_seconds": 300, "max_attempts": 10})
    (e.inbox / "p").mkdir(parents=True)
    return e


def owners(env: AliceEnv) -> set[int]:
    """Pids of the processes named as the jobs' workers."""
    return {int(w.split(":")[1]) for (w,) in rows(env.db_url, "SELECT DISTINCT worker FROM jobs "
                                                                "WHERE worker IS NOT NULL")}


def drop(env: AliceEnv, n: int, seed: int, size: int = 192) -> dict[str, str]:
    hashes = {}
    for i in range(n):
        path = env.inbox / "p" / f"f{seed + i}.png"
        path.write_bytes(unique_png(seed + i, size=size))
        hashes[file_hash(path)] = path.name
    return hashes


def filed(env: AliceEnv) -> list:
    return media_files(env.organized) if env.organized.exists() else []


def all_filed_once(env: AliceEnv, expected: dict[str, str], what: str) -> None:
    """Wait until every expected file is filed and every job done; then each is there once,
    under its own name (no temp file, no second copy)."""
    wait_until(lambda: len(filed(env)) == len(expected), 90, what=what)
    wait_until(lambda: rows(env.db_url, "SELECT count(*) FROM jobs WHERE state <> 'done'")[0][0] == 0, 60,
               what="every job done")
    assert sorted(expected.values()) == sorted(p.name for p in filed(env))
    assert {file_hash(p) for p in filed(env)} == set(expected)


def test_the_setting_reads_auto_or_a_count() -> None:
    base = {"inboxes": ["/tmp/alice-i"], "organized": "/tmp/alice-o", "data_dir": "/tmp/alice-d"}
    auto = parse(base, environ={})
    assert auto.filing_processes == -1
    assert filers.process_count(auto) == max(0, (os.cpu_count() or 1) - 1)
    assert filers.process_count(parse({**base, "filing_processes": 0}, environ={})) == 0
    assert parse({**base, "filing_processes": "auto"}, environ={}).filing_processes == -1
    assert filers.process_count(parse({**base, "filing_processes": 2}, environ={})) == 2
    assert parse(base, environ={"ALICE_FILING_PROCESSES": "3"}).filing_processes == 3
    with pytest.raises(ConfigError, match="filing_processes"):
        parse({**base, "filing_processes": -2}, environ={})
    with pytest.raises(ConfigError, match="filing_processes"):
        parse({**base, "filing_processes": "many"}, environ={})


def test_paid_ratings_before_filing_keep_filing_in_the_daemon() -> None:
    # They call providers, and API keys never leave the daemon's process.
    base = {"inboxes": ["/tmp/alice-i"], "organized": "/tmp/alice-o", "data_dir": "/tmp/alice-d",
            "filing_processes": 2}
    stars = {**base, "layout": "{stars}/{project}", "quality": {"enabled": True, "stages": ["technical", "vision"]}}
    assert filers.process_count(parse(stars, environ={})) == 0
    assert filers.process_count(parse({**stars, "layout": "{date}/{project}"}, environ={})) == 2


def test_a_filer_gets_the_configuration_without_any_api_key() -> None:
    import pickle

    key = "sk-test-0123456789abcdef"
    cfg = parse({"inboxes": ["/tmp/alice-i"], "organized": "/tmp/alice-o", "data_dir": "/tmp/alice-d",
                 "providers": {"openai": {"api_key": key}, "comfyui": {"input_dir": "/srv/comfy/input"}}},
                environ={})
    f = filers.Filers(cfg, "postgresql://u@127.0.0.1/db", 1, on_message=lambda m: None, on_death=lambda p: None)
    data = pickle.dumps(f.spec)
    assert key.encode() not in data
    spec = pickle.loads(data)
    assert spec.cfg.providers.settings["comfyui"].input_dir == "/srv/comfy/input"
    assert spec.cfg.providers.settings["openai"].api_key is None
    assert spec.cfg.database.url == "postgresql://u@127.0.0.1/db"
    assert spec.cfg.inboxes == cfg.inboxes and spec.cfg.layout == cfg.layout


def test_a_burst_is_shared_by_the_daemon_and_its_filing_process(env: AliceEnv) -> None:
    d = DaemonProc(env, "a")
    try:
        d.wait_ready()
        expected = drop(env, 60, 1000)
        all_filed_once(env, expected, "60 files filed")
        who = owners(env)
        assert d.proc.pid in who, "the daemon filed none of the burst"
        others = who - {d.proc.pid}
        assert others, "no filing process took part"
        assert others <= set(children_of(d.proc.pid))
        # The daemon counts and reports what its filing process filed; the filing process
        # is not listed as a daemon of its own.
        def status() -> dict:
            return json.loads(env.run("status", "--json").stdout)

        wait_until(lambda: [x["processed"] for x in status()["local_daemons"]] == [60], 30,
                   what="alice status counting the 60 files")
        assert len(status()["daemons"]) == 1
    finally:
        assert d.terminate() == 0
    # It stopped when asked: the daemon did not have to kill it.
    assert "did not stop in time" not in (env.root / "daemon-a.log").read_text(errors="replace")
    assert_none_left(env.config)


def test_a_filing_process_killed_alone_is_replaced_and_its_files_are_filed(env: AliceEnv) -> None:
    d = DaemonProc(env, "b")
    try:
        d.wait_ready()
        expected = drop(env, 80, 2000, size=256)

        def filer_holding_jobs() -> int | None:
            for (w,) in rows(env.db_url, "SELECT DISTINCT worker FROM jobs WHERE state = 'running'"):
                pid = int(w.split(":")[1])
                if pid != d.proc.pid:
                    return pid
            return None

        victim = wait_until(filer_holding_jobs, 60, interval=0.01, what="the filing process holding jobs")
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        all_filed_once(env, expected, "all 80 files filed")
        assert time.monotonic() - t0 < 60, "the dead filer's jobs waited for their 300 s lease"
        log = d.tail(200_000)
        assert "a filing process exited" in log
        # Another one was started in its place, and works.
        more = drop(env, 20, 3000)
        wait_until(lambda: len(filed(env)) == 100, 60, what="20 more files filed")
        assert {file_hash(p) for p in filed(env)} == set(expected) | set(more)
        assert d.proc.poll() is None
    finally:
        assert d.terminate() == 0
    assert_none_left(env.config)


def test_a_sigkilled_daemon_takes_its_filing_process_along_and_nothing_is_lost(env: AliceEnv) -> None:
    d = DaemonProc(env, "c")
    try:
        d.wait_ready()
        expected = drop(env, 80, 4000, size=256)
        wait_until(lambda: len(owners(env) - {d.proc.pid}) > 0, 60, interval=0.01,
                   what="the filing process at work")
    finally:
        d.kill()
    assert_none_left(env.config)
    d = DaemonProc(env, "d")
    try:
        d.wait_ready()
        all_filed_once(env, expected, "all 80 files filed after the restart")
    finally:
        assert d.terminate() == 0
    assert_none_left(env.config)


def test_ringing_a_filer_that_does_not_read_never_blocks_the_watcher() -> None:
    import multiprocessing
    import threading

    cfg = parse({"inboxes": ["/tmp/alice-i"], "organized": "/tmp/alice-o", "data_dir": "/tmp/alice-d"}, environ={})
    f = filers.Filers(cfg, "postgresql://u@127.0.0.1/db", 0, on_message=lambda m: None, on_death=lambda p: None)
    ctx = multiprocessing.get_context("spawn")
    theirs, mine = ctx.Pipe(duplex=False)
    bell_theirs, bell = ctx.Pipe(duplex=False)
    os.set_blocking(bell.fileno(), False)
    f.filers.append(filers._Filer(proc=None, conn=theirs, bell=bell))
    rung = threading.Thread(target=lambda: [f.poke() for _ in range(200_000)])   # a pipe holds 64 KiB
    rung.start()
    rung.join(30)
    assert not rung.is_alive(), "poke blocked on a full doorbell"
    link = filers.Link(mine, bell_theirs)
    assert link.wait_bell()             # the rings that fit are there to read
    bell.close()
    while link.wait_bell():
        pass                            # drained, then the daemon's end is gone: False
    for c in (theirs, mine, bell_theirs):
        c.close()


def test_a_filer_exiting_is_not_killed_as_late() -> None:
    # join wakes when the exiting process closes its descriptors, a moment before it can be
    # reaped; the daemon used to take that moment for "did not stop in time" and kill it.
    class Exiting:
        pid = 4242
        exitcode = 0

        def __init__(self) -> None:
            self.gone_at = time.monotonic() + 0.2
            self.killed = False

        def join(self, timeout: float | None = None) -> None:
            return None                 # the sentinel already fired

        def is_alive(self) -> bool:
            return time.monotonic() < self.gone_at

        def kill(self) -> None:
            self.killed = True

    class End:
        def close(self) -> None:
            pass

    cfg = parse({"inboxes": ["/tmp/alice-i"], "organized": "/tmp/alice-o", "data_dir": "/tmp/alice-d"}, environ={})
    f = filers.Filers(cfg, "postgresql://u@127.0.0.1/db", 0, on_message=lambda m: None, on_death=lambda p: None)
    proc = Exiting()
    f.filers.append(filers._Filer(proc=proc, conn=End(), bell=End()))
    f.join(time.monotonic() + 5)
    assert not proc.killed
