"""watchdog's inotify observer, made to report the two failures it otherwise only logs.

watchdog 7 handles an inotify queue overflow (IN_Q_OVERFLOW, events lost) by
logging a warning and rebuilding its watches; no event reaches the handler. And
when adding a watch for a *subfolder* fails (ENOSPC: fs.inotify.max_user_watches
reached), watchdog swallows the error, leaving that folder silently unwatched;
only a failure on the watched root itself is raised from `schedule()`.

Both need action from alice (a reconciliation scan; polling for that inbox), so
this observer owns its InotifyFD and hooks its two public entry points.
"""
from __future__ import annotations

import errno
from collections.abc import Callable

from watchdog.observers.api import DEFAULT_OBSERVER_TIMEOUT, BaseObserver
from watchdog.observers.inotify import InotifyFullEmitter
from watchdog.observers.inotify_c import CallbackId, InotifyEvent, InotifyFD, Mask, WatchCallback, WatchDescriptor


class _ReportingInotifyFD(InotifyFD):
    def __init__(self, on_overflow: Callable[[], None], on_watch_limit: Callable[[str], None]) -> None:
        super().__init__()
        self._on_overflow = on_overflow
        self._on_watch_limit = on_watch_limit

    def add_callback(self, path: bytes, mask: Mask, callback: WatchCallback, id_: CallbackId) -> WatchDescriptor:
        try:
            return super().add_callback(path, mask, callback, id_)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                self._on_watch_limit(path.decode(errors="surrogateescape") if isinstance(path, bytes) else path)
            raise

    def handle_event(self, event: InotifyEvent) -> None:
        if event.is_queue_overflow:
            self._on_overflow()
        super().handle_event(event)


class ReportingInotifyObserver(BaseObserver):
    """An inotify observer that calls `on_overflow()` after the kernel dropped events and
    `on_watch_limit(folder)` when a watch could not be added for lack of inotify watches.

    Both callbacks run on watchdog's reader thread: they must only record and return.
    Emits "full" move events: a move from outside has an empty src_path, a move out an
    empty dest_path, so moved-in files are told apart from freshly created ones.
    Raises OSError(EMFILE) when no inotify instance can be created (fs.inotify.max_user_instances).
    """

    def __init__(self, on_overflow: Callable[[], None], on_watch_limit: Callable[[str], None],
                 *, timeout: float = DEFAULT_OBSERVER_TIMEOUT) -> None:
        self._inotify_fd = _ReportingInotifyFD(on_overflow, on_watch_limit)
        self._inotify_fd.start()
        super().__init__(InotifyFullEmitter, timeout=timeout, inotify_fd=self._inotify_fd)

    def reader_alive(self) -> bool:
        return self._inotify_fd.is_alive()

    def on_thread_stop(self) -> None:
        super().on_thread_stop()
        self._inotify_fd.stop()
        self._inotify_fd.join()
