"""Socket methods for what outlives a chat: projects.note / projects.context (notes.py) and boards.* (boards.py).

Schemas are built from the same small helpers as methods.py; the handlers open
one catalog session each, like the asset methods, and report writes as events.
"""
from __future__ import annotations

from datetime import UTC
from typing import Any

from alice.daemon.api.registry import Method
from alice.daemon.catalog import boards, notes
from alice.daemon.catalog.models import NOTE_KINDS

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
INT = {"type": "integer"}
PROJECT_NAME = {"type": "string", "minLength": 1, "maxLength": 100}
PROJECT_REF = {"type": ["integer", "string"], "minLength": 1, "maxLength": 200,
               "description": "the project's id or name"}


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


NOTE = obj({"id": INT, "kind": {"enum": list(NOTE_KINDS)}, "text": STR, "author": STR, "at": STR},
           ("id", "kind", "text", "author", "at"))
CONTEXT = obj({
    "project": STR, "project_id": INT,
    "brief": {"anyOf": [NOTE, {"type": "null"}], "description": "the newest brief"},
    "earlier_briefs": INT,
    "style": {"type": "array", "items": NOTE},
    "decisions": {"type": "array", "items": NOTE, "description": "newest first"},
    "counts": {"type": "object"},
    "text": {"type": "string", "description": "the same, as text to read"},
}, ("project", "brief", "style", "decisions", "counts"))


def _note(ctx: Any, project: str, kind: str, text: str, author: str = "user") -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return notes.add_note(s, project, kind, text, author)


def _context(ctx: Any, project: int | str) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        out = notes.context(s, project)
    return {**out, "text": notes.context_text(out)}


NOTE_METHODS = [
    Method("projects.note",
           "Write into a project's memory (created if new): kind 'brief' (what the project is; the newest one "
           "counts), 'style' (a style note) or 'decision' (a dated decision, e.g. \"warm palette; reject anything "
           "with text in it\"). Record decisions the user makes so later conversations follow them.",
           obj({"project": PROJECT_NAME, "kind": {"enum": list(NOTE_KINDS)},
                "text": {"type": "string", "minLength": 1, "maxLength": notes.MAX_NOTE},
                "author": {"enum": list(notes.AUTHORS), "default": "user",
                           "description": "who wrote it; an assistant writing on its own says 'assistant'"}},
               ("project", "kind", "text")),
           obj({"project": STR, **NOTE["properties"]}, ("project", "id", "kind", "text", "at")), _note),
    Method("projects.context",
           "Everything to know about a project at the start of a conversation: its brief, style notes, decisions "
           "(newest first), asset count, top tags and recent activity. Read it before working on a project.",
           obj({"project": PROJECT_REF}, ("project",)), CONTEXT, _context),
]


# -- boards ----------------------------------------------------------------------------------
ASSET_REF = {"type": ["integer", "string"], "minLength": 1, "maxLength": 200,
             "description": "the asset's id (a number) or content_id ('b3:...')"}
BOARD_NAME = {"type": "string", "minLength": 1, "maxLength": boards.MAX_NAME}
ITEM_NOTE = {"type": ["string", "null"], "maxLength": boards.MAX_ITEM_NOTE}
INTS = {"type": "array", "items": INT}
BOARD = obj({"id": INT, "name": STR, "description": NSTR, "items": INT, "created_at": STR, "updated_at": STR},
            ("id", "name", "items"))
BOARD_ITEM = obj({"id": INT, "content_id": STR, "path": NSTR, "position": INT, "note": NSTR}, ("id", "position"),
                 extra=True)


def _session_call(fn: Any) -> Any:
    def handler(ctx: Any, **params: Any) -> Any:
        with ctx.catalog.session() as s:
            return fn(s, **params)
    return handler


def _board_create(ctx: Any, name: str, description: str | None = None) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return boards.create(s, name, description)


def _board_add(ctx: Any, board: str, assets: list[int | str], note: str | None = None) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return boards.add(s, board, assets, note)


def _board_remove(ctx: Any, board: str, assets: list[int | str]) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return boards.remove(s, board, assets)


def _board_delete(ctx: Any, board: str) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return boards.delete_board(s, board)


def _board_export(ctx: Any, board: str, dest: str | None = None, mode: str = "link") -> dict[str, Any]:
    from datetime import datetime
    from pathlib import Path

    from alice.daemon import board_export

    if dest is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        where = Path(ctx.cfg.data_dir) / "boards" / f"{boards.check_name(board)}-{stamp}"
    else:
        where = ctx.guard.check_in(dest)
    try:
        return board_export.export_board(ctx.catalog, board, where, mode).to_json()
    except board_export.BoardExportError as exc:
        from alice.daemon.api import protocol as p

        raise p.RpcError(p.CONFLICT, str(exc)) from None


BOARD_METHODS = [
    Method("boards.create", "Create an empty board (a named, ordered set of assets with a note per item).",
           obj({"name": BOARD_NAME, "description": ITEM_NOTE}, ("name",)), BOARD, _board_create),
    Method("boards.add", "Put assets at the end of a board (created if new), in the order given, with an optional "
           "note for each (e.g. why it was picked). Assets already on it keep their place; a note given replaces "
           "theirs.",
           obj({"board": BOARD_NAME, "assets": {"type": "array", "items": ASSET_REF, "minItems": 1, "maxItems": 200},
                "note": ITEM_NOTE}, ("board", "assets")),
           obj({"board": STR, "added": INTS, "already_there": INTS, "items": INT},
               ("board", "added", "already_there", "items")), _board_add),
    Method("boards.remove", "Take assets off a board (the assets themselves stay in the catalog).",
           obj({"board": BOARD_NAME, "assets": {"type": "array", "items": ASSET_REF, "minItems": 1,
                                                "maxItems": 200}}, ("board", "assets")),
           obj({"board": STR, "removed": INTS, "items": INT}, ("board", "removed", "items")), _board_remove),
    Method("boards.delete", "Delete a board (its assets stay in the catalog).", obj({"board": BOARD_NAME}, ("board",)),
           obj({"board": STR, "deleted": {"type": "boolean"}, "items": INT}, ("board", "deleted")), _board_delete),
    Method("boards.list", "Every board with its item count, most recently changed first.", obj({}),
           obj({"boards": {"type": "array", "items": BOARD}}, ("boards",)),
           _session_call(lambda s: {"boards": boards.list_boards(s)})),
    Method("boards.get", "One board with its items in order: each asset's id, path, prompt, stars, position and note.",
           obj({"board": BOARD_NAME}, ("board",)),
           obj({**BOARD["properties"], "items": {"type": "array", "items": BOARD_ITEM}}, ("name", "items")),
           _session_call(lambda s, board: boards.get(s, board))),
    Method("boards.export", "Write a board out as a folder of links (or copies) named in board order, each with its "
           "sidecar, plus a board.yaml with the notes. Never overwrites: the folder must be new or empty. Without "
           "dest it goes to <data dir>/boards/<name>-<time>; a dest must lie inside alice's folders.",
           obj({"board": BOARD_NAME, "dest": {"type": "string", "minLength": 1, "maxLength": 4096},
                "mode": {"enum": ["link", "copy"], "default": "link"}}, ("board",)),
           obj({"board": STR, "dest": STR, "mode": STR, "exported": INT, "files": {"type": "array"},
                "missing": {"type": "array"}, "failed": {"type": "array"}, "manifest": STR},
               ("board", "dest", "exported", "files", "missing", "failed")), _board_export),
]
