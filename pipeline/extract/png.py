"""PNG chunks: text (tEXt/zTXt/iTXt, before or after IDAT), eXIf, size, animation.

The walker seeks over IDAT instead of reading it, so a 50 MB PNG costs a few
hundred small reads. Text chunks are read up to a cap and inflated with a
bounded decompressor, so a zTXt bomb costs at most TEXT_CAP of memory.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.extract.limits import MAX_CHUNKS, TEXT_CAP, TextBudget
from alice.pipeline.metadata import Metadata

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_KEY = "XML:com.adobe.xmp"
_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}


def inflate_capped(data: bytes, cap: int) -> tuple[bytes, bool]:
    """zlib-inflate at most `cap` bytes; (output, was_cut). Raises zlib.error if corrupt."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, cap)
    return out, bool(inflater.unconsumed_tail)


def decode_png_text(raw: bytes) -> str:
    """tEXt is Latin-1 by the spec, but many tools (TensorArt, A1111 forks) write UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_text_chunk(kind: bytes, data: bytes, meta: Metadata) -> tuple[str, str] | None:
    keyword, sep, rest = data.partition(b"\x00")
    if not sep:
        meta.warnings.append(f"PNG {kind.decode()} chunk without a keyword separator; skipped")
        return None
    key = keyword.decode("latin-1")[:79]
    if kind == b"tEXt":
        return key, decode_png_text(rest)
    if kind == b"zTXt":
        body = rest[1:]
        compressed = True
    else:
        if len(rest) < 2:
            meta.warnings.append(f"PNG iTXt {key!r} truncated; skipped")
            return None
        compressed = rest[0] == 1
        after_flags = rest[2:]
        _lang, _, after_lang = after_flags.partition(b"\x00")
        _translated, _, body = after_lang.partition(b"\x00")
    if compressed:
        try:
            body, cut = inflate_capped(body, TEXT_CAP)
        except zlib.error as exc:
            meta.warnings.append(f"PNG {kind.decode()} {key!r}: compressed text is corrupt ({exc}); skipped")
            return None
        if cut:
            meta.warnings.append(f"PNG {kind.decode()} {key!r} inflates beyond {TEXT_CAP} bytes; cut")
    if kind == b"iTXt":
        return key, body.decode("utf-8", "replace")
    return key, decode_png_text(body)


def _raw_profile(text: str) -> bytes | None:
    """ImageMagick 'Raw profile type exif': "\\nexif\\n   <len>\\n<hex lines>"."""
    parts = text.strip().split("\n", 2)
    if len(parts) < 3:
        return None
    try:
        return bytes.fromhex("".join(parts[2].split()))
    except ValueError:
        return None


def _store_text(key: str, value: str, meta: Metadata) -> None:
    if key == _XMP_KEY and meta.xmp is None:
        meta.xmp = value
    lowered = key.lower()
    if lowered in ("raw profile type exif", "raw profile type app1") and not meta.exif:
        blob = _raw_profile(value)
        if blob:
            meta.exif = parse_exif(blob, meta.warnings)
    elif lowered == "raw profile type xmp" and meta.xmp is None:
        blob = _raw_profile(value)
        if blob:
            meta.xmp = blob.decode("utf-8", "replace")
    if key in meta.text:
        meta.warnings.append(f"PNG text {key!r} appears twice; kept the first")
        return
    meta.text[key] = value


def chunk_heads(f: BinaryIO, start: int = len(SIGNATURE)) -> Iterator[tuple[bytes, int, int]]:
    """(type, data offset, data length) of each chunk from `start` (just past the signature),
    up to IEND, the end of the file or MAX_CHUNKS chunks. `f` is at the chunk's data when one
    is yielded; the caller reads it or not, the next header is found from the lengths."""
    offset = start
    for _ in range(MAX_CHUNKS):
        f.seek(offset)
        head = f.read(8)
        if len(head) < 8:
            return
        length, kind = struct.unpack(">I4s", head)
        yield kind, offset + 8, length
        if kind == b"IEND":
            return
        offset += 12 + length        # length, type, data, CRC


def read_png(f: BinaryIO, size: int, meta: Metadata, budget: TextBudget) -> None:
    """Fill `meta` from the PNG in `f` (positioned anywhere). Damage goes to meta.error/warnings."""
    f.seek(0)
    if f.read(8) != SIGNATURE:
        meta.error = "not a PNG: signature missing"
        return
    position = 8
    seen_iend = False
    for _ in range(MAX_CHUNKS):
        header = f.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        name = kind.decode("latin-1")
        data_end = position + 8 + length
        if data_end + 4 > size:
            if kind != b"IEND":
                meta.error = f"truncated PNG: chunk {name} runs past end of file"
            break
        if kind == b"IHDR" and length >= 8:
            meta.width, meta.height = struct.unpack(">II", f.read(8))
            f.seek(data_end + 4)
        elif kind == b"acTL":
            meta.animated = True
            f.seek(data_end + 4)
        elif kind in _TEXT_CHUNKS or kind == b"eXIf":
            granted = budget.grant(length)
            data = f.read(granted)
            if granted < length:
                meta.warnings.append(f"PNG {name} chunk of {length} bytes cut to {granted}")
            f.seek(data_end + 4)
            if kind == b"eXIf":
                if not meta.exif:
                    meta.exif = parse_exif(data, meta.warnings)
            else:
                parsed = _parse_text_chunk(kind, data, meta)
                if parsed:
                    _store_text(*parsed, meta)
        elif kind == b"caBX":
            meta.c2pa_present = True
            f.seek(data_end + 4)
        elif kind == b"IEND":
            seen_iend = True
            break
        else:
            f.seek(data_end + 4)
        position = data_end + 4
    else:
        meta.warnings.append(f"PNG has more than {MAX_CHUNKS} chunks; stopped reading")
        return
    if not seen_iend and meta.error is None:
        meta.error = "truncated PNG: file ends before the IEND chunk"
