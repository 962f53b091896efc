"""Following the catalog's event log live (`alice events`, `events.subscribe`).

Events are appended by whoever changes the catalog and announced with
PostgreSQL NOTIFY on store.EVENTS_CHANNEL. A NOTIFY carries only the event id;
the row is read from the table, so nothing is lost to payload limits, and a
follower that was away catches up from the table.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable

# Sequence ids are handed out at INSERT but become visible at COMMIT, so an
# event with a lower id can appear after a higher one. Re-reading a window
# below the highest id seen (and skipping ids already printed) catches those.
_LATE_WINDOW = 200


def event_json(ev: store.EventRow) -> dict[str, Any]:
    return {"id": ev.id, "at": ev.at.isoformat(), "kind": ev.kind, "asset_id": ev.asset_id,
            "path": ev.path, "data": ev.data}


def follow_events(catalog: Catalog, since: int | None = None, follow: bool = True,
                  poll_s: float = 1.0,
                  should_stop: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
    """Events after `since` (default: the last 20), then new ones as they commit.

    `should_stop()` is checked at least every `poll_s` seconds, so a thread
    following events (the socket server's feed) can be ended.
    """
    with catalog.session() as s:
        last = store.last_event_id(s)
    floor = max(0, last - 20) if since is None else since   # never print at or below this
    after = floor
    seen: deque[int] = deque(maxlen=4 * _LATE_WINDOW)
    seen_set: set[int] = set()

    def fresh() -> Iterator[dict[str, Any]]:
        nonlocal after
        with catalog.session() as s:
            rows = store.events_since(s, max(floor, after - _LATE_WINDOW))
        for ev in rows:
            if ev.id in seen_set:
                continue
            if len(seen) == seen.maxlen:
                seen_set.discard(seen[0])
            seen.append(ev.id)
            seen_set.add(ev.id)
            after = max(after, ev.id)
            yield event_json(ev)

    yield from fresh()
    if not follow:
        return
    raw = catalog.engine.raw_connection()
    try:
        conn = raw.driver_connection
        if conn is None:
            raise CatalogUnavailable("the catalog connection closed before LISTEN")
        conn.autocommit = True
        conn.execute(f"LISTEN {store.EVENTS_CHANNEL}")
        while not should_stop():
            # Wake on a NOTIFY, or every poll_s anyway (a NOTIFY is lost if the
            # connection drops; the table is the truth).
            for _ in conn.notifies(timeout=poll_s, stop_after=1):
                pass
            yield from fresh()
    finally:
        raw.close()
