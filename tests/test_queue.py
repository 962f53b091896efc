"""The durable job queue: dedupe, SKIP LOCKED claims, leases, backoff, failure, retry."""
from __future__ import annotations

import random
import threading

from sqlalchemy import event, text

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.store import events_since
from alice.daemon.ingest import queue


def add(cat: Catalog, path: str = "/in/a.png", size: int = 10, mtime: float = 1.5, **kw) -> int | None:
    with cat.session() as s:
        return queue.enqueue(s, path, "/in", size, mtime, **kw)


def job(cat: Catalog, job_id: int) -> queue.Job:
    with cat.session() as s:
        found = queue.get_job(s, job_id)
    assert found is not None
    return found


def depth(cat: Catalog) -> dict[str, int]:
    with cat.session() as s:
        return queue.depth(s)


def test_enqueue_dedupes_live_and_unchanged_finished_paths(catalog: Catalog) -> None:
    first = add(catalog)
    assert first is not None
    assert add(catalog) is None                                 # already queued
    [claimed] = queue.claim(catalog.engine, "w1", 60)
    assert add(catalog) is None                                 # running
    assert queue.complete(catalog.engine, claimed.id, "w1", {"asset_id": 1})
    assert add(catalog) is None                                 # done, same size and mtime
    changed = add(catalog, mtime=2.5)
    assert changed is not None and changed != first             # the file changed: new work
    assert depth(catalog) == {"queued": 1, "running": 0, "done": 1, "failed": 0}
    with catalog.session() as s:                                # one "discovered" per job created
        found = [(e.kind, e.path, e.data["job_id"]) for e in events_since(s, 0, 10)]
    assert found == [("discovered", "/in/a.png", first), ("discovered", "/in/a.png", changed)]


def test_failed_path_is_not_requeued_until_it_changes(catalog: Catalog) -> None:
    add(catalog)
    [j] = queue.claim(catalog.engine, "w1", 60)
    assert queue.fail(catalog.engine, j.id, "w1", "not an image", transient=False) == "failed"
    assert add(catalog) is None
    assert add(catalog, size=11) is not None


def test_claim_skips_rows_locked_by_another_connection(catalog: Catalog) -> None:
    ids = [add(catalog, f"/in/{i}.png") for i in range(3)]
    with catalog.engine.connect() as other:
        other.execute(text("SELECT id FROM jobs WHERE id = :i FOR UPDATE"), {"i": ids[0]})
        got = queue.claim(catalog.engine, "w1", 60, limit=3)
        other.rollback()
    assert [j.id for j in got] == ids[1:]
    assert all(j.state == "running" and j.worker == "w1" and j.attempts == 1 for j in got)


