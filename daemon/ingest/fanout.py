"""`alice organize` on more than one core: its files shared out to helper processes.

One interpreter runs Python on one core at a time, and the filing path is half
Python (parsing, the sidecar, catalog statements): `alice organize` in one
process kept one of this machine's two cores idle a third of the time, as
`alice run` did before its filing processes (ingest/filers.py). So organize
forks helpers (as many as `filing_processes` allows, within --jobs) before it
has a thread or a connection, and once it has swept the tree it hands each a
share of the files and files its own share meanwhile. A helper runs the same
filing line (threads, content locks, group commits) and sends back each file's
Result, which the parent prints as it comes. Content locks are the catalog's,
so the same bytes in two shares are filed once, as between `alice run` and its
filing processes.

A helper dies with the parent (PR_SET_PDEATHSIG) and ignores Ctrl-C; the parent
stops it with SIGTERM, on which it ends like an interrupted organize. A helper
that dies leaves its unreported files failed, to be filed by the next run: each
is as safe as after a SIGKILL (copy, sidecar, record, then the source in move
mode).
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from alice.daemon.config import Config
from alice.daemon.ingest.filing import FAILED, Result, Source

Emit = Callable[[Source, Result], None]

# Fewer files than this are filed by organize alone: a helper's start (a fork, its catalog
# connections) costs about what filing a few dozen files on the second core saves.
MIN_FILES = 48


def helper_count(cfg: Config, jobs: int, files: int) -> int:
    """How many helpers organize forks: one per job beyond the first, as many as
    `filing_processes` allows `alice run` (none where paid ratings come before filing),
    and none for a small run."""
    from alice.daemon.ingest.filers import process_count

    if files < MIN_FILES:
        return 0
    return max(0, min(process_count(cfg), jobs - 1))


@dataclass
class _Helper:
    proc: Any                               # multiprocessing's Process
    conn: Connection                        # both ways: the go, then its results
    share: Sequence[Source]
    reported: set[int] = field(default_factory=set)
    reader: threading.Thread | None = None


class Helpers:
    """The parent's side: fork the helpers, start them, hear their results, stop them."""

    def __init__(self, cfg: Config, shares: Sequence[Sequence[Source]], *, mode: str | None,
                 threads: int) -> None:
        """Fork one helper per share, now: call it before this process has a thread or a
        connection. Each waits for `start`."""
        ctx = multiprocessing.get_context("fork")
        self.helpers: list[_Helper] = []
        for share in shares:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_helper_main, args=(theirs, os.getpid(), cfg, share,
                                                          mode, threads), name="alice-organize-helper",
                               daemon=True)     # ended at exit, not waited for, whatever way the parent exits
            proc.start()
            theirs.close()
            self.helpers.append(_Helper(proc, mine, share))

    def start(self, url: str, emit: Emit) -> None:
        """Let the helpers file, against the catalog at `url` (the parent's: a helper never
        starts an embedded server); `emit` hears every file's Result, from a thread per helper."""
        for h in self.helpers:
            try:
                h.conn.send(url)
            except OSError:
                pass                        # it died already: its reader says so
            h.reader = threading.Thread(target=self._hear, args=(h, emit), name="alice-helper", daemon=True)
            h.reader.start()

    def wait(self) -> None:
        """Until every helper has reported every file of its share (or died)."""
        for h in self.helpers:
            if h.reader is not None:
                h.reader.join()

    def stop(self) -> None:
        """End the helpers still running (the parent was interrupted or failed): SIGTERM, on
        which a helper finishes the files in its hands, then SIGKILL for one that does not."""
        for h in self.helpers:
            if h.proc.is_alive():
                h.proc.terminate()
        for h in self.helpers:
            h.proc.join(30)
            if h.proc.is_alive():
                h.proc.kill()
                h.proc.join(5)
            h.conn.close()

    def _hear(self, h: _Helper, emit: Emit) -> None:
        error = None
        try:
            while True:
                msg = h.conn.recv()
                if msg[0] == "result":
                    h.reported.add(msg[1])
                    emit(h.share[msg[1]], msg[2])
                elif msg[0] == "error":
                    error = msg[1]
                elif msg[0] == "done":
                    return
        except (EOFError, OSError):
            pass
        h.proc.join(5)
        why = error or f"it exited with code {h.proc.exitcode}"
        for i, src in enumerate(h.share):
            if i not in h.reported:
                emit(src, Result(str(src.path), FAILED,
                                 reason=f"the helper process filing it stopped ({why}); run alice organize again"))


def _helper_main(conn: Connection, parent: int, cfg: Config, share: Sequence[Source], mode: str | None,
                 threads: int) -> None:
    from alice.daemon.ops.lineage import die_with_parent

    die_with_parent(parent)     # first: and Ctrl-C is the parent's to act on

    def interrupted(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    code = 1
    try:
        url = conn.recv()
        code = _file(conn, replace(cfg, database=replace(cfg.database, url=url)), share, mode, threads)
    except KeyboardInterrupt:
        code = 130
    except EOFError:
        code = 0                    # the parent went away before the start: nothing was touched
    except BaseException as exc:    # said to the parent, which reports the share; never a traceback here
        try:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
    finally:
        # No atexit handlers and no flush of buffers inherited from the parent: its output is its own.
        os._exit(code)


def _file(conn: Connection, cfg: Config, share: Sequence[Source], mode: str | None, threads: int) -> int:
    from alice.daemon.app import App
    from alice.daemon.ingest.filing import Organizer
    from alice.daemon.ingest.line import FilingLine

    index = {id(src): i for i, src in enumerate(share)}
    app = App(cfg, application_name="alice organize helper", pool_size=threads + 6)
    try:
        organizer = Organizer(cfg, app.catalog, mode=mode, dry_run=False, quality=app.quality, rescore=None,
                              pixels_now=False)
        line = FilingLine(organizer, threads)
        try:
            line.run(share, lambda src, result: conn.send(("result", index[id(src)], result)),
                     inflight=threads * 2)
        finally:
            line.shutdown()
    finally:
        app.close()
    conn.send(("done",))
    return 0

