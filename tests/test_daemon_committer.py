"""The run loop commits placed files on its committer thread, one group at a time, and
goes on claiming meanwhile: the files placed during a commit are the next group."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alice.daemon.catalog.engine import Catalog
from alice.daemon.config import Config
from alice.daemon.ingest import queue, runner
from alice.daemon.ingest.filing import Result, Source, Status
from alice.daemon.ingest.runner import Daemon, InFlight


class FakePlaced:
    def __init__(self, path: str) -> None:
        self.result = Result(path, Status.ORGANIZED)
        self.status = Status.ORGANIZED


class BlockingLine:
    """A filing line whose placed files are handed in by the test and whose commits wait for it."""

    def __init__(self) -> None:
        self.placed: list[tuple[int, FakePlaced]] = []
        self.commits: list[list[int]] = []
        self.release = threading.Semaphore(0)
        self.running: dict[int, Any] = {}       # files still in steps 1-3 (none: groups commit at once)

    def done(self) -> list[tuple[int, FakePlaced]]:
        out, self.placed = self.placed, []
        return out

    def commit(self, group: list[tuple[int, FakePlaced]], _bookkeeping: Any) -> list[tuple[int, Result]]:
        self.commits.append([job_id for job_id, _ in group])
        assert self.release.acquire(timeout=10)
        return [(job_id, p.result) for job_id, p in group]

    def shutdown(self) -> None:
        pass


@pytest.fixture
def daemon(catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    for name in ("inbox", "organized", "data"):
        (tmp_path / name).mkdir()
    d = Daemon(Config(inboxes=(tmp_path / "inbox",), organized=tmp_path / "organized",
                      data_dir=tmp_path / "data"), catalog)
    d.line.shutdown()
    d.line = BlockingLine()  # type: ignore[assignment]
    monkeypatch.setattr(runner, "Placed", FakePlaced)
    yield d
    d.committer.shutdown(wait=False)


def flight(job_id: int, tmp_path: Path) -> InFlight:
    path = str(tmp_path / "inbox" / f"{job_id}.png")
    job = queue.Job(id=job_id, path=path, inbox=str(tmp_path / "inbox"), state="running", attempts=1,
                    max_attempts=5, size=1, mtime=1.0, worker="w", lease_until=None, last_error=None,
                    created_at=datetime.now(UTC))
    return InFlight(job, Source(Path(path), tmp_path / "inbox"), time.perf_counter())


def settle(d: Daemon) -> None:
    """Wait for the committer to finish what it was released to do."""
    assert d.committing is not None
    d.committing[1].exception(timeout=10)


def test_the_loop_goes_on_while_a_group_commits_and_groups_commit_one_at_a_time(daemon: Daemon,
                                                                                 tmp_path: Path) -> None:
    line: BlockingLine = daemon.line  # type: ignore[assignment]
    daemon.inflight = {i: flight(i, tmp_path) for i in (1, 2, 3)}
    line.placed = [(1, FakePlaced("1"))]
    started = time.monotonic()
    daemon.collect()                                    # hands group [1] to the committer
    line.placed = [(2, FakePlaced("2")), (3, FakePlaced("3"))]
    daemon.collect()                                    # [1] still committing: [2, 3] wait
    assert time.monotonic() - started < 5               # neither call waited for the commit
    deadline = time.monotonic() + 10
    while not line.commits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert line.commits == [[1]]
    assert set(daemon.inflight) == {1, 2, 3}

    line.release.release()
    settle(daemon)
    daemon.collect()                                    # [1] is finished, [2, 3] go next
    assert set(daemon.inflight) == {2, 3}
    line.release.release()
    settle(daemon)
    daemon.collect()
    assert daemon.inflight == {} and daemon.committing is None
    assert line.commits == [[1], [2, 3]]
    assert daemon.processed == 3


def test_while_files_are_being_filed_a_group_waits_to_grow_but_not_long(daemon: Daemon, tmp_path: Path) -> None:
    # A burst is CPU-bound and a bigger group costs less per file: while other files are in
    # the line, placed files wait for MIN_GROUP of them, or GROUP_WAIT_S at most.
    line: BlockingLine = daemon.line  # type: ignore[assignment]
    n = runner.MIN_GROUP
    daemon.inflight = {i: flight(i, tmp_path) for i in range(1, 2 * n + 2)}
    line.running = {99: object()}
    line.placed = [(1, FakePlaced("1"))]
    daemon.collect()
    assert daemon.committing is None and len(daemon.uncommitted) == 1     # waits to grow
    assert 0 < daemon._group_due_in() <= runner.GROUP_WAIT_S
    line.placed = [(i, FakePlaced(str(i))) for i in range(2, n + 1)]
    daemon.collect()                                                     # MIN_GROUP reached
    assert daemon.committing is not None and len(daemon.committing[0]) == n
    line.release.release()
    settle(daemon)
    daemon.collect()

    line.placed = [(n + 1, FakePlaced(str(n + 1)))]
    daemon.collect()
    assert daemon.committing is None
    time.sleep(runner.GROUP_WAIT_S + 0.01)
    daemon.collect()                                                     # waited long enough
    assert daemon.committing is not None and [j for j, _ in daemon.committing[0]] == [n + 1]
    line.release.release()
    settle(daemon)
    daemon.collect()

    line.running = {}
    line.placed = [(n + 2, FakePlaced(str(n + 2)))]
    daemon.collect()                                                     # nothing else is being filed
    assert daemon.committing is not None and [j for j, _ in daemon.committing[0]] == [n + 2]
    line.release.release()
    settle(daemon)
    daemon.collect()
    assert line.commits == [list(range(1, n + 1)), [n + 1], [n + 2]]
