"""The durable job queue: every detected file is a row in `jobs` before anything else happens.

States: queued -> running -> done | failed, and running -> queued again on a
transient error (with exponential backoff) or a graceful release.

Workers (threads or processes, on one machine or several sharing one
PostgreSQL server) take jobs with `claim`, which locks candidate rows with
FOR UPDATE SKIP LOCKED so two workers never get the same job, and gives the
taker a lease. A worker that dies stops renewing (`heartbeat`); once the
lease passes, `claim` hands the job out again. A job that keeps killing its
workers is failed after max_attempts instead of being retried forever.

Every write that follows a claim names the worker and checks it still holds
the job, so a worker that lost its lease (paused, partitioned) cannot
overwrite the state set by the worker that took over.

All times are the database's clock (now()), so machines with skewed clocks
agree on when a lease has expired.

Functions taking an Engine run their own short transaction, so a worker's
lease bookkeeping never waits on, or rolls back with, its catalog work.
"""
from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import URL, Connection, Engine, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alice.daemon.catalog.engine import unavailable_on_disconnect
from alice.daemon.catalog.group_record import append_events
from alice.daemon.catalog.models import JOB_STATES, table_of
from alice.daemon.catalog.models import Job as JobModel
from alice.daemon.catalog.store import append_event, clean_json, clean_text, rowcount

BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 15 * 60.0
DEFAULT_MAX_ATTEMPTS = 5
_ERROR_CAP = 4000            # characters of an error message kept in last_error


@dataclass(frozen=True)
class Job:
    id: int
    path: str
    inbox: str
    state: str
    attempts: int
    max_attempts: int
    size: int | None
    mtime: float | None
    worker: str | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    identity: tuple[int, int] | None = None     # (st_dev, st_ino) when queued



def worker_name(tag: str | None = None) -> str:
    """host:pid (plus :tag for several workers in one process), unique across machines."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    return f"{name}:{tag}" if tag else name


def take_over_dead(engine: Engine, is_dead: Any) -> list[int]:
    """Requeue, at once, the running jobs whose owner `is_dead(owner)` says is gone; return their ids.

    A daemon that starts on a host where another one was SIGKILLed need not wait
    for the dead one's leases to run out. The attempt the dead owner used still
    counts, so a file that kills every daemon that reads it is still failed in
    the end (max_attempts).
    """
    with _transaction(engine) as conn:
        owners = conn.execute(text("SELECT DISTINCT worker FROM jobs WHERE state = 'running' "
                                   "AND worker IS NOT NULL")).scalars().all()
        dead = [w for w in owners if is_dead(w)]
        if not dead:
            return []
        rows = conn.execute(text("""
            UPDATE jobs SET state = 'queued', worker = NULL, lease_until = NULL, not_before = now(),
                            updated_at = now(),
                            last_error = 'taken over: its worker ' || worker || ' died'
            WHERE state = 'running' AND worker = ANY(:dead)
            RETURNING id
        """), {"dead": dead}).scalars().all()
    return sorted(rows)


def backoff_delay(attempt: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: exponential, capped, with jitter.

    The jitter (50-100% of the exponential step) spreads out retries of many
    files that failed together, e.g. when a network share came back.
    """
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(step / 2, step)


@contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    # A lost server surfaces as CatalogUnavailable, which the daemon answers
    # by pausing and retrying (Catalog.wait_available), like catalog sessions.
    with unavailable_on_disconnect(_shown(engine.url)), engine.begin() as conn:
        yield conn


@lru_cache(maxsize=16)
def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _job(row: Any) -> Job:
    return Job(id=row.id, path=row.path, inbox=row.inbox, state=row.state, attempts=row.attempts,
               max_attempts=row.max_attempts, size=row.size, mtime=row.mtime, worker=row.worker,
               lease_until=row.lease_until, last_error=row.last_error, created_at=row.created_at,
               identity=_identity(getattr(row, "identity", None)))


