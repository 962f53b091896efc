"""What a container says about itself, before anyone interprets it.

The extract stage fills a `Metadata` from the file's bytes (PNG chunks, EXIF,
XMP, C2PA boxes, video tags) without decoding pixels; the detect stage reads
only this record. Keeping the two apart is what lets every detector be tested
with a hand-made `Metadata` instead of a hand-made file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Metadata:
    path: Path | None
    format: str                      # sniffed from bytes: png, jpeg, webp, gif, avif, heic, mp4, mov, webm, ...
    media: str                       # image | video | audio | other
    size: int = 0                    # bytes on disk
    width: int | None = None
    height: int | None = None
    animated: bool = False
    # PNG tEXt/iTXt/zTXt keyword -> text (also chunks after IDAT), and other
    # key/value text a container carries (GIF comments, ...). Values are capped.
    text: dict[str, str] = field(default_factory=dict)
    # EXIF by tag name ("Make", "Model", "UserComment", "ImageDescription",
    # "Software", "Artist", "DateTimeOriginal", ...), values already decoded to str/int.
    exif: dict[str, Any] = field(default_factory=dict)
    xmp: str | None = None           # the XMP packet as text
    c2pa: dict[str, Any] | None = None   # the active manifest as read by c2pa-python (JSON), if any
    c2pa_present: bool = False       # a C2PA box/chunk exists even if it could not be read
    video_tags: dict[str, str] = field(default_factory=dict)  # container-level tags (MP4 udta/ilst, ffprobe format tags)
    warnings: list[str] = field(default_factory=list)          # what was capped, skipped or damaged
    # Set when the container itself is broken (empty, truncated, not what its
    # header says): what a user should be told. The rest may be a partial reading.
    error: str | None = None
