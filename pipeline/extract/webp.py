"""WebP RIFF chunks: VP8X flags and canvas size, EXIF, XMP, animation.

ComfyUI writes its workflow and prompt as EXIF Make/Model strings, sometimes
without the "Exif\\0\\0" prefix: parse_exif accepts both. ANMF frame data is
skipped, never read.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.extract.limits import MAX_CHUNKS, TextBudget
from alice.pipeline.metadata import Metadata


def _still_size(kind: bytes, data: bytes) -> tuple[int, int] | None:
    if kind == b"VP8 " and len(data) >= 10 and data[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(data) >= 5 and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def read_webp(f: BinaryIO, size: int, meta: Metadata, budget: TextBudget) -> None:
    """Fill `meta` from the WebP in `f`. Damage goes to meta.error/warnings."""
    f.seek(0)
    header = f.read(12)
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WEBP":
        meta.error = "not a WebP: RIFF/WEBP header missing"
        return
    declared_end = 8 + struct.unpack("<I", header[4:8])[0]
    riff_end = min(size, declared_end)
    if declared_end > size:
        meta.warnings.append("WebP RIFF size is larger than the file (truncated?)")
    position = 12
    for _ in range(MAX_CHUNKS):
        if position + 8 > riff_end:
            break
        f.seek(position)
        chunk_header = f.read(8)
        kind, length = chunk_header[:4], struct.unpack("<I", chunk_header[4:8])[0]
        name = kind.decode("latin-1")
        data_start = position + 8
        if data_start + length > size:
            meta.error = f"truncated WebP: chunk {name.strip()} runs past end of file"
            break
        if kind == b"VP8X" and length >= 10:
            data = f.read(10)
            meta.animated = bool(data[0] & 0x02)
            meta.width = 1 + int.from_bytes(data[4:7], "little")
            meta.height = 1 + int.from_bytes(data[7:10], "little")
        elif kind in (b"VP8 ", b"VP8L") and meta.width is None:
            found = _still_size(kind, f.read(10))
            if found:
                meta.width, meta.height = found
        elif kind in (b"EXIF", b"XMP "):
            granted = budget.grant(length)
            data = f.read(granted)
            if granted < length:
                meta.warnings.append(f"WebP {name.strip()} chunk of {length} bytes cut to {granted}")
            if kind == b"EXIF" and not meta.exif:
                meta.exif = parse_exif(data, meta.warnings)
            elif kind == b"XMP " and meta.xmp is None:
                meta.xmp = data.decode("utf-8", "replace")
        elif kind == b"ANIM":
            meta.animated = True
        elif kind == b"C2PA":
            meta.c2pa_present = True
        position = data_start + length + (length & 1)
    else:
        meta.warnings.append(f"WebP has more than {MAX_CHUNKS} chunks; stopped reading")
