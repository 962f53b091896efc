"""`alice run` as a real subprocess: every way a file arrives, crashes, two daemons."""
from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from alice.daemon.fs.fileops import TEMP_PREFIX
from alice.pipeline.identity import file_hash as hash_file
from tests.daemon_env import DaemonProc, job_states, rows, unique_png, wait_until, write_slowly
from tests.leftovers import assert_none_left, children_of
from tests.organize_env import AliceEnv, media_files, tree_files


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=2, watch={"settle_seconds": 1, "rescan_minutes": 0},
                   queue={"lease_seconds": 10, "max_attempts": 5})
    return e


def organized_count(env: AliceEnv) -> int:
    return len(media_files(env.organized)) if env.organized.exists() else 0


def assert_tree_matches_catalog(env: AliceEnv) -> None:
    media = {str(p) for p in media_files(env.organized)}
    catalog = {r[0] for r in rows(env.db_url, "SELECT path FROM locations WHERE role='organized' AND present")}
    assert catalog == media
    hashes = Counter(hash_file(Path(p)) for p in media)
    assert all(n == 1 for n in hashes.values()), "a file was filed twice"
    assert not [p for p in tree_files(env.organized) if Path(p).name.startswith(TEMP_PREFIX)]


def test_every_way_a_file_arrives_is_filed_once(env: AliceEnv, tmp_path):
    project = env.inbox / "proj"
    project.mkdir(parents=True)
    (env.inbox / "before.png").write_bytes(unique_png(0))          # there before the daemon starts
    d = DaemonProc(env)
    try:
        d.wait_ready()
        shutil.copyfile(Path(__file__).parent / "daemon_env.py", tmp_path / "ignored.txt")
        # copy in
        (project / "copied.png").write_bytes(unique_png(1))
        # move in from outside the inbox
        outside = tmp_path / "outside.png"
        outside.write_bytes(unique_png(2))
        os.rename(outside, project / "moved.png")
        # slow write in chunks
        write_slowly(project / "slow.png", unique_png(3, size=64), chunks=5, pause=0.4)
        # partial name, then renamed
        (project / "download.png.part").write_bytes(unique_png(4))
        os.rename(project / "download.png.part", project / "download.png")
        # a folder moved in as a whole
        folder = tmp_path / "newproj"
        folder.mkdir()
        (folder / "inside.png").write_bytes(unique_png(5))
        os.rename(folder, env.inbox / "newproj")

        wait_until(lambda: organized_count(env) >= 6, 60, what="six files filed")
        wait_until(lambda: job_states(env.db_url).get("queued", 0) + job_states(env.db_url).get("running", 0) == 0,
                   30, what="queue drained")
        import json

        status = wait_until(lambda: (lambda st: st if st["local_daemons"] else None)(
            json.loads(env.run("status", "--json").stdout)), 15, what="daemon status file")
        assert [x["worker"].split(":")[1] for x in status["daemons"]] == [str(d.proc.pid)]
        assert status["local_daemons"][0]["watchers"] == {str(env.inbox): "inotify"}
        assert status["queue"]["done"] >= 6 and status["queue"]["queued"] == 0
        assert d.terminate() == 0
    finally:
        if d.proc.poll() is None:
            d.kill()
    assert json.loads(env.run("status", "--json").stdout)["daemons"] == []
    names = sorted(p.name for p in media_files(env.organized))
    assert names == sorted(["before.png", "copied.png", "moved.png", "slow.png", "download.png", "inside.png"])
    slow = next(p for p in media_files(env.organized) if p.name == "slow.png")
    assert slow.read_bytes() == unique_png(3, size=64), "slow write filed before it was complete"
    organized_events = rows(env.db_url, "SELECT path FROM events WHERE kind='organized'")
    assert len(organized_events) == 6
    assert "STOPPING=1" in "\n".join(d.messages)
    assert_tree_matches_catalog(env)
    # JSON log lines (not a terminal), one correlation id per job on each of its lines
    lines = [json.loads(x) for x in (env.root / "daemon-d.log").read_text().splitlines() if x.startswith("{")]
    filed = [x for x in lines if x.get("event") == "file" and x.get("status") == "organized"]
    assert len(filed) == 6
    assert len({x["correlation_id"] for x in filed}) == 6
    assert all(x["correlation_id"].startswith("job-") and x["path"] for x in filed)


