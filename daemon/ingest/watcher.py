"""Watching the inboxes: turning file-system events into "this file is ready" calls.

Threads:
  * watchdog's threads (inotify reader, emitters, dispatcher) only translate
    events into small tuples on a bounded queue; they never stat, scan or call
    out. If that queue fills up, events are dropped and a reconciliation scan is
    scheduled, which is exactly how an inotify overflow is handled.
  * one worker thread owns all state (ReadinessTracker, inbox modes), calls
    `on_ready`, runs scans, settle checks and health checks.

Each inbox is watched with inotify when possible and falls back to watchdog's
PollingObserver (size+mtime stability) when inotify is unavailable, when the
watch limit is reached, or when forced (network shares). An inbox whose folder
is missing or whose watcher died is re-attached by the health check, followed by
a reconciliation scan, so nothing that arrived in between is missed.
"""
from __future__ import annotations

import errno
import os
import queue
import stat as stat_mod
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog
from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.polling import PollingObserver

from alice.daemon.ingest.ignore import IgnoreRule, default_ignore, ignored_under
from alice.daemon.ingest.settle import ReadinessTracker, Ready

try:
    from alice.daemon.ingest.inotify_observer import ReportingInotifyObserver
except Exception:  # noqa: BLE001 - watchdog raises its own UnsupportedLibcError off Linux/glibc
    ReportingInotifyObserver = None  # type: ignore[assignment,misc]

__all__ = ["InboxWatcher", "WatcherError", "default_ignore"]

log = structlog.get_logger(__name__)

MODE_INOTIFY = "inotify"
MODE_POLLING = "polling"

_STOP = object()
READY_BATCH = 500     # files handed to on_ready_many at once: one transaction of a bounded size


class WatcherError(Exception):
    """The watcher cannot be set up as asked; the message says what to change."""


@dataclass
class _Attachment:
    mode: str
    note: str = ""
    observer: BaseObserver | None = None
    watch: ObservedWatch | None = None
    retry_at: float = 0.0
    inotify_refused: bool = False  # watch limit hit: stay on polling until restart
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the folder being watched


class _Forwarder(FileSystemEventHandler):
    """Runs on watchdog's dispatcher thread: translate and enqueue, nothing else."""

    def __init__(self, watcher: InboxWatcher, inbox: Path, expect_close: bool) -> None:
        self._watcher = watcher
        self._inbox = inbox
        self._expect_close = expect_close

    def dispatch(self, event: FileSystemEvent) -> None:
        item = _translate(event, self._inbox, self._expect_close)
        if item is not None:
            self._watcher._post(item)


def _translate(event: FileSystemEvent, inbox: Path, expect_close: bool) -> tuple | None:
    src = os.fsdecode(event.src_path)
    if isinstance(event, DirMovedEvent):
        dest = os.fsdecode(event.dest_path)
        # From outside: scan it, its files are whole. Renamed inside: watchdog sends
        # a FileMovedEvent per file, which carries each file's own state.
        return ("dir", inbox, dest, True) if dest and not src else None
    if isinstance(event, DirCreatedEvent):
        return ("dir", inbox, src, False)
    if event.is_directory:
        return None
    if isinstance(event, FileClosedEvent):
        return ("closed", inbox, src)
    if isinstance(event, FileMovedEvent):
        dest = os.fsdecode(event.dest_path)
        if not dest:
            return ("gone", inbox, src)
        return ("moved", inbox, dest, src or None)
    if isinstance(event, (FileCreatedEvent, FileModifiedEvent)):
        return ("touched", inbox, src, expect_close)
    if isinstance(event, FileDeletedEvent):
        return ("gone", inbox, src)
    return None


