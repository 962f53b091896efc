"""InboxWatcher against real inotify and real files in tmp dirs.

Every positive assertion waits on a condition with a generous timeout (the CI
machine is a loaded 2-core box); the few "must not happen yet" checks use
short windows and are backed by a positive check afterwards.
"""
from __future__ import annotations

import errno
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from watchdog.observers.inotify_c import InotifyConstants, InotifyEvent, InotifyFD

from alice.daemon.ingest import watcher as watcher_mod
from alice.daemon.ingest.ignore import default_ignore, ignored_under, make_ignore
from alice.daemon.ingest.inotify_observer import ReportingInotifyObserver
from alice.daemon.ingest.watcher import InboxWatcher, WatcherError

WAIT = 10.0


class Collector:
    """on_ready target: records (path, inbox, size at call time, monotonic time)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Path, Path, int, float]] = []
        self._cond = threading.Condition()

    def __call__(self, path: Path, inbox: Path) -> None:
        size = path.stat().st_size
        with self._cond:
            self.calls.append((path, inbox, size, time.monotonic()))
            self._cond.notify_all()

    def paths(self) -> list[Path]:
        with self._cond:
            return [c[0] for c in self.calls]

    def wait_for(self, path: Path, timeout: float = WAIT) -> tuple[Path, Path, int, float]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for c in self.calls:
                    if c[0] == path:
                        return c
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{path} not delivered within {timeout}s; got {self.paths()}")
                self._cond.wait(left)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    return inbox, outside


@pytest.fixture
def run_watcher():
    started: list[InboxWatcher] = []

    def start(inboxes, on_ready, **kw) -> InboxWatcher:
        kw.setdefault("settle_s", 0.3)
        kw.setdefault("rescan_s", 0)
        kw.setdefault("health_interval_s", 0.3)
        w = InboxWatcher(list(inboxes), on_ready, **kw)
        w.start()
        started.append(w)
        assert w.reconcile().wait(WAIT), "initial reconcile did not run"
        return w

    yield start
    for w in started:
        w.stop()


def wait_until(pred, timeout: float = WAIT, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.02)


# -- inotify -------------------------------------------------------------------


def test_copy_in_is_taken_once_complete(dirs, run_watcher):
    inbox, outside = dirs
    src = outside / "a.png"
    src.write_bytes(os.urandom(300_000))
    got = Collector()
    w = run_watcher([inbox], got)
    assert w.mode_by_inbox() == {str(inbox): "inotify"}

    shutil.copy(src, inbox / "a.png")

    path, where, size, _ = got.wait_for(inbox / "a.png")
    assert where == inbox and size == 300_000
    time.sleep(0.3)
    assert got.paths() == [inbox / "a.png"]


def test_explicit_reconcile_offers_unchanged_files_again(dirs, run_watcher):
    inbox, _ = dirs
    (inbox / "kept.png").write_bytes(b"k")
    got = Collector()
    w = run_watcher([inbox], got)
    got.wait_for(inbox / "kept.png")
    # e.g. after a catalog outage the consumer may have dropped what it was given
    w.reconcile()
    wait_until(lambda: len(got.paths()) == 2, what="second offer after reconcile()")
    assert got.paths() == [inbox / "kept.png"] * 2


def test_hard_link_into_the_inbox_is_taken_after_settling_not_after_the_open_file_wait(dirs, run_watcher):
    inbox, outside = dirs
    (outside / "l.png").write_bytes(b"l" * 1000)
    got = Collector()
    run_watcher([inbox], got, settle_s=0.3, open_quiet_s=300)   # no close event comes for a link
    os.link(outside / "l.png", inbox / "l.png")
    got.wait_for(inbox / "l.png", timeout=WAIT)


def test_move_in_from_outside(dirs, run_watcher):
    inbox, outside = dirs
    (outside / "m.webp").write_bytes(b"m" * 1000)
    got = Collector()
    run_watcher([inbox], got, settle_s=30)  # a move must not wait for the stability rule
    os.rename(outside / "m.webp", inbox / "m.webp")
    got.wait_for(inbox / "m.webp", timeout=WAIT)


def test_slow_write_is_taken_after_close_never_partial(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    # settle_s shorter than the pauses between chunks: the stability rule would
    # wrongly take the partial file here, so only the close event may trigger.
    run_watcher([inbox], got, settle_s=0.2)
    target = inbox / "slow.png"
    with open(target, "wb") as f:
        for _ in range(4):
            f.write(b"x" * 50_000)
            f.flush()
            time.sleep(0.35)
        assert got.paths() == [], "taken while still open for writing"
        closed_at = time.monotonic()
    _, _, size, at = got.wait_for(target)
    assert size == 200_000 and at >= closed_at
    time.sleep(0.3)
    assert got.paths() == [target]


def test_part_file_renamed_is_taken_once_under_final_name(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    run_watcher([inbox], got, settle_s=0.2)
    part = inbox / "x.part"
    with open(part, "wb") as f:
        f.write(b"y" * 10_000)
        f.flush()
        time.sleep(0.5)  # longer than settle_s: an ignored name must still not be taken
    os.rename(part, inbox / "x.png")
    got.wait_for(inbox / "x.png")
    time.sleep(0.4)
    assert got.paths() == [inbox / "x.png"]


def test_files_present_before_start_are_found_by_reconcile(dirs, run_watcher):
    inbox, _ = dirs
    (inbox / "project" / "sub").mkdir(parents=True)
    files = [inbox / "top.png", inbox / "project" / "p.jpg", inbox / "project" / "sub" / "deep.mp4"]
    for f in files:
        f.write_bytes(b"z" * 10)
    (inbox / ".hidden.png").write_bytes(b"h")
    (inbox / "dl.crdownload").write_bytes(b"c")
    got = Collector()
    run_watcher([inbox], got)
    for f in files:
        got.wait_for(f)
    assert sorted(got.paths()) == sorted(files)


def test_new_subfolders_and_folders_moved_in_whole(dirs, run_watcher):
    inbox, outside = dirs
    got = Collector()
    run_watcher([inbox], got, settle_s=0.3)
    (inbox / "later").mkdir()
    (inbox / "later" / "deeper").mkdir()
    (inbox / "later" / "deeper" / "n.png").write_bytes(b"n" * 100)
    got.wait_for(inbox / "later" / "deeper" / "n.png")

    batch = outside / "batch"
    (batch / "nested").mkdir(parents=True)
    (batch / "one.png").write_bytes(b"1")
    (batch / "nested" / "two.png").write_bytes(b"2")
    os.rename(batch, inbox / "batch")
    got.wait_for(inbox / "batch" / "one.png")
    got.wait_for(inbox / "batch" / "nested" / "two.png")


def test_ignored_files_and_nested_organized_tree_are_never_taken(dirs, run_watcher):
    inbox, _ = dirs
    organized = inbox / "organized"
    (organized / "2026").mkdir(parents=True)
    got = Collector()
    run_watcher([inbox], got, ignore=make_ignore([organized]))
    for name in (".dot.png", "a.crdownload", "b.tmp", "c.download", "d.png~"):
        (inbox / name).write_bytes(b"i")
    (organized / "2026" / "filed.png").write_bytes(b"o")
    (inbox / ".sync").mkdir()
    (inbox / ".sync" / "inside.png").write_bytes(b"s")
    (inbox / "real.png").write_bytes(b"r")  # sentinel: once it is seen, the others had their chance
    got.wait_for(inbox / "real.png")
    assert got.paths() == [inbox / "real.png"]


def test_open_file_without_close_is_taken_after_an_overflow(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    w = run_watcher([inbox], got, settle_s=0.2)
    writer = open(inbox / "h.png", "wb")       # created and written, never closed (yet)
    try:
        writer.write(b"h" * 100)
        writer.flush()
        time.sleep(0.6)
        assert got.paths() == [], "a created-but-not-closed file waits for its close (or open_quiet_s)"
        # An overflow may have eaten the close event: after one, stability decides.
        # The kernel reports it as an event with wd -1; feed one through watchdog's reader.
        fd = w._inotify._inotify_fd
        with capture_logs() as logs:
            fd.handle_event(InotifyEvent(-1, InotifyConstants.IN_Q_OVERFLOW, 0, b""))
            got.wait_for(inbox / "h.png")
        assert any(e.get("reason") == "inotify queue overflow" for e in logs)
    finally:
        writer.close()


def test_on_ready_failure_is_retried_by_the_next_scan(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    failures = []

    def flaky(path: Path, where: Path) -> None:
        if not failures:
            failures.append(path)
            raise ConnectionError("database down")
        got(path, where)

    w = run_watcher([inbox], flaky)
    (inbox / "f.png").write_bytes(b"f")
    wait_until(lambda: failures, what="first (failing) delivery")
    assert got.paths() == []
    w.reconcile()
    got.wait_for(inbox / "f.png")


class BatchCollector:
    """on_ready_many target: records each call's files; the first call waits for `release`."""

    def __init__(self) -> None:
        self.calls: list[list[Path]] = []
        self.release = threading.Event()

    def __call__(self, files: list[tuple[Path, Path]]) -> None:
        if not self.calls:
            self.calls.append([p for p, _ in files])
            assert self.release.wait(WAIT)
            return
        self.calls.append([p for p, _ in files])

    def paths(self) -> list[Path]:
        return [p for call in list(self.calls) for p in call]


