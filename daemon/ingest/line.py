"""The filing steps, run for many files at once: the one step list of `alice organize` and `alice run`.

    quick check -> read once, analyse -> place copy + sidecar      (a filing thread per file)
                                              |
            finish (move mode) <- commit the group in one transaction  (the caller's thread)

Filing threads, not processes: the filing path decodes no pixels, and what it
does (reading, BLAKE3, CRC-32, zlib, fsync, catalog round trips) releases the
GIL, so threads keep the disk and the catalog busy without shipping each
file's bytes between processes. The copy is written from the bytes that were
analysed. Whatever has been placed when the caller commits goes into one
transaction (group commit): under load the groups grow by themselves, and
alone a file is committed as soon as it is placed.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from alice.daemon.ingest.filing import FAILED, Organizer, Placed, Result, Source

Done = Placed | Result | BaseException
# Files per catalog transaction when files keep coming: a group of 1 costs ~3.6 ms of CPU
# per file in statements, one of 16 ~0.5 ms (bench/record_bench.py). A placed file waiting
# for its group holds no bytes and no connection, only its content lock (catalog/filing_link.py).
GROUP = 16
Tag = TypeVar("Tag", bound=Hashable)     # what names a file in a group: a job id, a counter


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

    def run(self, sources: Iterable[Source], emit: Callable[[Source, Result], None], *, inflight: int,
            group: int = GROUP) -> None:
        """File every source (alice organize): at most `inflight` in steps 1-3 at once, the
        placed files committed in groups of up to `group` (fewer when nothing else is running).
        `emit` sees every Result."""
        todo = iter(sources)
        by_tag: dict[int, Source] = {}
        placed: list[tuple[Hashable, Placed]] = []
        # Groups start at one file and double up to `group`: the first files are filed (and
        # shown) at once, and a long run soon commits full groups.
        limit = 1
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
            # A file may wait for a content lock that a placed file holds (the same bytes twice):
            # look every 50 ms, and commit the group early when one does.
            self.wait(0.05 if placed else None)
            for tag, item in self.done():
                if isinstance(item, Placed):
                    placed.append((tag, item))
                elif isinstance(item, Result):
                    emit(by_tag.pop(tag), item)  # type: ignore[call-overload]
                else:
                    if isinstance(item, KeyboardInterrupt):
                        raise item
                    src = by_tag.pop(tag)  # type: ignore[call-overload]
                    emit(src, Result(str(src.path), FAILED, reason=f"internal error: {item!r}"))
            wanted = self.organizer.link is not None and self.organizer.link.wanted
            if placed and (len(placed) >= limit or not self.running or wanted):
                for tag, result in self.commit(placed):
                    emit(by_tag.pop(tag), result)  # type: ignore[call-overload]
                placed = []
                limit = min(limit * 2, group)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
