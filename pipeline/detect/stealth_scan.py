"""Is there a stealth-pnginfo magic in this PNG? Answered from its first rows, not its pixels.

The stealth magic is the first 120 bits of the LSB stream, read column by
column, so in any image at least 120 pixels tall it sits in column 0 of the
first 120 rows (40 rows for the R,G,B form). PNG stores rows top-down and,
for the first pixel of a row, every filter reduces to "plus the pixel above"
(Sub, Average and Paeth have no left neighbour there), so column 0 can be
unfiltered from the row data alone. Inflating 120 rows is a fraction of
decoding the image, and needs neither Pillow nor numpy: the common answer,
"no magic", costs a millisecond. Anything unusual (interlaced, palette,
16-bit, short images) is left to the full decode in stealth.py.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import BinaryIO

from alice.pipeline.extract.png import SIGNATURE, chunk_heads

ALPHA_MAGICS = (b"stealth_pnginfo", b"stealth_pngcomp")
RGB_MAGICS = (b"stealth_rgbinfo", b"stealth_rgbcomp")
MAGIC_BITS = 15 * 8
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}       # 8-bit grey, RGB, grey+alpha, RGBA

NO_MAGIC, MAGIC, UNDECIDED = "no magic", "magic", "undecided"


def _pack(bits: list[int]) -> bytes:
    return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


def _column0(f: BinaryIO, width: int, channels: int, rows: int) -> list[bytes] | None:
    """Column-0 pixels of the first `rows` rows, unfiltered; None if the data ends early or is corrupt."""
    row_length = 1 + width * channels
    wanted = row_length * rows
    inflater = zlib.decompressobj()
    data = bytearray()
    for chunk_type, _, length in chunk_heads(f, f.tell()):
        if chunk_type != b"IDAT":
            if data or chunk_type == b"IEND":
                return None          # IDAT chunks are consecutive; a gap before enough rows is damage
            continue
        chunk = f.read(length)
        try:
            data += inflater.decompress(inflater.unconsumed_tail + chunk, wanted - len(data))
        except zlib.error:
            return None
        if len(data) >= wanted:
            break
    else:
        return None
    pixels: list[bytes] = []
    above = bytes(channels)
    for row in range(rows):
        start = row * row_length
        kind, raw = data[start], data[start + 1:start + 1 + channels]
        if kind in (0, 1):
            pixel = bytes(raw)
        elif kind in (2, 4):
            pixel = bytes((r + a) & 0xFF for r, a in zip(raw, above, strict=False))
        elif kind == 3:
            pixel = bytes((r + (a >> 1)) & 0xFF for r, a in zip(raw, above, strict=False))
        else:
            return None
        pixels.append(pixel)
        above = pixel
    return pixels


def scan_png(path: Path) -> str:
    """NO_MAGIC, MAGIC (decode the payload), or UNDECIDED (this PNG needs the full decode)."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != SIGNATURE:
                return UNDECIDED
            head = f.read(8 + 13 + 4)
            if len(head) < 25 or head[4:8] != b"IHDR":
                return UNDECIDED
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[8:21])
            if width * height * 4 < MAGIC_BITS:
                return NO_MAGIC      # fewer LSBs than the magic has bits, whatever the layout
            channels = _CHANNELS.get(colour)
            if depth != 8 or interlace or channels is None or height < MAGIC_BITS or width == 0:
                return UNDECIDED
            has_alpha = colour in (4, 6)
            pixels = _column0(f, width, channels, MAGIC_BITS if has_alpha else MAGIC_BITS // 3)
    except OSError:
        return UNDECIDED
    if pixels is None:
        return UNDECIDED
    if has_alpha and _pack([p[-1] & 1 for p in pixels]) in ALPHA_MAGICS:
        return MAGIC
    # R,G,B LSBs in x-major, y-minor, channel order; grey counts as R=G=B.
    rgb = [(p[0], p[0], p[0]) if colour in (0, 4) else (p[0], p[1], p[2]) for p in pixels[:MAGIC_BITS // 3]]
    if _pack([value & 1 for pixel in rgb for value in pixel]) in RGB_MAGICS:
        return MAGIC
    return NO_MAGIC
