"""Settled means settled: a file is taken once its writer closed it and it stayed unchanged
for watch.settle_seconds; a file cut short and still being written is never judged final."""
from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from alice.daemon.ingest.settle import ReadinessTracker
from alice.pipeline.identity import file_hash
from tests.daemon_env import DaemonProc, job_states, wait_until
from tests.organize_env import AliceEnv, media_files, tree_files


def big_png(seed: int) -> bytes:
    import random

    img = Image.frombytes("RGB", (128, 128), random.Random(seed).randbytes(128 * 128 * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_close_is_not_enough_the_file_must_then_stay_unchanged(tmp_path: Path):
    f = tmp_path / "a.png"
    f.write_bytes(b"x" * 10)
    t = ReadinessTracker(settle_s=2.0, open_quiet_s=30.0)
    assert t.closed(f, tmp_path, now=100.0) == []
    assert t.due(101.0) == []
    # The writer opens it again and appends: the close that counts is the next one.
    with open(f, "ab") as fh:
        fh.write(b"y")
    t.touched(f, tmp_path, 101.5, expect_close=True)
    assert t.due(104.0) == []
    assert t.closed(f, tmp_path, now=104.0) == []
    assert t.due(105.0) == []
    [ready] = t.due(106.1)
    assert ready.path == f and ready.signature[0] == 11


def test_a_file_changed_after_a_close_restarts_the_settle_time(tmp_path: Path):
    f = tmp_path / "a.png"
    f.write_bytes(b"x" * 10)
    t = ReadinessTracker(settle_s=1.0, open_quiet_s=30.0)
    assert t.closed(f, tmp_path, now=0.0) == []
    f.write_bytes(b"x" * 20)           # changed with no event seen (say, an overflowed queue)
    assert t.due(1.1) == []
    [ready] = t.due(2.2)
    assert ready.signature[0] == 20


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    return AliceEnv(tmp_path, db_url)


def test_a_writer_appending_and_closing_ten_times_ends_as_one_whole_file(env: AliceEnv):
    env.write_config(mode="move", workers=2, watch={"settle_seconds": 2, "rescan_minutes": 0},
                     queue={"lease_seconds": 10, "max_attempts": 5})
    data = big_png(1)
    assert len(data) > 20_000
    d = DaemonProc(env)
    target = env.inbox / "grow.png"
    try:
        d.wait_ready()
        step = -(-len(data) // 10)
        for i in range(10):
            with open(target, "ab") as fh:          # open, append, close: a close each time
                fh.write(data[i * step:(i + 1) * step])
            time.sleep(1.0)
        wait_until(lambda: not target.exists(), 60, what="the finished file filed and removed from the inbox")
        wait_until(lambda: job_states(env.db_url).get("queued", 0) + job_states(env.db_url).get("running", 0) == 0,
                   60, what="queue drained")
        assert d.terminate() == 0
    finally:
        if d.proc.poll() is None:
            d.kill()
    filed = media_files(env.organized)
    assert [file_hash(p) for p in filed] == [file_hash_of(data)], [p.name for p in filed]
    quarantined = [rel for rel in tree_files(env.organized) if rel.startswith(".quarantine")] \
        if env.organized.exists() else []
    assert quarantined == []


def file_hash_of(data: bytes) -> str:
    import blake3

    return "b3:" + blake3.blake3(data).hexdigest()


def test_alice_organize_judges_a_file_cut_short_at_once(env: AliceEnv):
    """A person runs organize on files they say are done: no waiting for them to settle."""
    env.write_config(mode="move", watch={"settle_seconds": 30})
    data = big_png(2)
    cut = env.inbox / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    [r] = _organize(env)
    assert r["status"] == "quarantined", r
    assert not cut.exists()


def _organize(env: AliceEnv) -> list[dict]:
    import json

    proc = env.run("organize", "--json", check=False)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
