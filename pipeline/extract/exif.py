"""EXIF/TIFF IFD parsing for the handful of tags detection needs.

A small own parser rather than exifread: we need ~20 tags, exact control of
bounds (EXIF blobs in PNG eXIf and WebP EXIF chunks can be megabytes of
ComfyUI JSON), and the UserComment byte-order repair that no library does.
bench/inspect_bench.py compares the two.
"""
from __future__ import annotations

import struct
from typing import Any

from alice.pipeline.extract.limits import MAX_IFD_ENTRIES, TEXT_CAP

IFD0_TAGS = {
    0x0100: "ImageWidth",
    0x0101: "ImageLength",
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x0132: "DateTime",
    0x013B: "Artist",
    0x02BC: "XMP",
    0x8298: "Copyright",
    # Not an IFD0 tag by the standard, but third-party ComfyUI save nodes (and
    # piexif users) put the workflow JSON here, without the charset prefix.
    0x9286: "UserComment",
    0x9C9B: "XPTitle",
    0x9C9C: "XPComment",
    0x9C9D: "XPAuthor",
    0x9C9E: "XPKeywords",
    0x9C9F: "XPSubject",
}
EXIF_IFD_TAGS = {
    0x9003: "DateTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9010: "OffsetTime",
    0x9011: "OffsetTimeOriginal",
    0x9286: "UserComment",
    0xA002: "PixelXDimension",
    0xA003: "PixelYDimension",
    0xA420: "ImageUniqueID",
    0xA430: "CameraOwnerName",
    0xA433: "LensMake",
    0xA434: "LensModel",
}
_EXIF_IFD_POINTER = 0x8769
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_XP_TAGS = {0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F}


class ExifError(ValueError):
    """The EXIF block is not a TIFF structure we can walk."""


def _find_tiff_start(data: bytes) -> int:
    if data.startswith(b"Exif\x00\x00"):
        return 6
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return 0
    # Some writers put "Exif\0" with one NUL, or junk before the header.
    for marker in (b"II*\x00", b"MM\x00*"):
        index = data.find(marker, 0, 16)
        if index >= 0:
            return index
    raise ExifError("no TIFF header (II*/MM*) at the start of the EXIF block")