def test_concurrent_workers_never_share_a_job(catalog: Catalog) -> None:
    n_jobs, n_workers = 60, 4
    with catalog.session() as s:
        for i in range(n_jobs):
            queue.enqueue(s, f"/in/{i}.png", "/in", 1, 1.0)
    taken: dict[str, list[int]] = {f"w{i}": [] for i in range(n_workers)}
    barrier = threading.Barrier(n_workers)

    def work(name: str) -> None:
        barrier.wait()
        while batch := queue.claim(catalog.engine, name, 60, limit=random.randint(1, 3)):
            for j in batch:
                taken[name].append(j.id)
                assert queue.complete(catalog.engine, j.id, name, None)

    threads = [threading.Thread(target=work, args=(name,)) for name in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == len(set(every)) == n_jobs
    assert depth(catalog)["done"] == n_jobs


def test_expired_lease_is_taken_over_and_the_old_worker_cannot_clobber(catalog: Catalog) -> None:
    jid = add(catalog)
    [a] = queue.claim(catalog.engine, "dead-worker", 0)        # lease already over
    [b] = queue.claim(catalog.engine, "w2", 60)
    assert a.id == b.id == jid and b.attempts == 2 and b.worker == "w2"
    assert queue.heartbeat(catalog.engine, [jid], "dead-worker", 60) == []
    assert queue.complete(catalog.engine, jid, "dead-worker", {"x": 1}) is False
    assert queue.fail(catalog.engine, jid, "dead-worker", "boom", transient=False) is None
    assert queue.release(catalog.engine, [jid], "dead-worker") == 0
    assert job(catalog, jid).state == "running" and job(catalog, jid).worker == "w2"
    assert queue.heartbeat(catalog.engine, [jid], "w2", 60) == [jid]
    assert queue.complete(catalog.engine, jid, "w2", {"asset_id": 7})
    assert job(catalog, jid).state == "done"


def test_live_lease_is_not_taken_and_heartbeat_keeps_it(catalog: Catalog) -> None:
    add(catalog)
    [a] = queue.claim(catalog.engine, "w1", 60)
    assert queue.claim(catalog.engine, "w2", 60) == []
    assert queue.heartbeat(catalog.engine, [a.id], "w1", 120) == [a.id]
    assert job(catalog, a.id).lease_until > a.lease_until


def test_transient_failure_backs_off_then_fails_after_max_attempts(catalog: Catalog) -> None:
    jid = add(catalog, max_attempts=3)
    [j] = queue.claim(catalog.engine, "w1", 60)
    assert queue.fail(catalog.engine, jid, "w1", "share offline", transient=True, base_s=600) == "queued"
    waiting = job(catalog, jid)
    assert waiting.state == "queued" and waiting.last_error == "share offline" and waiting.worker is None
    with catalog.session() as s:
        delay = s.execute(text("SELECT extract(epoch FROM not_before - now()) FROM jobs WHERE id = :i"),
                          {"i": jid}).scalar_one()
    assert 290 < float(delay) <= 600                          # 50-100% of the first step
    assert queue.claim(catalog.engine, "w1", 60) == []          # not before the backoff
    for attempt in (2, 3):
        with catalog.session() as s:
            s.execute(text("UPDATE jobs SET not_before = now() WHERE id = :i"), {"i": jid})
        [j] = queue.claim(catalog.engine, "w1", 60)
        assert j.attempts == attempt
        state = queue.fail(catalog.engine, jid, "w1", f"still offline {attempt}", transient=True)
    assert state == "failed"
    final = job(catalog, jid)
    assert final.state == "failed" and final.last_error == "still offline 3"
    with catalog.session() as s:
        [event] = [e for e in events_since(s, 0, 10) if e.kind == "failed"]
    assert (event.kind, event.path, event.data["error"], event.data["attempts"]) == \
        ("failed", "/in/a.png", "still offline 3", 3)


def test_permanent_failure_fails_at_once_with_the_reason(catalog: Catalog) -> None:
    jid = add(catalog)
    queue.claim(catalog.engine, "w1", 60)
    assert queue.fail(catalog.engine, jid, "w1", "x" * 10_000 + "\x00", transient=False) == "failed"
    final = job(catalog, jid)
    assert final.attempts == 1 and len(final.last_error) == 4000


def test_a_job_that_keeps_losing_its_worker_is_failed_not_retried_forever(catalog: Catalog) -> None:
    jid = add(catalog, max_attempts=2)
    queue.claim(catalog.engine, "crashes-1", 0)
    queue.claim(catalog.engine, "crashes-2", 0)
    assert queue.claim(catalog.engine, "w3", 60) == []
    final = job(catalog, jid)
    assert final.state == "failed" and "stopped responding 2 times" in final.last_error
    with catalog.session() as s:
        assert [e.kind for e in events_since(s, 0, 10)] == ["discovered", "failed"]


def test_a_claim_without_the_sweep_still_never_hands_out_an_exhausted_job(catalog: Catalog) -> None:
    # The daemon sweeps once a second, not at every claim of a burst: between sweeps a job
    # whose lease ran out max_attempts times must stay out of reach, and the next sweep fails it.
    jid = add(catalog, max_attempts=2)
    queue.claim(catalog.engine, "crashes-1", 0, sweep=False)
    queue.claim(catalog.engine, "crashes-2", 0, sweep=False)
    assert queue.claim(catalog.engine, "w3", 60, sweep=False) == []
    assert job(catalog, jid).state == "running"
    assert queue.claim(catalog.engine, "w3", 60) == []
    final = job(catalog, jid)
    assert final.state == "failed" and "stopped responding 2 times" in final.last_error


def test_release_requeues_without_spending_an_attempt(catalog: Catalog) -> None:
    jid = add(catalog)
    queue.claim(catalog.engine, "w1", 60)
    assert queue.release(catalog.engine, [jid], "w1") == 1
    assert queue.release(catalog.engine, [], "w1") == 0
    back = job(catalog, jid)
    assert (back.state, back.attempts, back.worker) == ("queued", 0, None)
    [again] = queue.claim(catalog.engine, "w2", 60)
    assert again.id == jid and again.attempts == 1


def test_retry_failed_requeues_all_or_chosen_jobs(catalog: Catalog) -> None:
    ids = [add(catalog, f"/in/{i}.png") for i in range(3)]
    for j in queue.claim(catalog.engine, "w1", 60, limit=3):
        queue.fail(catalog.engine, j.id, "w1", "bad", transient=False)
    with catalog.session() as s:
        assert queue.retry_failed(s, [ids[0]]) == 1
        assert queue.retry_failed(s, []) == 0
    assert depth(catalog) == {"queued": 1, "running": 0, "done": 0, "failed": 2}
    with catalog.session() as s:
        assert queue.retry_failed(s) == 2
    assert depth(catalog)["queued"] == 3
    assert all(job(catalog, i).attempts == 0 for i in ids)
    with catalog.session() as s:
        kinds = [e.kind for e in events_since(s, 0, 20)]
    assert kinds.count("requeued") == 3


def test_retry_skips_a_failed_path_that_is_already_live_again(catalog: Catalog) -> None:
    add(catalog)
    [j] = queue.claim(catalog.engine, "w1", 60)
    queue.fail(catalog.engine, j.id, "w1", "bad", transient=False)
    add(catalog, mtime=9.0)                                     # changed file, new live job
    with catalog.session() as s:
        assert queue.retry_failed(s) == 0
    assert depth(catalog) == {"queued": 1, "running": 0, "done": 0, "failed": 1}


def test_backoff_delay_grows_exponentially_within_jitter_and_cap() -> None:
    rng = random.Random(1)
    for attempt, step in [(1, 5), (2, 10), (3, 20), (10, 900)]:
        for _ in range(20):
            assert step / 2 <= queue.backoff_delay(attempt, 5, 900, rng) <= step


def test_worker_name_is_host_and_pid() -> None:
    import os
    import socket

    assert queue.worker_name() == f"{socket.gethostname()}:{os.getpid()}"
    assert queue.worker_name("t2").endswith(":t2")


# An `alice run` stand-in: takes jobs until none are left, prints what it took.
WORKER = r"""
import sys
from pathlib import Path
from alice.daemon.ingest import queue
from alice.daemon.catalog.engine import Catalog
cat = Catalog.open(sys.argv[1], Path(sys.argv[2]))
name = queue.worker_name()
while batch := queue.claim(cat.engine, name, 60, limit=2):
    for j in batch:
        print(j.id, flush=True)
        assert queue.complete(cat.engine, j.id, name, {"by": name})
cat.close()
"""


def test_several_processes_share_the_queue_without_doing_a_job_twice(catalog: Catalog, db_url: str,
                                                                     tmp_path) -> None:
    import subprocess
    import sys

    with catalog.session() as s:
        ids = {queue.enqueue(s, f"/in/{i}.png", "/in", 1, 1.0) for i in range(90)}
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db_url, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    taken = [int(line) for out in outputs for line in out.split()]
    assert sorted(taken) == sorted(ids)                         # every job once, none twice
    assert depth(catalog) == {"queued": 0, "running": 0, "done": 90, "failed": 0}


def test_a_burst_is_queued_with_three_statements_and_the_same_dedupe(catalog: Catalog) -> None:
    add(catalog, "/in/done.png", identity=(1, 7))
    add(catalog, "/in/moved.png", identity=(1, 8))
    for claimed in queue.claim(catalog.engine, "w1", 60, limit=2):
        assert queue.complete(catalog.engine, claimed.id, "w1")
    add(catalog, "/in/live.png")                                # already queued
    burst = [queue.Arrival("/in/live.png", "/in", 10, 1.5),
             queue.Arrival("/in/done.png", "/in", 10, 1.5, (1, 7)),    # done, unchanged
             queue.Arrival("/in/moved.png", "/in", 10, 1.5, (1, 9)),   # same name, another inode
             *(queue.Arrival(f"/in/new-{i}.png", "/in", i, 2.0) for i in range(40)),
             queue.Arrival("/in/new-3.png", "/in", 99, 3.0)]           # given twice: queued once
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(catalog.engine, "before_cursor_execute", count)
    try:
        with catalog.session() as s:
            ids = queue.enqueue_many(s, burst, max_attempts=3)
    finally:
        event.remove(catalog.engine, "before_cursor_execute", count)
    assert len([st for st in statements if "jobs" in st or "events" in st]) == 3
    assert ids[0] is None and ids[1] is None and ids[-1] is None
    assert all(isinstance(i, int) for i in ids[2:-1]) and len(set(ids[2:-1])) == 41
    new3 = job(catalog, ids[3 + 3])  # type: ignore[arg-type]
    assert (new3.path, new3.size, new3.mtime, new3.max_attempts) == ("/in/new-3.png", 3, 2.0, 3)
    assert job(catalog, ids[2]).identity == (1, 9)  # type: ignore[arg-type]
    with catalog.session() as s:                                # one "discovered" per job created, in order
        found = [(e.path, e.data["job_id"]) for e in events_since(s, 0, 100) if e.kind == "discovered"][3:]
    assert found == [(a.path, i) for a, i in zip(burst, ids, strict=True) if i is not None]


def test_enqueue_of_one_file_is_a_burst_of_one(catalog: Catalog) -> None:
    with catalog.session() as s:
        [burst_id] = queue.enqueue_many(s, [queue.Arrival("/in/a.png", "/in", 10, 1.5)])
    assert burst_id is not None
    assert add(catalog) is None                                 # the same rule: already queued
    with catalog.session() as s:
        assert queue.enqueue_many(s, []) == []
