"""Socket methods for what outlives a chat: projects.note / projects.context (notes.py) and boards.* (boards.py).

Schemas are built from the same small helpers as methods.py; the handlers open
one catalog session each, like the asset methods, and report writes as events.
"""
from __future__ import annotations

from typing import Any

from alice.daemon.api.registry import Method
from alice.daemon.catalog import notes, store
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
        out = notes.add_note(s, project, kind, text, author)
        store.append_event(s, "project_noted", None, None,
                           {"project": out["project"], "kind": kind, "note_id": out["id"], "author": author})
    return out


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
