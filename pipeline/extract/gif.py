"""GIF blocks: screen size, comments, XMP application extension, frame count.

Image data sub-blocks are skipped by length without decoding; the walk is
capped in blocks so a hostile file cannot keep it busy.
"""
from __future__ import annotations

import struct
from typing import BinaryIO

from alice.pipeline.extract.exif import decode_text_bytes
from alice.pipeline.extract.limits import GIF_BLOCKS_CAP, TextBudget
from alice.pipeline.metadata import Metadata


class _Truncated(Exception):
    pass


def _read(f: BinaryIO, count: int) -> bytes:
    data = f.read(count)
    if len(data) < count:
        raise _Truncated
    return data


def _sub_blocks(f: BinaryIO, keep: int, raw: bool = False) -> bytes:
    """Read a sub-block chain; keep at most `keep` bytes, skip the rest.

    raw=True keeps the length bytes too: the XMP extension lays its packet
    across sub-block boundaries so that the length bytes are part of the text.
    """
    kept = bytearray()
    while True:
        length = _read(f, 1)[0]
        if length == 0:
            return bytes(kept)
        if raw and len(kept) < keep:
            kept.append(length)
        if len(kept) + length <= keep:
            kept += _read(f, length)
        else:
            f.seek(length, 1)


def _xmp_packet(data: bytes) -> str:
    """Cut the XMP packet out of the extension; a 258-byte "magic trailer" follows it."""
    end = data.find(b"<?xpacket end")
    if end >= 0:
        close = data.find(b"?>", end)
        end = close + 2 if close >= 0 else len(data)
    else:
        close = data.rfind(b"</x:xmpmeta>")
        end = close + len(b"</x:xmpmeta>") if close >= 0 else len(data)
    return data[:end].decode("utf-8", "replace")


def _skip_color_table(f: BinaryIO, flags: int) -> None:
    if flags & 0x80:
        f.seek(3 * (2 << (flags & 0x07)), 1)


def read_gif(f: BinaryIO, size: int, meta: Metadata, budget: TextBudget) -> None:
    """Fill `meta` from the GIF in `f`. Damage goes to meta.error/warnings."""
    f.seek(0)
    frames = 0
    comments: list[str] = []
    try:
        header = _read(f, 13)
        meta.width, meta.height = struct.unpack("<HH", header[6:10])
        _skip_color_table(f, header[10])
        for _ in range(GIF_BLOCKS_CAP):
            introducer = _read(f, 1)[0]
            if introducer == 0x3B:          # trailer
                break
            if introducer == 0x2C:          # image descriptor
                frames += 1
                descriptor = _read(f, 9)
                _skip_color_table(f, descriptor[8])
                _read(f, 1)                 # LZW minimum code size
                _sub_blocks(f, 0)
            elif introducer == 0x21:
                label = _read(f, 1)[0]
                if label == 0xFE:
                    text = decode_text_bytes(_sub_blocks(f, budget.grant(1 << 20)))
                    if text:
                        comments.append(text)
                elif label == 0xFF:
                    app = _sub_blocks(f, 11 + budget.grant(1 << 22), raw=True)
                    if app[1:12] == b"XMP DataXMP" and meta.xmp is None:
                        meta.xmp = _xmp_packet(app[12:])
                else:
                    _sub_blocks(f, 0)
            else:
                meta.warnings.append(f"GIF: unknown block 0x{introducer:02X}; stopped reading")
                break
        else:
            meta.warnings.append(f"GIF has more than {GIF_BLOCKS_CAP} blocks; stopped reading")
    except _Truncated:
        meta.error = "truncated GIF: file ends inside a block"
    if comments:
        meta.text["comment"] = "\n".join(comments)
    meta.animated = frames > 1
