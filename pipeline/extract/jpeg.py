"""JPEG segments before the scan: EXIF, XMP, comments, frame size.

Reading stops at the first SOS marker: everything that describes the file
sits before the entropy-coded data, so pixels are never touched.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

from alice.pipeline.extract.exif import decode_text_bytes, parse_exif
from alice.pipeline.extract.limits import MAX_CHUNKS, TextBudget
from alice.pipeline.metadata import Metadata

_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
# Start-of-frame markers carry the size; C4/C8/CC are DHT/JPG/DAC, not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers with no length field.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _marker_name(marker: int) -> str:
    if 0xE0 <= marker <= 0xEF:
        return f"APP{marker - 0xE0}"
    return {0xFE: "COM", 0xDB: "DQT", 0xC4: "DHT", 0xDD: "DRI"}.get(marker, f"0x{marker:02X}")


def read_jpeg(f: BinaryIO, size: int, meta: Metadata, budget: TextBudget) -> None:
    """Fill `meta` from the JPEG in `f`. Damage goes to meta.error/warnings."""
    f.seek(0)
    if f.read(2) != b"\xff\xd8":
        meta.error = "not a JPEG: start-of-image marker missing"
        return
    position = 2
    extended_xmp = False
    for _ in range(MAX_CHUNKS):
        byte = f.read(1)
        if not byte:
            meta.error = "truncated JPEG: file ends before the image data"
            return
        if byte != b"\xff":
            meta.warnings.append(f"JPEG: junk byte at offset {position} between segments; stopped reading")
            return
        marker_byte = f.read(1)
        while marker_byte == b"\xff":       # fill bytes
            marker_byte = f.read(1)
        if not marker_byte:
            meta.error = "truncated JPEG: file ends inside a marker"
            return
        marker = marker_byte[0]
        position = f.tell()
        if marker in _STANDALONE:
            continue
        if marker == 0xD9:
            meta.error = "JPEG has no image data (end-of-image before any scan)"
            return
        length_bytes = f.read(2)
        if len(length_bytes) < 2:
            meta.error = "truncated JPEG: file ends inside a segment header"
            return
        length = struct.unpack(">H", length_bytes)[0] - 2
        name = _marker_name(marker)
        if length < 0 or position + 2 + length > size:
            meta.error = f"truncated JPEG: segment {name} runs past end of file"
            return
        if marker == 0xDA:
            break
        if marker in _SOF and length >= 5:
            data = f.read(length)
            meta.height, meta.width = struct.unpack(">HH", data[1:5])
        elif marker == 0xEB:
            # APP11 JUMBF: its first bytes say whether it is C2PA; the store itself
            # (often megabytes) is left to read_c2pa, and not charged to the text budget.
            if f.read(2) == b"JP":
                meta.c2pa_present = True
            f.seek(position + 2 + length)
        elif marker in (0xE1, 0xFE):
            data = f.read(budget.grant(length))
            f.seek(position + 2 + length)
            if marker == 0xE1 and data.startswith(b"Exif\x00") and not meta.exif:
                meta.exif = parse_exif(data, meta.warnings)
            elif marker == 0xE1 and data.startswith(_XMP_HEADER) and meta.xmp is None:
                meta.xmp = data[len(_XMP_HEADER):].decode("utf-8", "replace")
            elif marker == 0xE1 and data.startswith(_XMP_EXT_HEADER):
                extended_xmp = True
            elif marker == 0xFE:
                comment = decode_text_bytes(data)
                if comment:
                    previous = meta.text.get("comment")
                    meta.text["comment"] = comment if previous is None else previous + "\n" + comment
        else:
            f.seek(position + 2 + length)
        position += 2 + length
    else:
        meta.warnings.append(f"JPEG has more than {MAX_CHUNKS} segments; stopped reading")
    if extended_xmp:
        meta.warnings.append("JPEG extended XMP present; only the main XMP packet was read")
    # A cut-off download loses the end-of-image marker; the metadata above is still good.
    if size >= 2:
        f.seek(size - 2)
        if f.read(2) != b"\xff\xd9":
            meta.warnings.append("JPEG does not end with an end-of-image marker (truncated or padded)")
