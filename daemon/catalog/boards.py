"""Boards: named, ordered sets of assets with a note per item.

A board is created by its first `add`; adding an asset that is already on it
keeps its place (and replaces its note when a new one is given). Positions
only grow, so order is "as added" until `move` puts an item elsewhere.
Writes take an open Session like curation.py.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alice.daemon.catalog import curation, store
from alice.daemon.catalog import search as search_mod
from alice.daemon.catalog.models import Board, BoardItem

MAX_NAME = 100
MAX_ITEM_NOTE = 2000
MAX_ITEMS = 10_000


def check_name(name: str) -> str:
    """A board name that can also be a folder name (exports are folders)."""
    from alice.pipeline.plan import sanitize_segment

    if not isinstance(name, str) or not name.strip():
        raise curation.CurationError("a board name must be non-empty text")
    if len(name) > MAX_NAME:
        raise curation.CurationError(f"a board name can be at most {MAX_NAME} characters")
    clean = sanitize_segment(name.strip())
    if clean != name.strip():
        raise curation.CurationError(f"{name!r} cannot be a folder name as is; use {clean!r}")
    return clean


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    if len(note) > MAX_ITEM_NOTE or "\x00" in note:
        raise curation.CurationError(f"an item note is at most {MAX_ITEM_NOTE} characters, without NUL")
    return note.strip() or None


def _board(s: Session, name: str) -> Board:
    found = s.execute(select(Board).where(Board.name == name)).scalar_one_or_none()
    if found is None:
        raise curation.NotFound(f"no board {name!r}; boards.list shows the ones there are")
    return found


def _summary(b: Board, items: int) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "description": b.description, "items": items,
            "created_at": b.created_at.isoformat(), "updated_at": b.updated_at.isoformat()}


def _count(s: Session, board_id: int) -> int:
    return s.execute(select(func.count()).where(BoardItem.board_id == board_id)).scalar_one()


def create(s: Session, name: str, description: str | None = None) -> dict[str, Any]:
    """A new, empty board; Conflict if the name is taken."""
    name = check_name(name)
    made = s.execute(insert(Board).values(name=name, description=_note(description))
                     .on_conflict_do_nothing(index_elements=[Board.name]).returning(Board.id)).scalar_one_or_none()
    if made is None:
        raise curation.Conflict(f"a board named {name!r} exists already; boards.get shows it")
    store.append_event(s, "board_created", None, None, {"board": name})
    return _summary(_board(s, name), 0)


def _touch(s: Session, board_id: int) -> None:
    s.execute(update(Board).where(Board.id == board_id).values(updated_at=func.now()))


def add(s: Session, name: str, assets: list[int | str], note: str | None = None) -> dict[str, Any]:
    """Put assets at the end of board `name` (created if new), in the order given; returns what was added.

    Like every change here, it is recorded in the event log in the same transaction."""
    name = check_name(name)
    note = _note(note)
    ids = list(dict.fromkeys(curation.resolve_asset(s, a) for a in assets))
    s.execute(insert(Board).values(name=name).on_conflict_do_nothing(index_elements=[Board.name]))
    board = s.execute(select(Board).where(Board.name == name).with_for_update()).scalar_one()
    if _count(s, board.id) + len(ids) > MAX_ITEMS:
        raise curation.CurationError(f"a board holds at most {MAX_ITEMS:,} items; start another board")
    last = s.execute(select(func.coalesce(func.max(BoardItem.position), 0))
                     .where(BoardItem.board_id == board.id)).scalar_one()
    added, kept = [], []
    for i, asset_id in enumerate(ids, start=1):
        row = s.execute(insert(BoardItem).values(board_id=board.id, asset_id=asset_id, position=last + i, note=note)
                        .on_conflict_do_nothing().returning(BoardItem.asset_id)).scalar_one_or_none()
        if row is None:
            kept.append(asset_id)
            if note is not None:
                s.execute(update(BoardItem).where(BoardItem.board_id == board.id, BoardItem.asset_id == asset_id)
                          .values(note=note))
        else:
            added.append(asset_id)
    _touch(s, board.id)
    store.append_event(s, "board_added", None, None, {"board": name, "assets": added})
    return {"board": name, "added": added, "already_there": kept, "items": _count(s, board.id)}


def remove(s: Session, name: str, assets: list[int | str]) -> dict[str, Any]:
    """Take assets off a board (ones not on it are ignored)."""
    board = _board(s, check_name(name))
    ids = [curation.resolve_asset(s, a) for a in assets]
    gone = list(s.execute(delete(BoardItem).where(BoardItem.board_id == board.id, BoardItem.asset_id.in_(ids))
                          .returning(BoardItem.asset_id)).scalars())
    _touch(s, board.id)
    store.append_event(s, "board_removed", None, None, {"board": board.name, "assets": gone})
    return {"board": board.name, "removed": gone, "items": _count(s, board.id)}


def delete_board(s: Session, name: str) -> dict[str, Any]:
    """Delete a board and its items (the assets stay)."""
    board = _board(s, check_name(name))
    items = _count(s, board.id)
    s.execute(delete(Board).where(Board.id == board.id))
    store.append_event(s, "board_deleted", None, None, {"board": board.name})
    return {"board": board.name, "deleted": True, "items": items}


def list_boards(s: Session) -> list[dict[str, Any]]:
    counts = select(BoardItem.board_id, func.count().label("n")).group_by(BoardItem.board_id).subquery()
    rows = s.execute(select(Board, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.board_id == Board.id)
                     .order_by(Board.updated_at.desc(), Board.name))
    return [_summary(b, n) for b, n in rows]


def get(s: Session, name: str) -> dict[str, Any]:
    """The board with its items in order: each asset's search row plus its position and note."""
    board = _board(s, check_name(name))
    rows = s.execute(select(BoardItem).where(BoardItem.board_id == board.id)
                     .order_by(BoardItem.position, BoardItem.added_at)).scalars().all()
    described = {d["id"]: d for d in search_mod.describe(s, [r.asset_id for r in rows])}
    items = [{**described[r.asset_id], "position": n, "note": r.note, "added_at": r.added_at.isoformat()}
             for n, r in enumerate(rows, start=1) if r.asset_id in described]
    return {**_summary(board, len(items)), "items": items}