def _identity(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    dev, _, ino = text.partition(":")
    return int(dev), int(ino)


@dataclass(frozen=True)
class Arrival:
    """A file to queue: its path, its inbox, and what it was when the watcher saw it."""
    path: str
    inbox: str
    size: int | None
    mtime: float | None
    identity: tuple[int, int] | None = None     # (st_dev, st_ino)


def enqueue(s: Session, path: str, inbox: str, size: int | None, mtime: float | None,
            max_attempts: int = DEFAULT_MAX_ATTEMPTS, identity: tuple[int, int] | None = None) -> int | None:
    """Queue `path`; return the new job id, or None when there is nothing new to do.

    Nothing new: the path already has a queued or running job, or its latest
    job finished (done or failed) on a file of the same size and mtime. A
    failed file is re-queued only when it changes or through retry_failed.
    A new job appends a "discovered" event in the same transaction.
    """
    return enqueue_many(s, [Arrival(path, inbox, size, mtime, identity)], max_attempts)[0]


# Built once: the rows go as parameters, and SQLAlchemy sends them as one multi-row INSERT.
_LATEST = text("""
    SELECT DISTINCT ON (path) path, state, size, mtime, identity FROM jobs
    WHERE path = ANY(:paths) ORDER BY path, id DESC
""")
_JOBS = table_of(JobModel)
_INSERT = (insert(_JOBS)
           .on_conflict_do_nothing(index_elements=[_JOBS.c.path],
                                   # literal, not bound: a prepared statement's parameters
                                   # cannot prove it matches the partial index
                                   index_where=text("state IN ('queued', 'running')"))
           .returning(_JOBS.c.id, _JOBS.c.path))


def enqueue_many(s: Session, arrivals: Sequence[Arrival],
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> list[int | None]:
    """enqueue() for every arrival in the caller's transaction, with three statements whatever
    their number (the watcher hands over a burst at once); a job id or None for each, in order.
    A path given twice is queued once, for its first arrival."""
    wanted: dict[str, Arrival] = {}
    for a in arrivals:
        wanted.setdefault(clean_text(a.path), a)
    if not wanted:
        return []
    latest = {r.path: r for r in s.execute(_LATEST, {"paths": list(wanted)})}
    rows = []
    for path, a in wanted.items():
        ident = f"{a.identity[0]}:{a.identity[1]}" if a.identity else None
        if not _unchanged_since(latest.get(path), a.size, a.mtime, ident):
            rows.append({"path": path, "inbox": clean_text(a.inbox), "size": a.size, "mtime": a.mtime,
                         "max_attempts": max(1, max_attempts), "identity": ident})
    # The partial unique index on live jobs settles races between watchers: a path
    # with a live job gets no row back.
    created: dict[str, int] = {r.path: r.id for r in s.execute(_INSERT, rows)} if rows else {}
    append_events(s, [("discovered", None, path, {"job_id": created[path], "inbox": wanted[path].inbox,
                                                  "size": wanted[path].size})
                      for path in wanted if path in created])
    out: list[int | None] = []
    for a in arrivals:
        path = clean_text(a.path)
        out.append(created.pop(path, None))     # pop: a path given twice gets its job id once
    return out


def _unchanged_since(latest: Any, size: int | None, mtime: float | None, ident: str | None) -> bool:
    """Whether the path's latest job finished on this very file, so there is nothing new to do."""
    # Another inode under the same name is another file, even with the same size and mtime.
    return latest is not None and latest.state in ("done", "failed") \
        and latest.size == size and latest.mtime == mtime \
        and (latest.identity is None or ident is None or latest.identity == ident)


# Built once, not parsed again on every call: the loop claims several times a second under load.
_CLAIM = text("""
    WITH picked AS (
        SELECT id FROM jobs
        WHERE (state = 'queued' AND not_before <= now())
           OR (state = 'running' AND lease_until < now() AND attempts < max_attempts)
        ORDER BY not_before, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs SET state = 'running', worker = :worker, attempts = attempts + 1,
                    lease_until = now() + make_interval(secs => :lease), updated_at = now()
    FROM picked WHERE jobs.id = picked.id
    RETURNING jobs.*
""")
_FAIL_EXHAUSTED = text("""
    UPDATE jobs SET state = 'failed', updated_at = now(), lease_until = NULL,
           last_error = 'the worker processing this file stopped responding ' || attempts
                        || ' times (lease expired; last worker ' || coalesce(worker, '?') || ')'
    WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND lease_until < now()
                 AND attempts >= max_attempts FOR UPDATE SKIP LOCKED)
    RETURNING id, path, attempts, last_error
""")


def claim(engine: Engine, worker: str, lease_s: float, limit: int = 1, *, sweep: bool = True) -> list[Job]:
    """Take up to `limit` jobs for `worker`, leased for `lease_s` seconds.

    A job whose lease ran out max_attempts times is never handed out again; `sweep`
    also marks such jobs failed (with an event). The daemon sweeps once a second,
    not at every claim of a burst."""
    with _transaction(engine) as conn:
        if sweep:
            _fail_exhausted_leases(conn)
        rows = conn.execute(_CLAIM, {"limit": limit, "worker": worker, "lease": float(lease_s)}).all()
    return sorted((_job(r) for r in rows), key=lambda j: j.id)


def _fail_exhausted_leases(conn: Connection) -> None:
    # A job whose lease ran out max_attempts times has killed (or hung) a
    # worker each time; handing it out again would take the daemon down again.
    for r in conn.execute(_FAIL_EXHAUSTED).all():
        append_event(conn, "failed", None, r.path, {"job_id": r.id, "attempts": r.attempts, "error": r.last_error})


def heartbeat(engine: Engine, job_ids: list[int], worker: str, lease_s: float) -> list[int]:
    """Extend the leases `worker` still holds; return those ids (a missing id was lost)."""
    if not job_ids:
        return []
    with _transaction(engine) as conn:
        rows = conn.execute(
            update(JobModel)
            .where(JobModel.id.in_(job_ids), JobModel.worker == worker, JobModel.state == "running")
            .values(lease_until=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, float(lease_s)),
                    updated_at=func.now())
            .returning(JobModel.id)).scalars().all()
    return sorted(rows)


def complete(engine: Engine, job_id: int, worker: str, result: dict[str, Any] | None = None) -> bool:
    """Mark the job done; False if `worker` no longer holds it (its outcome is then discarded)."""
    with _transaction(engine) as conn:
        done = conn.execute(
            update(JobModel)
            .where(JobModel.id == job_id, JobModel.worker == worker, JobModel.state == "running")
            .values(state="done", lease_until=None, result=clean_json(result), updated_at=func.now())
        ).rowcount
    return done == 1


def complete_in(s: Session | Connection, job_id: int, worker: str, result: dict[str, Any] | None = None) -> bool:
    """complete() inside the caller's transaction: the group commit of filing records the
    files and marks their jobs done in one go (daemon/ingest/runner.py)."""
    done = rowcount(s.execute(
        update(JobModel)
        .where(JobModel.id == job_id, JobModel.worker == worker, JobModel.state == "running")
        .values(state="done", lease_until=None, result=clean_json(result), updated_at=func.now())
    ))
    return done == 1


_COMPLETE_MANY = text("""
    UPDATE jobs j SET state = 'done', lease_until = NULL, result = r.result, updated_at = now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id bigint, result jsonb)
    WHERE j.id = r.id AND j.worker = :worker AND j.state = 'running'
""")


def complete_many_in(s: Session | Connection, worker: str, results: list[tuple[int, dict[str, Any] | None]]) -> int:
    """complete_in() for several jobs with one UPDATE; returns how many `worker` still held."""
    if not results:
        return 0
    rows = json.dumps([{"id": job_id, "result": clean_json(result)} for job_id, result in results])
    return rowcount(s.execute(_COMPLETE_MANY, {"rows": rows, "worker": worker}))


def complete_many(engine: Engine, worker: str, results: list[tuple[int, dict[str, Any] | None]]) -> int:
    """complete() for several jobs in one transaction; returns how many `worker` still held."""
    if not results:
        return 0
    with _transaction(engine) as conn:
        return complete_many_in(conn, worker, results)


def fail(engine: Engine, job_id: int, worker: str, error: str, transient: bool,
         *, base_s: float = BACKOFF_BASE_S, cap_s: float = BACKOFF_CAP_S) -> str | None:
    """Record a failed attempt; return the job's new state, or None if `worker` lost the job.

    Transient errors (file still being written, share offline, catalog hiccup)
    go back to the queue after a backoff until max_attempts; other errors,
    and the last attempt, leave the job failed with `error` as the reason,
    and append a "failed" event.
    """
    error = (clean_text(error) or "unknown error")[:_ERROR_CAP]
    with _transaction(engine) as conn:
        row = conn.execute(
            select(JobModel.attempts, JobModel.max_attempts, JobModel.path)
            .where(JobModel.id == job_id, JobModel.worker == worker, JobModel.state == "running")
            .with_for_update()).first()
        if row is None:
            return None
        retry = transient and row.attempts < row.max_attempts
        if retry:
            delay = backoff_delay(row.attempts, base_s, cap_s)
            conn.execute(update(JobModel).where(JobModel.id == job_id).values(
                state="queued", worker=None, lease_until=None, last_error=error, updated_at=func.now(),
                not_before=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay)))
            return "queued"
        conn.execute(update(JobModel).where(JobModel.id == job_id).values(
            state="failed", lease_until=None, last_error=error, updated_at=func.now()))
        append_event(conn, "failed", None, row.path,
                     {"job_id": job_id, "attempts": row.attempts, "error": error, "transient": transient})
        return "failed"


