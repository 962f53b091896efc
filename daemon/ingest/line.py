"""The filing steps, run for many files at once: the one step list of `alice organize` and `alice run`.

    quick check -> read once, analyse -> place copy + sidecar      (a filing thread per file)
                                              |
            finish (move mode) <- commit the group in one transaction  (the caller's thread)

Filing threads, not processes: the filing path decodes no pixels, and what it
does (reading, BLAKE3, CRC-32, zlib, fsync, catalog round trips) releases the
GIL, so threads keep the disk and the catalog busy without shipping each
file's bytes between processes. The copy is written from the bytes that were
analysed. The files placed meanwhile are recorded in one transaction (group
commit): `Grouping` says when for `alice organize`; `alice run` commits on a
thread of its own, with its own rule (runner.Daemon._group_due_in).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from alice.daemon.ingest.filing import FAILED, Organizer, Placed, Result, Source

Done = Placed | Result | BaseException
# Threads of a filing line in `alice run`, each of its filing processes and each process of
# `alice organize` with helpers. Filing is mostly waiting (fsync, catalog round trips) and
# GIL-free hashing: a few threads keep the disk and the catalog busy.
FILING_THREADS = 4
# Files per catalog transaction when files keep coming: a group of 1 costs ~3.6 ms of CPU
# per file in statements, one of 16 ~0.5 ms (bench/record_bench.py). A placed file waiting
# for its group holds no bytes and no connection, only its content lock (catalog/filing_link.py).
GROUP = 16
Tag = TypeVar("Tag", bound=Hashable)     # what names a file in a group: a job id, a counter


@dataclass
class Grouping:
    """When `alice organize` commits the files placed so far: when they are `limit` (which
    starts at one and doubles up to GROUP with every commit, so the first files are
    searchable at once and a long run commits full groups), when nothing else is being
    filed, or when a thread waits for a content lock one of them holds (the same bytes
    twice: catalog/filing_link.py). The daemon commits on a thread of its own and
    has its own rule (runner.Daemon._group_due_in)."""

    limit: int = 1

    def due(self, placed: int, running: int, wanted: bool) -> bool:
        return placed > 0 and (placed >= self.limit or running == 0 or wanted)

    def committed(self, more: bool) -> None:
        """After a commit; `more`: files are still being filed or waiting to be. A run
        that ended lets the next one start small again."""
        self.limit = min(self.limit * 2, GROUP) if more else 1


class FilingLine:
    def __init__(self, organizer: Organizer, threads: int) -> None:
        self.organizer = organizer
        self.pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="alice-file")
        self.running: dict[Hashable, Future] = {}

    def __len__(self) -> int:
        return len(self.running)

    def submit(self, tag: Hashable, src: Source, on_done: Callable[[], None] | None = None) -> None:
        """Start steps 1-3 for `src` in a filing thread; `tag` names it in what `done()` returns."""
        fut = self.pool.submit(self.organizer.prepare, src)
        if on_done is not None:
            fut.add_done_callback(lambda _f: on_done())
        self.running[tag] = fut

    def done(self) -> list[tuple[Hashable, Done]]:
        """The files whose steps 1-3 finished: a Placed to commit, a Result (nothing to
        record: unchanged, failed, dry run) or the exception a step raised."""
        out: list[tuple[Hashable, Done]] = []
        for tag, fut in list(self.running.items()):
            if fut.done():
                del self.running[tag]
                exc = fut.exception()
                out.append((tag, exc if exc is not None else fut.result()))
        return out

    def wait(self, timeout: float | None = None) -> None:
        """Until at least one running file finishes its steps 1-3 (or timeout)."""
        if self.running:
            wait(list(self.running.values()), timeout=timeout, return_when=FIRST_COMPLETED)

    def commit(self, group: Sequence[tuple[Tag, Placed]],
               bookkeeping: Callable[[Any, list[Placed]], None] | None = None) -> list[tuple[Tag, Result]]:
        """Steps 4 and 5 for a group: one transaction, then each file's finish."""
        self.organizer.commit([p for _, p in group], bookkeeping)
        return [(tag, self.organizer.finish(p)) for tag, p in group]

    def run(self, sources: Iterable[Source], emit: Callable[[Source, Result], None], *, inflight: int) -> None:
        """File every source (alice organize): at most `inflight` in steps 1-3 at once, the
        placed files committed in groups as `Grouping` says. `emit` sees every Result."""
        grouping = Grouping()
        todo = iter(sources)
        by_tag: dict[int, Source] = {}
        placed: list[tuple[Hashable, Placed]] = []
        try:
            self._run(todo, by_tag, placed, emit, inflight, grouping)
        except KeyboardInterrupt:
            # Ctrl-C: no file is started, those in hand are placed and committed. A copy placed
            # but never recorded would be found by the next run only under its own source: a
            # twin of it filed first would leave it in the tree twice.
            self.wait_all()
            self._sort_done(by_tag, placed, emit)
            if placed:
                for tag, result in self.commit(placed):
                    emit(by_tag.pop(tag), result)  # type: ignore[call-overload]
            raise

    def _run(self, todo: Iterator[Source], by_tag: dict[int, Source], placed: list[tuple[Hashable, Placed]],
             emit: Callable[[Source, Result], None], inflight: int, grouping: Grouping) -> None:
        n = 0
        exhausted = False
        while True:
            while not exhausted and len(self.running) < inflight:
                src = next(todo, None)
                if src is None:
                    exhausted = True
                    break
                by_tag[n] = src
                self.submit(n, src)
                n += 1
            if not self.running and not placed:
                break
            # Look again every 50 ms while files wait for their group: a thread may be waiting
            # for the content lock one of them holds.
            self.wait(0.05 if placed else None)
            interrupt = self._sort_done(by_tag, placed, emit)
            if interrupt is not None:
                raise interrupt
            if grouping.due(len(placed), len(self.running), self.wanted()):
                group = placed[:]
                del placed[:]           # placed: what the interrupted run's last commit records
                try:
                    self.organizer.commit([p for _, p in group])
                except KeyboardInterrupt:
                    placed.extend(group)    # rolled back, or recorded (recording again changes nothing)
                    raise
                for tag, p in group:
                    emit(by_tag.pop(tag), self.organizer.finish(p))  # type: ignore[call-overload]
                grouping.committed(bool(self.running) or not exhausted)

    def _sort_done(self, by_tag: dict[int, Source], placed: list[tuple[Hashable, Placed]],
                   emit: Callable[[Source, Result], None]) -> KeyboardInterrupt | None:
        """The files whose steps 1-3 finished: a placed one waits for its group, any other
        is said (a step that raised: failed). Returns a Ctrl-C a filing thread caught, if any."""
        interrupt = None
        for tag, item in self.done():
            if isinstance(item, Placed):
                placed.append((tag, item))
            elif isinstance(item, Result):
                emit(by_tag.pop(tag), item)  # type: ignore[call-overload]
            elif isinstance(item, KeyboardInterrupt):
                interrupt = item
            else:
                src = by_tag.pop(tag)  # type: ignore[call-overload]
                emit(src, Result(str(src.path), FAILED, reason=f"internal error: {item!r}"))
        return interrupt

    def wait_all(self) -> None:
        """Until every running file has finished its steps 1-3."""
        if self.running:
            wait(list(self.running.values()))

    def wanted(self) -> bool:
        """Whether a filing thread waits for a content lock that a placed file holds."""
        return self.organizer.link is not None and self.organizer.link.wanted

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
