"""One file's full reading: what the sidecar says and what the catalog stores.

The pipeline produces an `AssetRecord`; the sidecar is its YAML form and the
catalog its relational form, so both are written from, and read back into,
this one shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alice.pipeline.generation import Generation


@dataclass
class AssetRecord:
    content_id: str                  # "b3:<hex>": hash of the media payload only (pipeline/identity.py)
    file_hash: str                   # "b3:<hex>": hash of the whole file, to verify every copy
    size: int
    format: str                      # sniffed: png, jpeg, webp, mp4, ...
    media: str                       # image | video | audio | other
    tool: str | None                 # canonical slug, None = no AI marker found
    ai: bool
    project: str
    source_path: str                 # where the file was found (absolute)
    created_at: datetime             # generation date from metadata, else mtime; tz-aware, local time
    width: int | None = None
    height: int | None = None
    evidence: list[str] = field(default_factory=list)
    generation: Generation = field(default_factory=Generation)
    raw: dict[str, Any] = field(default_factory=dict)     # the tool's own record, JSON-safe
    organized_path: str | None = None                     # final place in the tree (absolute)
    organized_at: datetime | None = None
    stars: int | None = None                              # computed or user rating, 1..5
    user_stars: int | None = None                         # a person's own rating, 1..5 (wins over stars)
    tags: list[str] = field(default_factory=list)         # a person's tags, so a rebuilt catalog keeps them
    quality: dict[str, Any] | None = None                 # quality stage results
    perceptual_hash: int | None = None                    # 64-bit dHash of images, for near-duplicate search
    warnings: list[str] = field(default_factory=list)
    # What it was made from, as its own record says (pipeline/lineage.py): [{"content_id", "kind"}].
    parents: list[dict[str, str]] = field(default_factory=list)
    # Filed before its pixels were decoded: the pixel stage fills perceptual_hash and quality later.
    # Not part of the sidecar (the catalog keeps the to-do list).
    pixels_pending: bool = False

    @property
    def tool_folder(self) -> str:
        return self.tool or "unknown"
