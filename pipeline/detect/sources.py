"""Where detectors find a tool's text, and how they name it as evidence.

The same A1111-style text or JSON record turns up in a PNG chunk, an EXIF
UserComment (JPEG/WebP/AVIF), a JPEG/GIF comment or an ImageDescription
depending on the container. Detectors ask for it here instead of each
knowing every container.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from alice.pipeline.metadata import Metadata

JSON_CAP = 32 * 1024 * 1024


def text_evidence(meta: Metadata, key: str) -> str:
    """Evidence name for a text value: "png:text:parameters", "jpeg:text:comment"."""
    return f"{meta.format}:text:{key}"


def text_value(meta: Metadata, *keys: str) -> tuple[str, str] | None:
    """(evidence, value) of the first of `keys` present in meta.text as a non-empty string."""
    for key in keys:
        value = meta.text.get(key)
        if isinstance(value, str) and value.strip():
            return text_evidence(meta, key), value
    return None


def exif_text(meta: Metadata, tag: str) -> str | None:
    value = meta.exif.get(tag)
    return value if isinstance(value, str) and value.strip() else None


def parameter_texts(meta: Metadata) -> Iterator[tuple[str, str]]:
    """Every place an SD front end may have written its parameters text or JSON."""
    for key in ("parameters", "Parameters"):
        found = text_value(meta, key)
        if found:
            yield found
    for tag in ("UserComment", "ImageDescription", "XPComment"):
        value = exif_text(meta, tag)
        if value:
            yield f"exif:{tag}", value
    found = text_value(meta, "comment", "Comment")
    if found:
        yield found


def load_json(text: Any) -> Any:
    """json.loads that returns None for anything that is not valid, bounded JSON."""
    if isinstance(text, (dict, list)):
        return text
    if not isinstance(text, str):
        return None
    stripped = text.strip().lstrip("\ufeff")
    if not stripped or stripped[0] not in "{[\"" or len(stripped) > JSON_CAP:
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def load_json_object(text: Any) -> dict | None:
    """A JSON object from text (also one wrapped in a JSON string, as some savers double-encode)."""
    value = load_json(text)
    if isinstance(value, str):
        value = load_json(value)
    return value if isinstance(value, dict) else None
