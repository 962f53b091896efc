"""Deciding when a file in an inbox is complete enough to hand to the pipeline.

A file is ready when
  * its writer closed it after writing (inotify IN_CLOSE_WRITE) and it then
    stayed unchanged for `settle_s` (a writer that appends and closes again and
    again is not done after its first close), or
  * it was renamed or moved into place (a rename is atomic: the content is whole), or
  * no close event can be seen (polling, network shares, files found by a scan)
    and its size, mtime and inode stayed the same for `settle_s`.

A file that inotify saw being created but never closed (hard links, a writer
that keeps it open) falls back to the stability rule after `open_quiet_s`
without any event, so it is late rather than lost.

This class is a single-threaded state machine: the watcher's worker thread owns
it, the clock is passed in, and stat is injectable, so it is tested without
threads or sleeps. Memory is bounded by the number of files currently sitting
in the inboxes: entries leave when a file is delivered, vanishes, or a rescan
no longer sees it.
"""
from __future__ import annotations

import heapq
import itertools
import os
import stat as stat_mod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

Signature = tuple[int, int, int]  # size, mtime_ns, inode


@dataclass(frozen=True)
class Ready:
    path: Path
    inbox: Path
    signature: Signature


@dataclass
class _Entry:
    inbox: Path
    awaiting_close: bool
    signature: Signature | None
    quiet_since: float
    due: float


def signature_of(path: str, stat: Callable[[str], os.stat_result] = os.stat) -> Signature | None:
    """(size, mtime_ns, inode) of a regular file, None when it is gone or not a regular file."""
    try:
        st = stat(path)
    except (OSError, ValueError):
        return None
    if not stat_mod.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