class InboxWatcher:
    """Calls `on_ready(path, inbox)` for each file in `inboxes` (recursively) that is complete.

    `settle_s`: how long size+mtime must stay unchanged when no close event can be seen.
    `rescan_s`: period of the safety-net full scan; 0 disables it.
    `ignore`: called with each path component below an inbox; True skips it (and,
    for a folder, everything inside).
    `force_polling`: never use inotify (network file systems, where remote writers
    produce no inotify events).
    `open_quiet_s`: a file inotify saw created but never closed is judged by
    stability after this long without events.

    `on_ready_many`, when given, is called instead of `on_ready` with every file
    found ready in one turn of the worker (up to READY_BATCH at a time), so a burst
    can be queued in one transaction.

    `on_ready` runs on the watcher's own thread; it must be quick (enqueue, return).
    If it raises, the file (for on_ready_many: every file of the call) is offered
    again by a later scan. The same unchanged
    file is not offered twice while it stays in the inbox, but may be after a
    restart: consumers must dedupe.
    """

    def __init__(self, inboxes: list[Path], on_ready: Callable[[Path, Path], None], settle_s: float,
                 rescan_s: float, ignore: IgnoreRule = default_ignore, *, force_polling: bool = False,
                 open_quiet_s: float = 300.0, poll_interval_s: float | None = None,
                 health_interval_s: float = 2.0, max_queued_events: int = 100_000,
                 on_ready_many: Callable[[list[tuple[Path, Path]]], None] | None = None) -> None:
        for name, value in (("settle_s", settle_s), ("rescan_s", rescan_s), ("open_quiet_s", open_quiet_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise WatcherError(f"{name} must be a number of seconds, got {value!r}")
        if not callable(on_ready):
            raise WatcherError(f"on_ready must be callable(path, inbox), got {on_ready!r}")
        if on_ready_many is not None and not callable(on_ready_many):
            raise WatcherError(f"on_ready_many must be callable([(path, inbox), ...]), got {on_ready_many!r}")
        if settle_s < 0 or rescan_s < 0:
            raise WatcherError(f"settle_s and rescan_s must be >= 0 (got {settle_s}, {rescan_s}); "
                               f"use rescan_s=0 to disable the periodic rescan")
        self._inboxes = _distinct_inboxes(inboxes)
        self._on_ready = on_ready
        self._on_ready_many = on_ready_many
        self._ready: list[Ready] = []      # found ready this turn, handed over at its end
        self._settle_s = settle_s
        self._rescan_s = rescan_s
        self._ignore = ignore
        self._force_polling = force_polling
        self._poll_interval_s = poll_interval_s or min(max(settle_s / 2, 0.5), 5.0)
        self._health_interval_s = health_interval_s
        self._tracker = ReadinessTracker(settle_s, open_quiet_s)
        self._events: queue.Queue = queue.Queue(maxsize=max_queued_events)
        self._events_dropped = threading.Event()
        self._overflowed = threading.Event()
        self._watch_limit_paths: deque[str] = deque(maxlen=1000)
        self._attachments: dict[Path, _Attachment] = {i: _Attachment("error: not started") for i in self._inboxes}
        self._lock = threading.Lock()
        self._inotify: BaseObserver | None = None
        self._polling: BaseObserver | None = None
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._next_health = 0.0
        self._next_rescan = 0.0

    # -- public API ---------------------------------------------------------

    def start(self) -> None:
        """Attach watchers to every inbox, then start the worker; the first
        reconciliation scan runs right away on the worker."""
        if self._worker is not None:
            raise WatcherError("InboxWatcher.start() called twice; create a new watcher instead")
        now = time.monotonic()
        for inbox in self._inboxes:
            self._attach(inbox, now)
        self._next_health = now + self._health_interval_s
        self._next_rescan = now + self._rescan_s if self._rescan_s else float("inf")
        self.reconcile()
        self._worker = threading.Thread(target=self._run, name="alice-watcher", daemon=True)
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching. Files not yet ready stay where they are; the next start's reconcile finds them."""
        self._stopping.set()
        self._put_control(_STOP)
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout)
        for observer in (self._inotify, self._polling):
            if observer is not None:
                _stop_observer(observer, timeout)
        self._inotify = self._polling = None

    def reconcile(self) -> threading.Event:
        """Ask for a full scan of all inboxes that offers every ready file again, even ones
        already handed over (call it when the consumer may have lost them, e.g. after a
        catalog outage). The returned event is set once the scan has run; the files follow
        after settle_s. Internal scans (periodic, after overflow) offer only new or changed files."""
        done = threading.Event()
        self._put_control(("reconcile", done, "requested"))
        return done

    def mode_by_inbox(self) -> dict[str, str]:
        """{inbox: "inotify" | "polling" | "error: <why>"}"""
        with self._lock:
            return {str(i): a.mode for i, a in self._attachments.items()}

    def notes_by_inbox(self) -> dict[str, str]:
        """Why an inbox is not on inotify (watch limit, forced, error), for status displays."""
        with self._lock:
            return {str(i): a.note for i, a in self._attachments.items() if a.note}

    def healthy(self) -> bool:
        """The worker is alive (for the systemd watchdog). Inboxes in error do not count:
        they are retried, and restarting alice would not bring a missing folder back."""
        return self._worker is not None and self._worker.is_alive() and not self._stopping.is_set()

    def pending_count(self) -> int:
        """Files seen but not yet ready (approximate; read without locking)."""
        return self._tracker.pending_count()

    # -- called from watchdog threads ---------------------------------------

    def _post(self, item: tuple) -> None:
        try:
            self._events.put_nowait(item)
        except queue.Full:
            self._events_dropped.set()

    def _put_control(self, item: object) -> None:
        # Control messages must not be lost to a full queue; the worker drains quickly.
        while True:
            try:
                self._events.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._worker is None or not self._worker.is_alive():
                    self._events_dropped.set()
                    return

    def _on_overflow(self) -> None:
        self._overflowed.set()

    def _on_watch_limit(self, folder: str) -> None:
        self._watch_limit_paths.append(folder)

    # -- worker -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            wait = max(0.0, min(self._next_wakeup(now) - now, self._health_interval_s))
            try:
                item = self._events.get(timeout=wait)
            except queue.Empty:
                item = None
            batch = [item] if item is not None else []
            while len(batch) < 1000:
                try:
                    batch.append(self._events.get_nowait())
                except queue.Empty:
                    break
            for it in batch:
                if it is _STOP:
                    self._guarded(self._hand_over)
                    return
                self._guarded(self._handle, it)
            self._guarded(self._housekeeping)
            self._guarded(self._hand_over)

    def _guarded(self, fn: Callable, *args: object) -> None:
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - the worker must outlive any single bad file or bug
            log.exception("watcher step failed; continuing", step=getattr(fn, "__name__", "?"))

    def _next_wakeup(self, now: float) -> float:
        due = self._tracker.next_due()
        nxt = min(self._next_health, self._next_rescan)
        return min(nxt, due) if due is not None else nxt

    def _handle(self, item: tuple) -> None:
        kind = item[0]
        now = time.monotonic()
        if kind == "reconcile":
            _, done, reason = item
            self._tracker.forget_delivered()
            self._full_scan(reason)
            done.set()
            return
        inbox: Path = item[1]
        path = Path(item[2])
        if kind == "moved":
            src = Path(item[3]) if item[3] else None
            dest_ignored = ignored_under(inbox, path, self._ignore)
            src_watched = src is not None and not ignored_under(inbox, src, self._ignore)
            if dest_ignored:
                if src_watched and src is not None:
                    self._tracker.gone(src)
                return
            self._deliver(self._tracker.moved_in(path, inbox, now, src if src_watched else None))
            return
        if ignored_under(inbox, path, self._ignore):
            return
        if kind == "closed":
            self._deliver(self._tracker.closed(path, inbox, now))
        elif kind == "touched":
            self._tracker.touched(path, inbox, now, expect_close=item[3])
        elif kind == "gone":
            self._tracker.gone(path)
        elif kind == "dir":
            self._scan_new_folder(path, inbox, moved_in=item[3], now=now)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self._overflowed.is_set() or self._events_dropped.is_set():
            reason = "inotify queue overflow" if self._overflowed.is_set() else "watcher event queue full"
            self._overflowed.clear()
            self._events_dropped.clear()
            log.warning("file events were lost; running a reconciliation scan", reason=reason)
            self._full_scan(reason, events_lost=True)
        while self._watch_limit_paths:
            self._watch_limit_reached(self._watch_limit_paths.popleft(), now)
        if now >= self._next_health:
            self._next_health = now + self._health_interval_s
            self._health_check(now)
        if now >= self._next_rescan:
            self._next_rescan = now + self._rescan_s
            self._full_scan("periodic rescan")
        self._deliver(self._tracker.due(time.monotonic()))

    def _deliver(self, ready: list[Ready]) -> None:
        self._ready.extend(ready)

    def _hand_over(self) -> None:
        """Give the consumer what this turn found ready: in batches to on_ready_many, else file by file."""
        ready, self._ready = self._ready, []
        step = READY_BATCH if self._on_ready_many is not None else 1
        for i in range(0, len(ready), step):
            self._offer(ready[i:i + step])

    def _offer(self, ready: list[Ready]) -> None:
        try:
            if self._on_ready_many is not None:
                self._on_ready_many([(r.path, r.inbox) for r in ready])
            else:
                self._on_ready(ready[0].path, ready[0].inbox)
        except Exception as e:  # noqa: BLE001 - a consumer failure must not stop the watcher
            log.error("on_ready failed; the file will be offered again by the next scan",
                      path=str(ready[0].path), files=len(ready), inbox=str(ready[0].inbox), error=repr(e))
            return
        for r in ready:
            self._tracker.delivered(r)

    # -- scans --------------------------------------------------------------

    def _full_scan(self, reason: str, events_lost: bool = False) -> None:
        self._hand_over()       # what is ready now counts as delivered before the scan looks
        started = time.monotonic()
        if events_lost:
            # A close event may be among the lost ones: judge open files by stability instead.
            for inbox in self._inboxes:
                self._tracker.stop_expecting_close(inbox, started)
        present: list[str] = []
        for inbox in self._inboxes:
            if not inbox.is_dir():
                continue
            for path, sig in self._walk(inbox, inbox):
                present.append(path)
                self._tracker.seen(Path(path), inbox, sig, time.monotonic())
        self._tracker.retain_delivered(present)
        log.info("reconciliation scan done", reason=reason, files=len(present),
                 pending=self._tracker.pending_count(), seconds=round(time.monotonic() - started, 3))

    def _scan_new_folder(self, folder: Path, inbox: Path, moved_in: bool, now: float) -> None:
        for path, sig in self._walk(folder, inbox):
            if moved_in:
                self._deliver(self._tracker.moved_in(Path(path), inbox, now))
            else:
                self._tracker.seen(Path(path), inbox, sig, now)

    def _walk(self, top: Path, inbox: Path) -> Iterator[tuple[str, tuple[int, int, int]]]:
        """Regular files below `top` that are not ignored, with their signature.
        Symlinks are neither followed nor taken. Unreadable folders are logged and skipped."""
        if ignored_under(inbox, top, self._ignore) and top != inbox:
            return
        stack = [str(top)]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = list(it)
            except OSError as e:
                log.warning("cannot list folder during scan; skipping it", folder=folder, error=str(e))
                continue
            for entry in entries:
                p = Path(entry.path)
                try:
                    if self._ignore(p):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished between listing and stat
                if stat_mod.S_ISREG(st.st_mode):
                    yield entry.path, (st.st_size, st.st_mtime_ns, st.st_ino)

    # -- attaching observers ------------------------------------------------

    def _attach(self, inbox: Path, now: float) -> None:
        previous = self._attachments.get(inbox)
        refused = previous.inotify_refused if previous else False
        if not inbox.is_dir():
            what = "does not exist" if not inbox.exists() else "is not a folder"
            mode = f"error: inbox {what}"
            if previous is None or previous.mode != mode:
                # Once, not on every retry: the person must learn why nothing gets filed from it.
                log.warning(f"inbox {what}; alice keeps checking and starts watching it once it is there",
                            inbox=str(inbox), retry_every_s=self._health_interval_s,
                            fix=f"mkdir -p {inbox}   (or correct 'inboxes' in the configuration)")
            self._set(inbox, _Attachment(mode, f"{inbox} {what}; retrying",
                                         retry_at=now + self._health_interval_s, inotify_refused=refused))
            return
        note = ""
        if self._force_polling:
            note = "polling forced by configuration"
        elif refused:
            note = previous.note if previous else ""
        elif ReportingInotifyObserver is None:
            note = "inotify is not available on this platform"
        else:
            try:
                observer = self._inotify_observer()
                watch = observer.schedule(_Forwarder(self, inbox, True), str(inbox), recursive=True)
                self._set(inbox, _Attachment(MODE_INOTIFY, observer=observer, watch=watch,
                                             identity=_identity(inbox)))
                return
            except OSError as e:
                note, refused = self._inotify_failure(inbox, e)
        try:
            observer = self._polling_observer()
            watch = observer.schedule(_Forwarder(self, inbox, False), str(inbox), recursive=True)
        except OSError as e:
            self._set(inbox, _Attachment(f"error: cannot watch: {e}", f"{note}; polling failed too: {e}",
                                         retry_at=now + self._health_interval_s, inotify_refused=refused))
            log.error("cannot watch inbox, will retry", inbox=str(inbox), error=str(e))
            return
        self._set(inbox, _Attachment(MODE_POLLING, note, observer, watch, inotify_refused=refused,
                                     identity=_identity(inbox)))
        self._tracker.stop_expecting_close(inbox, now)
        log.info("watching inbox by polling", inbox=str(inbox), reason=note, interval_s=self._poll_interval_s)

    def _inotify_failure(self, inbox: Path, e: OSError) -> tuple[str, bool]:
        if e.errno == errno.ENOSPC:
            return _watch_limit_note(inbox), True
        if e.errno == errno.EMFILE:
            note = ("inotify instance limit reached (fs.inotify.max_user_instances = "
                    f"{_read_sysctl('max_user_instances')}); polling instead. Raise it with "
                    "`sudo sysctl fs.inotify.max_user_instances=1024` and restart alice")
            log.error("inotify instance limit reached; falling back to polling", inbox=str(inbox), hint=note)
            self._inotify = None
            return note, False
        note = f"inotify failed ({e}); polling instead"
        log.warning("inotify failed; falling back to polling", inbox=str(inbox), error=str(e))
        return note, False

    def _watch_limit_reached(self, folder: str, now: float) -> None:
        inbox = next((i for i in self._inboxes if folder == str(i) or folder.startswith(str(i) + os.sep)), None)
        if inbox is None:
            return
        att = self._attachments[inbox]
        if att.mode != MODE_INOTIFY:
            return
        self._detach(inbox)
        self._set(inbox, _Attachment(att.mode, _watch_limit_note(inbox, folder), inotify_refused=True))
        self._attach(inbox, now)
        self._full_scan(f"switched {inbox} to polling", events_lost=True)

    def _health_check(self, now: float) -> None:
        rescan = False
        for inbox in self._inboxes:
            att = self._attachments[inbox]
            if att.mode.startswith("error"):
                if now >= att.retry_at:
                    self._attach(inbox, now)
                    if not self._attachments[inbox].mode.startswith("error"):
                        event = ("inbox appeared; watching it now" if att.mode.startswith("error: inbox")
                                 else "inbox is watched again")
                        log.warning(event, inbox=str(inbox), mode=self._attachments[inbox].mode)
                        rescan = True
                continue
            identity = _identity(inbox)
            if _watch_alive(att) and identity == att.identity:
                continue
            # inotify follows the folder's inode: a renamed or replaced inbox folder
            # would keep being watched at its old inode while the path goes unwatched.
            why = ("inbox folder disappeared" if identity is None else
                   "inbox folder was replaced" if identity != att.identity else "watcher thread stopped")
            log.error("inbox watcher stopped; re-attaching", inbox=str(inbox), reason=why)
            self._detach(inbox)
            if att.observer is not None and _observer_broken(att.observer):
                self._drop_observer(att.observer)
            self._attach(inbox, now)
            rescan = True
        if rescan:
            self._full_scan("watcher recovered", events_lost=True)

    def _detach(self, inbox: Path) -> None:
        att = self._attachments[inbox]
        if att.observer is not None and att.watch is not None:
            try:
                att.observer.unschedule(att.watch)
            except (KeyError, RuntimeError, OSError) as e:
                log.debug("unschedule failed", inbox=str(inbox), error=repr(e))

    def _drop_observer(self, observer: BaseObserver) -> None:
        if observer is not self._inotify and observer is not self._polling:
            return  # already replaced
        _stop_observer(observer, 5.0)
        if observer is self._inotify:
            self._inotify = None
        if observer is self._polling:
            self._polling = None

    def _inotify_observer(self) -> BaseObserver:
        if self._inotify is None:
            observer = ReportingInotifyObserver(self._on_overflow, self._on_watch_limit)
            observer.name = "alice-inotify"
            observer.start()
            self._inotify = observer
        return self._inotify

    def _polling_observer(self) -> BaseObserver:
        if self._polling is None:
            observer = PollingObserver(timeout=self._poll_interval_s)
            observer.name = "alice-polling"
            observer.start()
            self._polling = observer
        return self._polling

    def _set(self, inbox: Path, att: _Attachment) -> None:
        with self._lock:
            self._attachments[inbox] = att


def _observer_broken(observer: BaseObserver) -> bool:
    if not observer.is_alive():
        return True
    reader_alive = getattr(observer, "reader_alive", None)  # the inotify fd reader thread
    return reader_alive is not None and not reader_alive()


def _watch_alive(att: _Attachment) -> bool:
    observer = att.observer
    if observer is None or _observer_broken(observer):
        return False
    return any(e.watch == att.watch and e.is_alive() for e in list(observer.emitters))


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _stop_observer(observer: BaseObserver, timeout: float) -> None:
    try:
        observer.stop()
        observer.join(timeout)
    except RuntimeError:
        pass  # never started


def _watch_limit_note(inbox: Path, folder: str | None = None) -> str:
    where = f" while adding a watch for {folder}" if folder and folder != str(inbox) else ""
    note = (f"inotify watch limit reached (fs.inotify.max_user_watches = {_read_sysctl('max_user_watches')})"
            f"{where}; polling {inbox} instead. Raise the limit with "
            "`sudo sysctl fs.inotify.max_user_watches=524288` (persist it in /etc/sysctl.d/) and restart alice")
    log.error("inotify watch limit reached; falling back to polling", inbox=str(inbox), folder=folder,
              sysctl="fs.inotify.max_user_watches", hint=note)
    return note


def _read_sysctl(name: str) -> str:
    try:
        return Path(f"/proc/sys/fs/inotify/{name}").read_text().strip()
    except OSError:
        return "unknown"


def _distinct_inboxes(inboxes: list[Path]) -> list[Path]:
    out: list[Path] = []
    for raw in inboxes:
        if not isinstance(raw, (str, os.PathLike)):
            raise WatcherError(f"inboxes must be folder paths, got {raw!r}")
        p = Path(os.path.abspath(raw))
        if p in out:
            continue
        for other in out:
            if other in p.parents or p in other.parents:
                raise WatcherError(f"inbox {p} is nested in inbox {other}; list only the outer one "
                                   f"(subfolders are watched too)")
        out.append(p)
    return out
