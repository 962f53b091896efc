"""The filer's link: one filer per content id, across threads and processes, on a few connections."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.filing_link import ContentBusy, FilingLink


def _server_locks(catalog: Catalog) -> int:
    with catalog.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                 "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one()


def _asset(catalog: Catalog, content_id: str) -> int:
    """An asset recorded with this content id (as another filer would have); its id."""
    with catalog.engine.begin() as conn:
        pid = conn.execute(text("INSERT INTO projects (name) VALUES ('p') RETURNING id")).scalar_one()
        return conn.execute(text("INSERT INTO assets (content_id, file_hash, size, format, media, ai, project_id, "
                                 "created_at) VALUES (:c, 'b3:f', 1, 'png', 'image', false, :p, now()) RETURNING id"),
                            {"c": content_id, "p": pid}).scalar_one()


def test_threads_of_one_process_take_turns_on_a_content(catalog: Catalog) -> None:
    locks = FilingLink(catalog.engine)
    order: list[str] = []
    locks.acquire("b3:same")
    t = threading.Thread(target=lambda: (locks.acquire("b3:same"), order.append("second"),
                                         locks.release(["b3:same"])))
    assert not locks.wanted
    t.start()
    time.sleep(0.2)
    assert locks.wanted                  # the holder's group should commit now (FilingLine.run)
    order.append("first done")           # the second thread is still waiting
    locks.release(["b3:same"])
    t.join(5)
    assert order == ["first done", "second"]
    assert not locks.wanted


def test_another_process_waits_and_gives_up_with_content_busy(catalog: Catalog) -> None:
    mine, theirs = FilingLink(catalog.engine), FilingLink(catalog.engine)   # two server sessions
    mine.acquire("b3:x")
    with pytest.raises(ContentBusy, match="locked by another filer"):
        theirs.acquire("b3:x", timeout=0.3)
    mine.release(["b3:x"])
    assert theirs.acquire("b3:x", timeout=5) is None
    theirs.release(["b3:x"])


def test_acquire_says_whether_the_catalog_has_the_content(catalog: Catalog) -> None:
    aid = _asset(catalog, "b3:known")
    locks = FilingLink(catalog.engine)
    assert locks.acquire("b3:known") == aid
    assert locks.acquire("b3:new") is None
    locks.release(["b3:known", "b3:new"])


def test_a_filer_granted_the_lock_sees_what_the_holder_committed_under_it(catalog: Catalog) -> None:
    # The other filer copies and records the content while holding its lock; ours waits,
    # and once granted must find the asset (else it would file the same bytes twice).
    holder, ours = FilingLink(catalog.engine), FilingLink(catalog.engine)
    assert holder.acquire("b3:raced") is None
    got: list[int | None] = []
    waiter = threading.Thread(target=lambda: got.append(ours.acquire("b3:raced", timeout=10)))
    waiter.start()
    time.sleep(0.2)
    assert not got                      # still waiting for the holder
    aid = _asset(catalog, "b3:raced")
    holder.release(["b3:raced"])
    waiter.join(10)
    assert got == [aid]
    ours.release(["b3:raced"])


def test_a_group_is_released_at_once_and_the_connection_goes_back(catalog: Catalog) -> None:
    locks = FilingLink(catalog.engine)
    before = catalog.engine.pool.checkedout()    # type: ignore[attr-defined]
    for i in range(20):
        locks.acquire(f"b3:{i}")
    assert before < catalog.engine.pool.checkedout() <= before + 4     # type: ignore[attr-defined]
    assert _server_locks(catalog) == 20
    locks.release([f"b3:{i}" for i in range(20)])
    assert _server_locks(catalog) == 0
    assert catalog.engine.pool.checkedout() == before          # type: ignore[attr-defined]


def test_source_state_answers_on_the_links_connection(catalog: Catalog) -> None:
    link = FilingLink(catalog.engine)
    assert link.source_state("/inbox/none.png") is None
    with catalog.engine.begin() as conn:
        pid = conn.execute(text("INSERT INTO projects (name) VALUES ('p') RETURNING id")).scalar_one()
        aid = conn.execute(text("INSERT INTO assets (content_id, file_hash, size, format, media, ai, project_id, "
                                "created_at) VALUES ('b3:c', 'b3:f', 1, 'png', 'image', true, :p, now()) "
                                "RETURNING id"), {"p": pid}).scalar_one()
        conn.execute(text("INSERT INTO locations (asset_id, path, file_hash, role, size, mtime_ns, present) VALUES "
                          "(:a, '/inbox/x.png', 'b3:f', 'source', 1, 5, true), "
                          "(:a, '/tree/x.png', 'b3:f', 'organized', NULL, NULL, true)"), {"a": aid})
    state = link.source_state("/inbox/x.png")
    assert state is not None
    assert (state.role, state.size, state.mtime_ns, state.content_id, state.project_name, state.filed_path) == \
        ("source", 1, 5, "b3:c", "p", "/tree/x.png")
    assert catalog.engine.pool.checkedout() == 0        # type: ignore[attr-defined]  # given back: no lock held
