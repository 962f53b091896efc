"""Following the event log live, for `alice events`.

append_event NOTIFYs channel "alice_events" with {id, kind}; this module
LISTENs on a dedicated connection and, on every wake-up, reads the rows
after the last one it yielded. Reading rows (rather than trusting payloads)
means nothing is missed: notifications sent while the listener was
reconnecting are covered by the next read, and a periodic read without a
notification covers anything else.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.catalog.store import EVENTS_CHANNEL, EventRow, events_since


def follow_events(catalog: Catalog, after_id: int = 0, *, poll_s: float = 5.0,
                  should_stop: Callable[[], bool] = lambda: False) -> Iterator[EventRow]:
    """Yield events with id > after_id, in order, then new ones as they are committed.

    Survives the server restarting (waits and reconnects); stops when
    `should_stop()` is true, checked at least every `poll_s` seconds.
    """
    url = catalog.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    last = after_id
    while not should_stop():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                while not should_stop():
                    # Read after LISTEN is active, so an event committed between
                    # the read and the wait still wakes the wait.
                    for event in _read_after(catalog, last):
                        last = event.id
                        yield event
                    for _ in conn.notifies(timeout=poll_s, stop_after=1):
                        break
        except (psycopg.OperationalError, CatalogUnavailable):
            if not catalog.wait_available(should_stop=should_stop):
                return


def _read_after(catalog: Catalog, after_id: int, batch: int = 500) -> Iterator[EventRow]:
    while True:
        with catalog.session() as s:
            rows = events_since(s, after_id, batch)
        yield from rows
        if len(rows) < batch:
            return
        after_id = rows[-1].id
