"""alice's own generation record: what a file generated through alice's providers carries.

One JSON object, version 1:

    {"alice_generation": 1, "provider": "fal", "model": "fal-ai/flux/dev",
     "request_id": "...", "prompt": "...", "params": {...},
     "created_at": "2025-01-02T03:04:05+00:00", "references": ["b3:..."]}

Where it is stored (the same JSON text in each):
- PNG: an iTXt chunk with keyword `alice:generation` (uncompressed, UTF-8);
- JPEG / WebP (and any XMP carrier): XMP property `alice:generation`, namespace
  https://alicemultiverse.dev/ns/1.0/, as element text;
- MP4 / MOV: a `keys`/`ilst` entry named `alice:generation` under moov/udta/meta,
  i.e. what `ffmpeg -movflags use_metadata_tags -metadata alice:generation=<json>`
  writes (read back as Metadata.video_tags["alice:generation"]).

It is the strongest evidence there is: we wrote it ourselves when we made
the file, so it is checked strictly and anything malformed is rejected.
"""
from __future__ import annotations

import json
import re
from typing import Any

KEY = "alice:generation"
NAMESPACE = "https://alicemultiverse.dev/ns/1.0/"
VERSION = 1
MAX_RECORD = 1024 * 1024        # serialised; prompts and params are small, references are ids

_PROVIDER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class InvalidRecord(ValueError):
    """The text is not a version-1 alice generation record."""


def validate_record(record: Any) -> dict[str, Any]:
    """The record, checked; raises InvalidRecord saying which field is wrong."""
    if not isinstance(record, dict):
        raise InvalidRecord(f"generation record must be a JSON object, not {type(record).__name__}")
    if record.get("alice_generation") != VERSION or isinstance(record.get("alice_generation"), bool):
        raise InvalidRecord(f"alice_generation must be {VERSION}, got {record.get('alice_generation')!r}")
    provider = record.get("provider")
    if not isinstance(provider, str) or not _PROVIDER_RE.match(provider):
        raise InvalidRecord(f"provider must be a lower-case slug like 'fal', got {provider!r}")
    for name in ("model", "request_id", "created_at"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise InvalidRecord(f"{name} must be a string, got {type(record[name]).__name__}")
    if record.get("params") is not None and not isinstance(record["params"], dict):
        raise InvalidRecord("params must be a JSON object")
    references = record.get("references")
    if references is not None and (not isinstance(references, list)
                                   or not all(isinstance(r, str) for r in references)):
        raise InvalidRecord("references must be a list of content ids")
    return record


def dump_record(record: dict[str, Any]) -> str:
    """Compact JSON text of a valid record; raises InvalidRecord if invalid or too large."""
    validate_record(record)
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecord(f"generation record is not JSON-serialisable: {exc}") from exc
    if len(text.encode("utf-8")) > MAX_RECORD:
        raise InvalidRecord(f"generation record is over {MAX_RECORD // 1024} KB")
    return text


def parse_record(text: Any) -> dict[str, Any]:
    """The record in `text` (JSON); raises InvalidRecord."""
    if not isinstance(text, str):
        raise InvalidRecord("generation record must be JSON text")
    if len(text) > MAX_RECORD:
        raise InvalidRecord(f"generation record is over {MAX_RECORD // 1024} KB")
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise InvalidRecord(f"generation record is not valid JSON: {exc}") from exc
    return validate_record(record)