def test_a_burst_is_handed_over_in_batches_each_file_once(dirs, run_watcher, monkeypatch):
    inbox, _ = dirs
    monkeypatch.setattr(watcher_mod, "READY_BATCH", 10)
    got = BatchCollector()
    w = run_watcher([inbox], lambda *_: pytest.fail("on_ready_many replaces on_ready"), on_ready_many=got)
    names = [f"f{i:02}.png" for i in range(30)]
    for name in names:
        (inbox / f"{name}.part").write_bytes(b"x")
    os.rename(inbox / f"{names[0]}.part", inbox / names[0])
    wait_until(lambda: got.calls, what="first delivery")
    for name in names[1:]:                      # while the consumer is busy: they pile up
        os.rename(inbox / f"{name}.part", inbox / name)
    wait_until(lambda: w._events.qsize() >= 29, what="the burst's events queued")
    got.release.set()
    wait_until(lambda: len(got.paths()) >= 30, what="every file delivered")
    time.sleep(0.5)
    assert sorted(got.paths()) == [inbox / n for n in names]    # each file once
    assert got.calls[0] == [inbox / names[0]]
    assert [len(c) for c in got.calls[1:]] == [10, 10, 9]       # one turn, in batches of READY_BATCH


def test_a_failed_batch_is_offered_again_by_the_next_scan(dirs, run_watcher):
    inbox, _ = dirs
    calls: list[list[Path]] = []

    def flaky(files: list[tuple[Path, Path]]) -> None:
        calls.append([p for p, _ in files])
        if len(calls) == 1:
            raise ConnectionError("database down")

    w = run_watcher([inbox], lambda *_: None, on_ready_many=flaky)
    (inbox / "a.png.part").write_bytes(b"a")
    os.rename(inbox / "a.png.part", inbox / "a.png")
    wait_until(lambda: calls, what="first (failing) delivery")
    w.reconcile()
    wait_until(lambda: len(calls) >= 2, what="offered again")
    assert calls[1] == [inbox / "a.png"]