class ReadinessTracker:
    def __init__(self, settle_s: float, open_quiet_s: float,
                 stat: Callable[[str], os.stat_result] = os.lstat) -> None:
        if settle_s < 0 or open_quiet_s < 0:
            raise ValueError(f"settle_s and open_quiet_s must be >= 0, got {settle_s} and {open_quiet_s}")
        self.settle_s = settle_s
        self.open_quiet_s = max(open_quiet_s, settle_s)
        # lstat by default: a symlink is not a regular file, so links are never taken
        # (moving the link would leave the real file behind).
        self._stat = stat
        self._entries: dict[str, _Entry] = {}
        self._delivered: dict[str, Signature] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    # -- events -------------------------------------------------------------

    def closed(self, path: Path, inbox: Path, now: float | None = None) -> list[Ready]:
        """The writer closed the file after writing: ready once it has stayed unchanged
        for settle_s from `now` (at once without a clock, or with settle_s 0)."""
        key = str(path)
        self._entries.pop(key, None)
        if now is None or self.settle_s == 0:
            return self._ready_now(key, inbox)
        sig = signature_of(key, self._stat)
        if sig is None or self._delivered.get(key) == sig:
            return []
        self._track(key, _Entry(inbox, False, sig, now, 0.0), now + self.settle_s)
        return []

    def moved_in(self, path: Path, inbox: Path, now: float, src: Path | None = None) -> list[Ready]:
        """Renamed or moved into place. If the source was still open for writing
        the destination keeps waiting for the close."""
        key = str(path)
        moved = self._entries.pop(str(src), None) if src is not None else None
        if src is not None:
            self._delivered.pop(str(src), None)
        if moved is not None and moved.awaiting_close:
            moved.quiet_since = now
            self._track(key, moved, now + self.open_quiet_s)
            return []
        self._entries.pop(key, None)
        return self._ready_now(key, inbox)

    def touched(self, path: Path, inbox: Path, now: float, expect_close: bool) -> None:
        """Created or written to. `expect_close`: a close event will follow (inotify)."""
        key = str(path)
        entry = self._entries.get(key)
        if entry is not None:
            if expect_close and not entry.awaiting_close:
                if signature_of(key, self._stat) == entry.signature:
                    return  # an event about the write that was already closed (replayed or synthetic)
                # Written again after a close: wait for the next close, then settle again.
                entry.awaiting_close = True
                entry.signature = None
                self._schedule(key, entry, now + self.open_quiet_s)
            entry.quiet_since = now
            return
        sig = signature_of(key, self._stat)
        if sig is None or self._delivered.get(key) == sig:
            # Gone already, or a replayed event for a file we handed over unchanged.
            return
        if expect_close and self._hard_link(key):
            # `ln`/`cp -l` into an inbox creates a name for bytes that are already
            # complete: no writer opened it, so no close event will come.
            expect_close = False
        if expect_close:
            self._track(key, _Entry(inbox, True, None, now, 0.0), now + self.open_quiet_s)
        else:
            self._track(key, _Entry(inbox, False, sig, now, 0.0), now + self.settle_s)

    def _hard_link(self, key: str) -> bool:
        try:
            return self._stat(key).st_nlink > 1
        except OSError:
            return False

    def seen(self, path: Path, inbox: Path, signature: Signature, now: float) -> None:
        """Found by a scan. Already-tracked files are left to their events."""
        key = str(path)
        if key in self._entries or self._delivered.get(key) == signature:
            return
        self._track(key, _Entry(inbox, False, signature, now, 0.0), now + self.settle_s)

    def gone(self, path: Path) -> None:
        key = str(path)
        self._entries.pop(key, None)
        self._delivered.pop(key, None)

    def stop_expecting_close(self, inbox: Path, now: float) -> None:
        """The inbox lost inotify (now polling): files waiting for a close switch to the stability rule."""
        for key, entry in self._entries.items():
            if entry.inbox == inbox and entry.awaiting_close:
                entry.awaiting_close = False
                entry.signature = None
                entry.quiet_since = now
                self._schedule(key, entry, now)

    # -- time ---------------------------------------------------------------

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[Ready]:
        """Check every entry whose time has come; return the files now ready."""
        out: list[Ready] = []
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is None or entry.due != due:
                continue  # stale heap item
            out.extend(self._check(key, entry, now))
        return out

    def _check(self, key: str, entry: _Entry, now: float) -> list[Ready]:
        if entry.awaiting_close:
            if now - entry.quiet_since < self.open_quiet_s:
                self._schedule(key, entry, entry.quiet_since + self.open_quiet_s)
                return []
            # No event for a long time and still no close: judge it by stability from here on.
            entry.awaiting_close = False
            entry.signature = None
        sig = signature_of(key, self._stat)
        if sig is None:
            del self._entries[key]
            return []
        if sig != entry.signature:
            entry.signature = sig
            entry.quiet_since = now
            self._schedule(key, entry, now + self.settle_s)
            return []
        if now - entry.quiet_since < self.settle_s:
            self._schedule(key, entry, entry.quiet_since + self.settle_s)
            return []
        del self._entries[key]
        if self._delivered.get(key) == sig:
            return []
        return [Ready(Path(key), entry.inbox, sig)]

    # -- delivery bookkeeping -----------------------------------------------

    def delivered(self, ready: Ready) -> None:
        """The consumer accepted it; the same unchanged file is not offered again."""
        self._delivered[str(ready.path)] = ready.signature

    def retain_delivered(self, still_present: Iterable[str]) -> None:
        """Forget deliveries of files a full scan no longer sees (they were filed away)."""
        keep = set(still_present)
        self._delivered = {k: v for k, v in self._delivered.items() if k in keep}

    def forget_delivered(self) -> None:
        """Offer every file again (the consumer may have lost what it was given)."""
        self._delivered.clear()

    def pending_count(self) -> int:
        return len(self._entries)

    def is_pending(self, path: Path) -> bool:
        return str(path) in self._entries

    # -- internals ----------------------------------------------------------

    def _ready_now(self, key: str, inbox: Path) -> list[Ready]:
        sig = signature_of(key, self._stat)
        if sig is None or self._delivered.get(key) == sig:
            return []
        return [Ready(Path(key), inbox, sig)]

    def _track(self, key: str, entry: _Entry, due: float) -> None:
        self._entries[key] = entry
        self._schedule(key, entry, due)

    def _schedule(self, key: str, entry: _Entry, due: float) -> None:
        entry.due = due
        heapq.heappush(self._heap, (due, next(self._seq), key))
        if len(self._heap) > 2 * len(self._entries) + 10_000:
            # Files that vanished leave stale items until their due time; a burst of
            # short-lived files must not grow the heap without bound.
            self._heap = [(e.due, next(self._seq), k) for k, e in self._entries.items()]
            heapq.heapify(self._heap)
