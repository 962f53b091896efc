"""The event log: append-only, read back in order, NOTIFY on commit."""
from __future__ import annotations

import json

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.store import EVENTS_CHANNEL, append_event, events_since, last_event_id


def test_append_and_read_back_in_order(catalog: Catalog) -> None:
    with catalog.session() as s:
        a = append_event(s, "discovered", None, "/in/a.png", {"size": 3})
        b = append_event(s, "quarantined", None, "/in/b\x00.png", {"why": "truncated\x00"})
    with catalog.session() as s:
        rows = events_since(s, 0, 10)
        assert [r.id for r in rows] == [a, b] and b > a
        assert (rows[1].kind, rows[1].path, rows[1].data) == ("quarantined", "/in/b.png", {"why": "truncated"})
        assert events_since(s, a, 10) == [rows[1]]
        assert events_since(s, 0, 1) == [rows[0]]
        assert last_event_id(s) == b


@pytest.mark.parametrize("statement", ["UPDATE events SET kind = 'x'", "DELETE FROM events", "TRUNCATE events"])
def test_events_cannot_be_changed_or_removed(catalog: Catalog, statement: str) -> None:
    with catalog.session() as s:
        append_event(s, "organized", None, "/org/a.png", {})
    with pytest.raises(ProgrammingError, match="append-only"):
        with catalog.session() as s:
            s.execute(text(statement))
    with catalog.session() as s:
        assert [e.kind for e in events_since(s, 0, 10)] == ["organized"]


def test_notify_reaches_a_listener_on_commit_only(catalog: Catalog, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        with pytest.raises(RuntimeError):
            with catalog.session() as s:
                append_event(s, "organized", None, "/rolled/back.png", {})
                raise RuntimeError("abort")
        with catalog.session() as s:
            event_id = append_event(s, "duplicate", None, "/in/dup.png", {"of": 1})
        got = list(listener.notifies(timeout=5, stop_after=1))
    assert len(got) == 1 and got[0].channel == EVENTS_CHANNEL
    assert json.loads(got[0].payload) == {"id": event_id, "kind": "duplicate"}