def test_periodic_rescan_does_not_flood(dirs, run_watcher):
    inbox, _ = dirs
    (inbox / "still.png").write_bytes(b"s")
    got = Collector()
    run_watcher([inbox], got, rescan_s=0.2)
    got.wait_for(inbox / "still.png")
    time.sleep(1.0)  # ~5 rescans
    assert got.paths() == [inbox / "still.png"]


def test_changed_file_is_offered_again(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    run_watcher([inbox], got)
    (inbox / "c.png").write_bytes(b"first")
    got.wait_for(inbox / "c.png")
    (inbox / "c.png").write_bytes(b"second version")
    wait_until(lambda: len(got.paths()) == 2, what="second delivery after rewrite")
    assert got.calls[1][2] == len(b"second version")


def test_inbox_removed_and_recreated_is_watched_again(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    w = run_watcher([inbox], got)
    shutil.rmtree(inbox)
    wait_until(lambda: w.mode_by_inbox()[str(inbox)].startswith("error"), what="error mode")
    inbox.mkdir()
    wait_until(lambda: w.mode_by_inbox()[str(inbox)] == "inotify", what="inotify again")
    (inbox / "back.png").write_bytes(b"b")
    got.wait_for(inbox / "back.png")


def test_missing_inbox_at_start_is_an_error_mode_not_a_crash(tmp_path, run_watcher):
    missing = tmp_path / "not-yet"
    w = run_watcher([missing], Collector())
    assert w.mode_by_inbox()[str(missing)].startswith("error: inbox does not exist")
    assert w.healthy()


def test_inbox_that_is_a_file_is_an_error_mode(tmp_path, run_watcher):
    f = tmp_path / "inbox"
    f.write_bytes(b"not a folder")
    w = run_watcher([f], Collector())
    assert w.mode_by_inbox()[str(f)] == "error: inbox is not a folder"


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"inboxes": ["/a", "/a/sub"]}, "nested"),
    ({"inboxes": [42]}, "folder paths"),
    ({"settle_s": "2"}, "settle_s must be a number"),
    ({"rescan_s": -1}, ">= 0"),
    ({"on_ready": None}, "callable"),
    ({"on_ready_many": 3}, "on_ready_many must be callable"),
])
def test_bad_arguments_are_clear_errors(kwargs, match):
    args = {"inboxes": ["/a"], "on_ready": Collector(), "settle_s": 1, "rescan_s": 0} | kwargs
    with pytest.raises(WatcherError, match=match):
        InboxWatcher(**args)


