"""The daemon's side of the watcher: a burst of ready files queued in one transaction,
with the same refusals, the per-file error and the catalog-down path as one file alone."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, exc
from structlog.testing import capture_logs

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.config import Config
from alice.daemon.ingest import queue
from alice.daemon.ingest.runner import FILING_THREADS, Daemon


@pytest.fixture
def daemon(catalog: Catalog, tmp_path: Path) -> Iterator[Daemon]:
    for name in ("inbox", "organized", "data"):
        (tmp_path / name).mkdir()
    d = Daemon(Config(inboxes=(tmp_path / "inbox",), organized=tmp_path / "organized",
                      data_dir=tmp_path / "data"), catalog)
    yield d
    d.line.shutdown()


def files(inbox: Path, n: int) -> list[Path]:
    out = []
    for i in range(n):
        (inbox / f"{i}.png").write_bytes(b"x" * (i + 1))
        out.append(inbox / f"{i}.png")
    return out


def queued(catalog: Catalog) -> dict[str, tuple[int | None, tuple[int, int] | None]]:
    with catalog.session() as s:
        jobs = [queue.get_job(s, j) for j in range(1, 1000)]
    return {j.path: (j.size, j.identity) for j in jobs if j is not None and j.state == "queued"}


def test_a_burst_is_one_transaction_and_links_and_vanished_files_stay_out(daemon: Daemon, catalog: Catalog,
                                                                          tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    burst = files(inbox, 20)
    os.symlink(burst[0], inbox / "link.png")
    os.mkfifo(inbox / "pipe.png")
    commits: list[object] = []

    def committed(conn: object) -> None:
        commits.append(conn)

    event.listen(catalog.engine, "commit", committed)
    try:
        with capture_logs() as logs:
            daemon.on_ready_many([(p, inbox) for p in [*burst, inbox / "link.png", inbox / "pipe.png",
                                                       inbox / "gone.png"]])
    finally:
        event.remove(catalog.engine, "commit", committed)
    assert len(commits) == 1
    st = burst[4].stat()
    assert queued(catalog)[str(burst[4])] == (5, (st.st_dev, st.st_ino))
    assert set(queued(catalog)) == {str(p) for p in burst}
    assert sorted(e["path"] for e in logs if e["event"] == "refused") == [str(inbox / "link.png"),
                                                                           str(inbox / "pipe.png")]
    assert daemon.wake.is_set() and not daemon.rescan_needed.is_set()


def test_a_file_the_catalog_refuses_keeps_only_itself_out(daemon: Daemon, catalog: Catalog, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    burst = files(inbox, 5)
    real = queue.enqueue_many

    def refusing(s, arrivals, *args):
        if any(a.path == str(burst[2]) for a in arrivals):
            raise exc.DataError("INSERT INTO jobs", {}, Exception("index row size exceeds maximum"))
        return real(s, arrivals, *args)

    monkeypatch.setattr(queue, "enqueue_many", refusing)
    with capture_logs() as logs:
        daemon.on_ready_many([(p, inbox) for p in burst])
    assert set(queued(catalog)) == {str(p) for i, p in enumerate(burst) if i != 2}
    assert [e["path"] for e in logs if e["event"] == "could not queue this file"] == [str(burst[2])]
    assert not daemon.rescan_needed.is_set()       # a rescan would fail the same way


def test_catalog_down_leaves_the_burst_to_the_rescan(daemon: Daemon, catalog: Catalog, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    burst = files(inbox, 3)

    def down(*_args):
        raise CatalogUnavailable("lost the connection to the catalog")

    monkeypatch.setattr(queue, "enqueue_many", down)
    with capture_logs() as logs:
        daemon.on_ready_many([(p, inbox) for p in burst])
    assert daemon.rescan_needed.is_set()
    assert [e.get("files") for e in logs if e["event"].startswith("enqueue failed")] == [3]
    assert queued(catalog) == {}


def test_the_loop_claims_when_something_was_queued_not_on_every_turn(daemon: Daemon, catalog: Catalog,
                                                                     tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = tmp_path / "inbox"
    claims: list[int] = []
    real = queue.claim

    def counting(engine, worker, lease_s, limit=1, sweep=True):
        claims.append(limit)
        return real(engine, worker, lease_s, limit, sweep=sweep)

    monkeypatch.setattr(queue, "claim", counting)
    begun: list[int] = []
    monkeypatch.setattr(daemon, "begin", lambda job: begun.append(job.id))
    daemon.claim()                          # first turn: the queue is unknown, so look
    assert claims == [daemon.max_inflight] and begun == []
    daemon.claim()                          # found empty, nothing queued since: no transaction
    assert len(claims) == 1
    daemon.on_ready_many([(p, inbox) for p in files(inbox, 3)])
    daemon.claim()
    assert len(claims) == 2 and len(begun) == 3
    daemon.next_claim_poll = 0.0            # the poll finds what other processes queue
    daemon.claim()
    assert len(claims) == 3


def test_a_slot_or_two_freed_while_the_threads_are_busy_waits_for_more(daemon: Daemon,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    claims: list[int] = []
    monkeypatch.setattr(queue, "claim", lambda engine, worker, lease_s, limit=1, sweep=True:
                        claims.append(limit) or [])

    class Busy:
        def __init__(self, n: int) -> None:
            self.n = n

        def __len__(self) -> int:
            return self.n

    daemon.inflight = dict.fromkeys(range(daemon.max_inflight - 2))  # type: ignore[arg-type]
    monkeypatch.setattr(daemon, "line", Busy(FILING_THREADS))
    daemon.maybe_queued.set()
    daemon.claim()
    assert claims == []                     # two slots, the filing threads have work
    monkeypatch.setattr(daemon, "line", Busy(1))
    daemon.claim()
    assert claims == [2]                    # the threads are about to run dry: take what there is
