"""Which files a file was made from, as its own record says: pure, record in, parents out.

alice's generation record names them: `parents` (what a recreate or vary ran
from, and input images whose content alice knew) and `references` (the
request's input files; an A1111 img2img's references are its source images).
Each parent is {"content_id": "b3:...", "kind": one of KINDS}; the catalog
turns them into lineage edges when the file is filed.
"""
from __future__ import annotations

import re
from typing import Any

KINDS = ("recreated_from", "varied_from", "reference", "graph_input")
_CONTENT_ID = re.compile(r"^b3:[0-9a-f]{64}$")
MAX_PARENTS = 64


def parents_of(raw: dict[str, Any] | None) -> list[dict[str, str]]:
    """The parents alice's record in `raw` names, in order, each (content id, kind) once."""
    raw = raw or {}
    if raw.get("alice_generation") is None:
        return []
    found: list[dict[str, str]] = []
    listed = raw.get("parents")
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, dict):
            _add(found, item.get("content_id"), item.get("kind"))
    inputs = reference_kind(raw.get("provider"), raw.get("model"))
    references = raw.get("references")
    for cid in references if isinstance(references, list) else []:
        if not any(p["content_id"] == cid for p in found):
            _add(found, cid, inputs)
    return found[:MAX_PARENTS]


def reference_kind(provider: object, model: object) -> str:
    """The lineage kind of a request's references: an A1111 img2img's are its source images,
    graph inputs as a ComfyUI LoadImage's are; any other request's are references."""
    return "graph_input" if (provider, model) == ("a1111", "img2img") else "reference"


def _add(found: list[dict[str, str]], content_id: Any, kind: Any) -> None:
    if not isinstance(content_id, str) or not _CONTENT_ID.match(content_id) or kind not in KINDS:
        return
    if {"content_id": content_id, "kind": kind} not in found:
        found.append({"content_id": content_id, "kind": kind})
