"""The filer's own connections to the catalog: content locks and the per-file questions.

Filing asks "is this content already in the catalog?" and then copies the file
into the tree and records it; two filers given the same bytes at once (threads
of this process, other processes, other machines sharing the catalog) must not
both copy them. So each content id is locked from that question until its
group's commit, with a PostgreSQL advisory lock.

A lock per pooled connection cost a checkout, a ping, the lock and the
question (four round trips) per file, and a connection held per file waiting
for its group, which capped the groups at the pool's size. Here a process
keeps the locks it holds on a few autocommit connections (each content id
always on the same one), taken from the pool while any lock is held and given
back when none is:
  * the lock and the question go in one statement (a function whose
    question runs after the lock is granted, so it sees every commit made
    under the lock before: migration 0013);
  * releasing a group's locks is one statement per connection.
Advisory locks are re-entrant within a server session, so threads of this
process are kept apart here, before the server is asked.

The quick check's question ("is this inbox path filed already, unchanged?")
goes over the same connections: a pooled checkout and its ping cost more than
the question.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from alice.daemon.catalog.store import clean_text


class ContentBusy(OSError):
    """Another filer held a content's lock for too long; a transient failure (retried later)."""


# The lock, then the question under it (migration 0013 says why a function).
_LOCK = "SELECT granted, known FROM alice_lock_content(%s)"
_UNLOCK = "SELECT pg_advisory_unlock(hashtextextended(c, 0)) FROM unnest(%s::text[]) AS c"
_SOURCE_STATE = """
    SELECT l.role, l.present, l.size, l.mtime_ns, l.file_hash, l.asset_id,
           a.content_id, a.tool, a.ai, p.name AS project_name,
           (SELECT f.path FROM locations f
             WHERE f.asset_id = l.asset_id AND f.present AND f.role IN ('organized', 'quarantine')
             ORDER BY (f.role = 'organized') DESC, f.id DESC LIMIT 1) AS filed_path
    FROM locations l JOIN assets a ON a.id = l.asset_id JOIN projects p ON p.id = a.project_id
    WHERE l.path = %s
"""


@dataclass(frozen=True)
class SourceState:
    """What the catalog knows about an inbox path, for filing's quick check."""

    role: str
    present: bool
    size: int | None
    mtime_ns: int | None
    file_hash: str
    asset_id: int
    content_id: str
    tool: str | None
    ai: bool
    project_name: str
    filed_path: str | None      # its asset's present filed copy (organized first), if any


class _Shard:
    """One connection of the link, with the content ids locked on it."""

    def __init__(self) -> None:
        self.io = threading.Lock()      # one statement at a time on it
        self.fairy: Any = None          # the pooled connection, while the link is in use
        self.locked: set[str] = set()   # content ids the server granted on it


class FilingLink:
    def __init__(self, engine: Engine, connections: int = 4) -> None:
        self.engine = engine
        self._state = threading.Condition()
        self._held: set[str] = set()           # locked by this process (or being locked)
        self._asking = 0                       # questions under way (they keep the connections too)
        self._waiting = 0                      # threads waiting for a content this process holds
        # A few connections, each content id always on the same one (its lock is released
        # where it was taken), so the filing threads do not queue for one socket.
        self._shards = [_Shard() for _ in range(max(1, connections))]

    @property
    def wanted(self) -> bool:
        """Whether a thread waits for a content this process holds: its holder's group
        should commit now rather than when it is full (FilingLine.run)."""
        return self._waiting > 0

    def _shard(self, key: str) -> _Shard:
        return self._shards[hash(key) % len(self._shards)]

    def source_state(self, path: str) -> SourceState | None:
        """The inbox path's location, its asset and a present filed copy, in one round trip."""
        with self._state:
            self._asking += 1
        try:
            with self._connected(self._shard(path)) as conn:
                row = conn.execute(_SOURCE_STATE, (clean_text(path),)).fetchone()
        finally:
            with self._state:
                self._asking -= 1
            self._forget([])
        return SourceState(*row) if row is not None else None

    def acquire(self, content_id: str, timeout: float = 120.0) -> int | None:
        """Lock `content_id`; return the id of its asset if the catalog has one, else None.
        ContentBusy after `timeout` (the holder is stuck: the file is retried later)."""
        deadline = time.monotonic() + timeout
        with self._state:
            self._waiting += 1
            try:
                while content_id in self._held:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self._busy(content_id, timeout)
                    self._state.wait(left)
            finally:
                self._waiting -= 1
            self._held.add(content_id)
        pause = 0.005
        try:
            while True:
                granted, known = self._try(content_id)
                if granted:
                    return known
                if time.monotonic() > deadline:
                    raise self._busy(content_id, timeout)
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
        except BaseException:
            self._forget([content_id])
            raise

    def release(self, content_ids: Iterable[str]) -> None:
        """Unlock these content ids (a statement per connection that holds some), and give
        the connections back once nothing is held."""
        ids = list(dict.fromkeys(content_ids))
        if not ids:
            return
        try:
            for shard in self._shards:
                with self._state:
                    granted = [c for c in ids if c in shard.locked]
                if not granted:
                    continue
                with shard.io:
                    if shard.fairy is not None:
                        try:
                            shard.fairy.driver_connection.execute(_UNLOCK, (granted,))
                        except Exception:
                            self._drop(shard)   # the server ends the session, and its locks with it
        finally:
            self._forget(ids)

    def _try(self, content_id: str) -> tuple[bool, int | None]:
        shard = self._shard(content_id)
        with self._connected(shard) as conn:
            granted, known = conn.execute(_LOCK, (content_id,)).fetchone()
        if granted:
            with self._state:
                shard.locked.add(content_id)
        return bool(granted), known

    @contextmanager
    def _connected(self, shard: _Shard) -> Iterator[Any]:
        """The shard's connection (taken from the pool if it has none), one statement at a
        time; a failure drops it, and the server ends the locks held on it."""
        with shard.io:
            if shard.fairy is None:
                fairy = self.engine.raw_connection()
                conn: Any = fairy.driver_connection
                conn.autocommit = True
                shard.fairy = fairy
            try:
                yield shard.fairy.driver_connection
            except Exception:
                self._drop(shard)
                raise

    def _drop(self, shard: _Shard) -> None:
        """Forget a broken connection (its locks are gone with its server session)."""
        fairy, shard.fairy = shard.fairy, None
        with self._state:
            shard.locked.clear()
        if fairy is not None:
            fairy.invalidate()

    def _forget(self, ids: list[str]) -> None:
        with self._state:
            for c in ids:
                self._held.discard(c)
                for shard in self._shards:
                    shard.locked.discard(c)
            idle = not self._held and not self._asking
            self._state.notify_all()
        if idle:
            for shard in self._shards:
                with shard.io, self._state:
                    if not self._held and not self._asking and shard.fairy is not None:
                        fairy, shard.fairy = shard.fairy, None
                        conn: Any = fairy.driver_connection
                        conn.autocommit = False
                        fairy.close()       # back to the pool: nothing is locked on it

    @staticmethod
    def _busy(content_id: str, timeout: float) -> ContentBusy:
        return ContentBusy(f"content {content_id[:15]} has been locked by another filer for "
                           f"{timeout:.0f} s; the file will be retried")