def decode_text_bytes(raw: bytes) -> str:
    """ASCII-typed EXIF values are often UTF-8 in practice; Latin-1 is the last resort."""
    raw = raw.rstrip(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\x00", "").rstrip()


def _utf16_score(text: str) -> int:
    """How much a decoding looks like human text rather than mojibake."""
    score = 0
    for char in text[:1000]:
        code = ord(char)
        if 0x20 <= code < 0x7F or char in "\n\r\t":
            score += 2
        elif 0x3000 <= code < 0xA000 or 0xAC00 <= code < 0xD7A4 or 0xA0 <= code < 0x250 or 0x400 <= code < 0x530:
            score += 1
        elif 0xD800 <= code < 0xE000 or code == 0xFFFD or code < 0x20:
            score -= 3
    return score


def decode_user_comment(raw: bytes) -> str | None:
    """Decode EXIF UserComment (0x9286): 8-byte charset header, then the text.

    UNICODE is meant to follow the EXIF byte order, but A1111/Forge/ComfyUI
    savers write big-endian UTF-16 inside little-endian EXIF (and vice versa),
    and some put UTF-8 after the header. Try each and keep what reads as text.
    """
    header, body = raw[:8], raw[8:]
    if header.startswith(b"UNICODE"):
        if body.startswith((b"\xfe\xff", b"\xff\xfe")):
            text = body.decode("utf-16", "replace")
        else:
            even = body[: len(body) - len(body) % 2]
            candidates = [even.decode(codec, "replace") for codec in ("utf-16-be", "utf-16-le")]
            if b"\x00" not in body:
                try:
                    candidates.append(body.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
            text = max(candidates, key=_utf16_score)
    elif header.startswith(b"ASCII") or header.startswith(b"JIS"):
        text = decode_text_bytes(body) if header.startswith(b"ASCII") else body.decode("shift_jis", "replace")
    elif header == b"\x00" * 8:
        text = decode_text_bytes(body)
    else:
        # No charset header at all: some savers write the JSON/text directly.
        text = decode_text_bytes(raw)
    text = text.replace("\x00", "").strip()
    return text or None


def _read_value(data: bytes, base: int, endian: str, entry: int, warnings: list[str], name: str) -> Any:
    tag_type, count = struct.unpack_from(endian + "HI", data, entry + 2)
    unit = _TYPE_SIZES.get(tag_type)
    if unit is None:
        return None
    size = unit * count
    if size <= 4:
        start = entry + 8
    else:
        start = base + struct.unpack_from(endian + "I", data, entry + 8)[0]
    if size > TEXT_CAP:
        warnings.append(f"EXIF {name}: {size} bytes, cut to {TEXT_CAP}")
        size = TEXT_CAP
        count = size // unit
    if start + size > len(data):
        warnings.append(f"EXIF {name}: value points past the end of the EXIF block; skipped")
        return None
    raw = data[start:start + size]
    if tag_type in (1, 7, 6):
        return raw
    if tag_type == 2:
        return decode_text_bytes(raw)
    if tag_type in (3, 4, 8, 9):
        fmt = {3: "H", 4: "I", 8: "h", 9: "i"}[tag_type]
        values = struct.unpack(endian + fmt * min(count, 64), raw[:unit * min(count, 64)])
        return values[0] if len(values) == 1 else list(values)
    if tag_type in (5, 10):
        fmt = "I" if tag_type == 5 else "i"
        num, den = struct.unpack_from(endian + fmt + fmt, raw, 0)
        return num / den if den else None
    return None


def _walk_ifd(data: bytes, base: int, endian: str, offset: int, names: dict[int, str],
              out: dict[str, Any], warnings: list[str]) -> dict[int, int]:
    """Fill `out` from one IFD; return pointer tags (tag -> offset) for sub-IFDs."""
    pointers: dict[int, int] = {}
    start = base + offset
    if offset <= 0 or start + 2 > len(data):
        warnings.append("EXIF IFD offset points past the end of the block")
        return pointers
    count = struct.unpack_from(endian + "H", data, start)[0]
    if count > MAX_IFD_ENTRIES:
        warnings.append(f"EXIF IFD claims {count} entries; read the first {MAX_IFD_ENTRIES}")
        count = MAX_IFD_ENTRIES
    for index in range(count):
        entry = start + 2 + 12 * index
        if entry + 12 > len(data):
            warnings.append("EXIF IFD truncated")
            break
        tag = struct.unpack_from(endian + "H", data, entry)[0]
        if tag == _EXIF_IFD_POINTER:
            value = _read_value(data, base, endian, entry, warnings, "ExifIFD")
            if isinstance(value, int):
                pointers[tag] = value
            continue
        name = names.get(tag)
        if name is None or name in out:
            continue
        value = _read_value(data, base, endian, entry, warnings, name)
        if value is None:
            continue
        if tag == 0x9286:
            value = decode_user_comment(value) if isinstance(value, bytes) else value
        elif tag in _XP_TAGS and isinstance(value, (bytes, list)):
            raw = bytes(value) if isinstance(value, list) else value
            value = raw.decode("utf-16-le", "replace").replace("\x00", "").strip()
        elif tag == 0x02BC and isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, bytes):
            value = decode_text_bytes(value)
        if value is None or value == "":
            continue
        out[name] = value
    return pointers


def parse_exif(data: bytes, warnings: list[str]) -> dict[str, Any]:
    """Tags by name from an EXIF block ("Exif\\0\\0" + TIFF, or bare TIFF).

    Never raises for bad data: damage is reported in `warnings` and whatever
    was readable is returned.
    """
    out: dict[str, Any] = {}
    try:
        base = _find_tiff_start(data)
        order = data[base:base + 2]
        endian = "<" if order == b"II" else ">"
        if len(data) < base + 8:
            raise ExifError("EXIF block shorter than a TIFF header")
        ifd0 = struct.unpack_from(endian + "I", data, base + 4)[0]
        pointers = _walk_ifd(data, base, endian, ifd0, IFD0_TAGS, out, warnings)
        exif_ifd = pointers.get(_EXIF_IFD_POINTER)
        if exif_ifd is not None and exif_ifd != ifd0:
            sub: dict[str, Any] = {}
            try:
                _walk_ifd(data, base, endian, exif_ifd, EXIF_IFD_TAGS, sub, warnings)
            finally:
                if "UserComment" in sub and "UserComment" in out:
                    # The standard place wins; the comment in IFD0 is kept under its own name.
                    out["IFD0UserComment"] = out.pop("UserComment")
                out.update((k, v) for k, v in sub.items() if k not in out)
    except ExifError as exc:
        warnings.append(f"EXIF unreadable: {exc}")
    except struct.error as exc:
        warnings.append(f"EXIF damaged: {exc}")
    return out