# -- polling fallback --------------------------------------------------------------


def test_forced_polling_uses_stable_size(dirs, run_watcher):
    inbox, outside = dirs
    got = Collector()
    w = run_watcher([inbox], got, settle_s=0.8, force_polling=True, poll_interval_s=0.2)
    assert w.mode_by_inbox() == {str(inbox): "polling"}
    target = inbox / "net.png"
    with open(target, "wb") as f:
        for _ in range(5):
            f.write(b"n" * 10_000)
            f.flush()
            time.sleep(0.2)
        finished = time.monotonic()
    _, _, size, at = got.wait_for(target)
    assert size == 50_000
    assert at - finished >= 0.5, "polling must wait for size+mtime to be stable"
    (outside / "mv.png").write_bytes(b"m")
    os.rename(outside / "mv.png", inbox / "mv.png")
    got.wait_for(inbox / "mv.png")
    (outside / "folder" / "inner").mkdir(parents=True)
    (outside / "folder" / "inner" / "i.png").write_bytes(b"i")
    os.rename(outside / "folder", inbox / "folder")
    got.wait_for(inbox / "folder" / "inner" / "i.png")
    assert len(got.paths()) == len(set(got.paths())) == 3


def test_enospc_on_schedule_falls_back_to_polling(dirs, run_watcher, monkeypatch):
    inbox, _ = dirs

    def no_watches(self, *a, **kw):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(ReportingInotifyObserver, "schedule", no_watches)
    got = Collector()
    with capture_logs() as logs:
        w = run_watcher([inbox], got, poll_interval_s=0.2)
    assert w.mode_by_inbox() == {str(inbox): "polling"}
    assert "fs.inotify.max_user_watches" in w.notes_by_inbox()[str(inbox)]
    assert any(e["log_level"] == "error" and e.get("sysctl") == "fs.inotify.max_user_watches" for e in logs)
    (inbox / "p.png").write_bytes(b"p" * 10)
    got.wait_for(inbox / "p.png")


