"""ReadinessTracker with a hand-driven clock: the rules without threads or sleeps."""
from __future__ import annotations

import os
from pathlib import Path

from alice.daemon.ingest.settle import ReadinessTracker, signature_of


def _write(p: Path, data: bytes, mtime_ns: int | None = None) -> None:
    p.write_bytes(data)
    if mtime_ns is not None:
        os.utime(p, ns=(mtime_ns, mtime_ns))


def test_settling_file_is_ready_only_after_settle_s_unchanged(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1", 1_000)
    t = ReadinessTracker(settle_s=5, open_quiet_s=60)
    t.touched(f, tmp_path, now=0, expect_close=False)
    assert t.due(4.9) == []
    _write(f, b"12", 2_000)  # grew before the check: starts over
    assert t.due(5.0) == []
    assert t.due(9.9) == []
    ready = t.due(10.0)
    assert [r.path for r in ready] == [f] and ready[0].signature[0] == 2
    assert t.pending_count() == 0


def test_activity_events_postpone_settling(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=5, open_quiet_s=60)
    t.touched(f, tmp_path, now=0, expect_close=False)
    t.touched(f, tmp_path, now=4, expect_close=False)
    assert t.due(5) == []
    assert [r.path for r in t.due(9)] == [f]


def test_open_file_waits_for_close_then_falls_back_after_open_quiet_s(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=30)
    t.touched(f, tmp_path, now=0, expect_close=True)
    assert t.due(29) == []
    assert t.due(30) == []  # now judged by stability: one more settle period
    assert [r.path for r in t.due(31)] == [f]


def test_close_delivers_at_once_and_not_twice(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=30)
    t.touched(f, tmp_path, now=0, expect_close=True)
    [r] = t.closed(f, tmp_path)
    t.delivered(r)
    assert t.closed(f, tmp_path) == []
    t.seen(f, tmp_path, signature_of(str(f)), now=1)
    assert t.due(100) == []


def test_rename_of_open_file_keeps_waiting_for_close(tmp_path):
    src, dst = tmp_path / "a.png", tmp_path / "b.png"
    _write(src, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=30)
    t.touched(src, tmp_path, now=0, expect_close=True)
    src.rename(dst)
    assert t.moved_in(dst, tmp_path, now=1, src=src) == []
    assert [r.path for r in t.closed(dst, tmp_path)] == [dst]


def test_rename_from_untracked_name_is_ready_at_once(tmp_path):
    dst = tmp_path / "x.png"
    _write(dst, b"1")
    t = ReadinessTracker(settle_s=100, open_quiet_s=300)
    assert [r.path for r in t.moved_in(dst, tmp_path, now=0, src=tmp_path / "x.part")] == [dst]


def test_vanished_and_non_regular_files_are_dropped(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=30)
    t.touched(f, tmp_path, now=0, expect_close=False)
    f.unlink()
    assert t.due(5) == [] and t.pending_count() == 0
    (tmp_path / "link.png").symlink_to(tmp_path / "elsewhere.png")
    t.touched(tmp_path / "link.png", tmp_path, now=0, expect_close=False)
    assert t.closed(tmp_path / "link.png", tmp_path) == []
    assert t.pending_count() == 0


def test_retain_delivered_forgets_filed_away_files(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=30)
    [r] = t.closed(f, tmp_path)
    t.delivered(r)
    t.retain_delivered([])
    assert [x.path for x in t.closed(f, tmp_path)] == [f]


def test_stop_expecting_close_switches_open_files_to_stability(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=300)
    t.touched(f, tmp_path, now=0, expect_close=True)
    t.stop_expecting_close(tmp_path, now=2)
    assert t.due(2) == []
    assert [r.path for r in t.due(3)] == [f]


def test_heap_stays_bounded_under_churn(tmp_path):
    f = tmp_path / "a.png"
    _write(f, b"1")
    t = ReadinessTracker(settle_s=1, open_quiet_s=300)
    for i in range(30_000):
        t.touched(f, tmp_path, now=i * 0.001, expect_close=True)
        t.gone(f)
    assert len(t._heap) <= 10_002
    t.touched(f, tmp_path, now=100, expect_close=False)
    assert [r.path for r in t.due(101)] == [f]