@pytest.mark.slow
def test_sigkill_during_a_burst_loses_nothing(env: AliceEnv):
    env.write_config(mode="move", workers=2, watch={"settle_seconds": 1, "rescan_minutes": 0},
                     queue={"lease_seconds": 3, "max_attempts": 10})
    n = 500
    expected = {}
    d = DaemonProc(env, "k0")
    d.wait_ready()
    for i in range(n):
        sub = env.inbox / f"p{i % 3}"
        sub.mkdir(exist_ok=True)
        data = unique_png(1000 + i)
        (sub / f"f{i}.png").write_bytes(data)
        expected[hash_file(sub / f"f{i}.png")] = f"f{i}.png"
    kills = 0
    for round_ in range(6):
        # let it work a little, then kill it hard mid-burst
        start = organized_count(env)
        wait_until(lambda start=start: organized_count(env) > start or organized_count(env) >= n, 60, interval=0.05,
                   what="progress before kill")
        d.kill()
        kills += 1
        d = DaemonProc(env, f"k{round_ + 1}")
        d.wait_ready()
    wait_until(lambda: not [p for p in env.inbox.rglob("*") if p.is_file()], 240, interval=0.5,
               what="inbox emptied")
    wait_until(lambda: job_states(env.db_url).get("running", 0) + job_states(env.db_url).get("queued", 0) == 0,
               60, what="no job left queued or running")
    assert d.terminate() == 0
    assert kills >= 5
    assert_none_left(env.config)        # six SIGKILLs, no worker or resource tracker left behind
    filed = {hash_file(p): p.name for p in media_files(env.organized)}
    assert set(filed) == set(expected), f"missing {len(set(expected) - set(filed))}"
    assert_tree_matches_catalog(env)
    assert job_states(env.db_url).get("failed", 0) == 0


def test_two_daemons_share_one_catalog_and_inbox(env: AliceEnv):
    n = 120
    a, b = DaemonProc(env, "a"), DaemonProc(env, "b")
    try:
        a.wait_ready()
        b.wait_ready()
        for i in range(n):
            (env.inbox / f"two{i}.png").write_bytes(unique_png(5000 + i))
        wait_until(lambda: organized_count(env) >= n, 120, what="all filed")
        wait_until(lambda: job_states(env.db_url).get("queued", 0) + job_states(env.db_url).get("running", 0) == 0,
                   30, what="queue drained")
        # Each daemon files with its filing processes too (daemon/ingest/filers.py).
        family = {str(pid): d.name for d in (a, b) for pid in (d.proc.pid, *children_of(d.proc.pid))}
        assert a.terminate() == 0 and b.terminate() == 0
    finally:
        for d in (a, b):
            if d.proc.poll() is None:
                d.kill()
    by_worker = dict(rows(env.db_url, "SELECT split_part(worker, ':', 2), count(*) FROM jobs "
                                      "WHERE state='done' GROUP BY 1"))
    assert {family[pid] for pid in by_worker} == {"a", "b"}, f"both daemons should have done work: {by_worker}"
    per_path = rows(env.db_url, "SELECT coalesce(data->>'source', path), count(*) FROM events "
                                "WHERE kind IN ('organized', 'duplicate') GROUP BY 1 HAVING count(*) > 1")
    assert per_path == [], "a file was processed twice"
    assert organized_count(env) == n
    assert_tree_matches_catalog(env)


@pytest.mark.slow
def test_catalog_outage_mid_burst_pauses_and_resumes(tmp_path):
    # Not under tmp_path: pytest resets /tmp/pytest-of-<user> to 0700, which would lock
    # out the server's own user (PostgreSQL runs as "pgserver" when we are root).
    import tempfile

    from tests.private_pg import PrivatePostgres

    pg = PrivatePostgres(Path(tempfile.mkdtemp(prefix="alice-pg-")) / "pg").init()
    pg.start()
    env = AliceEnv(tmp_path / "alice", pg.url)
    env.write_config(workers=2, watch={"settle_seconds": 1, "rescan_minutes": 0},
                     queue={"lease_seconds": 10, "max_attempts": 5})
    d = DaemonProc(env, "outage")
    try:
        d.wait_ready()
        n = 200
        for i in range(n):
            (env.inbox / f"o{i}.png").write_bytes(unique_png(9000 + i))
        wait_until(lambda: organized_count(env) >= 10, 60, interval=0.05, what="some progress")
        pg.stop()                                   # the catalog goes away mid-burst
        for i in range(n, n + 50):                  # files keep arriving while it is down
            (env.inbox / f"o{i}.png").write_bytes(unique_png(9000 + i))
        import time
        time.sleep(3)
        assert d.proc.poll() is None, "the daemon died when the catalog went away:\n" + d.tail()
        pg.start()
        wait_until(lambda: organized_count(env) >= n + 50, 180, what="everything filed after the outage")
        wait_until(lambda: job_states(env.db_url).get("queued", 0) + job_states(env.db_url).get("running", 0) == 0,
                   60, what="queue drained")
        assert d.terminate() == 0
        assert_tree_matches_catalog(env)
    finally:
        if d.proc.poll() is None:
            d.kill()
        pg.destroy()