def test_enospc_on_a_subfolder_switches_inbox_to_polling(dirs, run_watcher, monkeypatch):
    inbox, _ = dirs
    got = Collector()
    w = run_watcher([inbox], got, poll_interval_s=0.2)
    assert w.mode_by_inbox() == {str(inbox): "inotify"}
    real_add = InotifyFD.add_callback

    def limited(self, path, mask, callback, id_):
        if path.endswith(b"deep"):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        return real_add(self, path, mask, callback, id_)

    monkeypatch.setattr(InotifyFD, "add_callback", limited)
    (inbox / "deep").mkdir()  # watchdog swallows this failure; the watcher must not
    wait_until(lambda: w.mode_by_inbox()[str(inbox)] == "polling", what="polling after ENOSPC")
    assert "deep" in w.notes_by_inbox()[str(inbox)]
    (inbox / "deep" / "d.png").write_bytes(b"d")
    got.wait_for(inbox / "deep" / "d.png")


def test_no_inotify_platform_polls(dirs, run_watcher, monkeypatch):
    inbox, _ = dirs
    monkeypatch.setattr(watcher_mod, "ReportingInotifyObserver", None)
    got = Collector()
    w = run_watcher([inbox], got, poll_interval_s=0.2)
    assert w.mode_by_inbox() == {str(inbox): "polling"}
    (inbox / "q.png").write_bytes(b"q")
    got.wait_for(inbox / "q.png")


# -- ignore rules --------------------------------------------------------------------


@pytest.mark.parametrize("name", [".DS_Store", ".x.png", "a.part", "A.PART", "b.crdownload", "c.tmp",
                                  "d.download", "e.png~", "f.partial"])
def test_default_ignore_temp_names(name):
    assert default_ignore(Path("/in") / name)


@pytest.mark.parametrize("name", ["a.png", "part.png", "tmp", "image.tmp.png", "ComfyUI_0001_.png"])
def test_default_ignore_keeps_real_names(name):
    assert not default_ignore(Path("/in") / name)


def test_make_ignore_excludes_trees_and_keeps_base_rules(tmp_path):
    ignore = make_ignore([tmp_path / "organized"])
    assert ignore(tmp_path / "organized")
    assert ignore(tmp_path / "organized" / "2026" / "x.png")
    assert not ignore(tmp_path / "organized-not" / "x.png")
    assert ignore(tmp_path / "x.part")


def test_ignored_under_judges_only_the_part_below_the_inbox():
    inbox = Path("/home/u/.local/share/alice/inbox")
    assert not ignored_under(inbox, inbox / "proj" / "a.png", default_ignore)
    assert ignored_under(inbox, inbox / ".trash" / "a.png", default_ignore)
    assert ignored_under(inbox, Path("/elsewhere/a.png"), default_ignore)


def test_inbox_renamed_away_and_replaced_is_watched_at_its_path(dirs, run_watcher):
    inbox, outside = dirs
    got = Collector()
    w = run_watcher([inbox], got)
    os.rename(inbox, outside / "old-inbox")  # inotify would keep following the old folder
    inbox.mkdir()
    (inbox / "fresh.png").write_bytes(b"f")  # no periodic rescan: only a new watch can see it
    got.wait_for(inbox / "fresh.png")
    assert w.mode_by_inbox()[str(inbox)] == "inotify"


def _only_emitter(w: InboxWatcher):
    [emitter] = list(w._inotify.emitters)
    return emitter


def test_dead_emitter_thread_is_replaced_and_reconciled(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    w = run_watcher([inbox], got)
    dead = _only_emitter(w)
    dead.stop()  # as if it had crashed
    dead.join(5)
    (inbox / "during.png").write_bytes(b"d")  # arrives while nothing watches
    got.wait_for(inbox / "during.png")
    wait_until(lambda: _only_emitter(w) is not dead and _only_emitter(w).is_alive(), what="new emitter")
    (inbox / "after.png").write_bytes(b"a")
    got.wait_for(inbox / "after.png")


def test_dead_inotify_reader_gets_a_new_observer(dirs, run_watcher):
    inbox, _ = dirs
    got = Collector()
    w = run_watcher([inbox], got)
    old = w._inotify
    old._inotify_fd.stop()  # the reader thread closes the inotify fd and exits
    old._inotify_fd.join(5)
    wait_until(lambda: w._inotify is not None and w._inotify is not old, what="replacement observer")
    assert w.mode_by_inbox()[str(inbox)] == "inotify"
    (inbox / "r.png").write_bytes(b"r")
    got.wait_for(inbox / "r.png")