def release(engine: Engine, job_ids: list[int], worker: str) -> int:
    """Give unfinished jobs back (graceful shutdown); the attempt does not count."""
    if not job_ids:
        return 0
    with _transaction(engine) as conn:
        return conn.execute(
            update(JobModel)
            .where(JobModel.id.in_(job_ids), JobModel.worker == worker, JobModel.state == "running")
            .values(state="queued", worker=None, lease_until=None, not_before=func.now(),
                    attempts=func.greatest(JobModel.attempts - 1, 0), updated_at=func.now())
        ).rowcount


def retry_failed(s: Session, ids: list[int] | None = None) -> int:
    """Requeue failed jobs (all, or those in `ids`) with a fresh set of attempts; return how many.

    A failed job whose path meanwhile got a new live job is left alone (the
    path is already queued).
    """
    live = select(JobModel.path).where(JobModel.state.in_(("queued", "running")))
    q = (update(JobModel).where(JobModel.state == "failed", JobModel.path.not_in(live))
         .values(state="queued", attempts=0, worker=None, lease_until=None,
                 not_before=func.now(), updated_at=func.now())
         .returning(JobModel.id, JobModel.path))
    if ids is not None:
        if not ids:
            return 0
        q = q.where(JobModel.id.in_(ids))
    # Several failed jobs may exist for one path (it failed, changed, failed
    # again); only the newest may come back, or the live-path index refuses.
    newest = select(func.max(JobModel.id)).where(JobModel.state == "failed").group_by(JobModel.path)
    q = q.where(JobModel.id.in_(newest))
    rows = s.execute(q).all()
    for r in rows:
        append_event(s, "requeued", None, r.path, {"job_id": r.id})
    return len(rows)


