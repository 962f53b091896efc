"""Pixel bombs for the budget tests, built small: tiny files that declare huge pixel counts."""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def webp_bomb(path: Path, side: int = 12000) -> Path:
    """A lossless WebP of one colour declaring side x side pixels, 38 bytes on disk.

    One colour costs zero bits a pixel in VP8L, so a 16 x 16 file with its header's
    size rewritten decodes, validly, to side x side pixels: 2.2 GB of RGBA at 12000."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "WEBP", lossless=True, method=0)
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~((1 << 28) - 1)) | (side - 1) | ((side - 1) << 14)   # 14 bits width-1, 14 bits height-1
    data[21:25] = bits.to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


def gif_bomb(path: Path, side: int = 8000, frames: int = 200) -> Path:
    """An animated GIF of `frames` frames at side x side: one frame encoded by Pillow, its
    image block repeated (about 48 KB a frame at 8000 px)."""
    buf = io.BytesIO()
    Image.new("P", (side, side), 3).save(buf, "GIF")
    data = buf.getvalue()
    # Header (6) + logical screen descriptor (7) + global colour table, then the image block.
    packed = data[10]
    table = 3 * (2 ** ((packed & 7) + 1)) if packed & 0x80 else 0
    head_end = 13 + table
    start = data.index(b"\x2c", head_end)       # first image descriptor
    end = len(data) - 1                           # before the trailer (0x3b)
    assert data[end] == 0x3B
    block = data[start:end]
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    gce = b"\x21\xf9\x04\x00\x0a\x00\x00\x00"    # 100 ms a frame
    out = b"GIF89a" + data[6:head_end] + loop + (gce + block) * frames + b"\x3b"
    path.write_bytes(out)
    return path