def depth(s: Session) -> dict[str, int]:
    """Number of jobs in each state (every state present, zeros included)."""
    found = dict(s.execute(select(JobModel.state, func.count()).group_by(JobModel.state)).all())
    return {state: found.get(state, 0) for state in JOB_STATES}


def get_job(s: Session, job_id: int) -> Job | None:
    row = s.get(JobModel, job_id)
    return None if row is None else _job(row)


def recent_failures(s: Session, limit: int = 10) -> list[dict[str, Any]]:
    """The newest failed jobs, for `alice status`."""
    rows = s.execute(select(JobModel.id, JobModel.path, JobModel.last_error, JobModel.updated_at)
                     .where(JobModel.state == "failed").order_by(JobModel.updated_at.desc()).limit(limit)).all()
    return [{"id": r.id, "path": r.path, "error": r.last_error, "at": r.updated_at.isoformat()} for r in rows]


def recent_not_media(s: Session, limit: int = 10) -> list[dict[str, Any]]:
    """The newest files the daemon left in the inboxes because they are no media, for `alice status`."""
    rows = s.execute(select(JobModel.id, JobModel.path, JobModel.result, JobModel.updated_at)
                     .where(JobModel.state == "done", JobModel.result["status"].astext == "not-media")
                     .order_by(JobModel.updated_at.desc()).limit(limit)).all()
    return [{"id": r.id, "path": r.path, "reason": (r.result or {}).get("reason"), "at": r.updated_at.isoformat()}
            for r in rows]
