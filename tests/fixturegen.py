"""Builders for test files: PNG with chosen chunks, EXIF blocks, JPEG/WebP/GIF carrying them.

Tests build the metadata of tools the corpus has no sample of, byte for byte,
so every builder here writes the container by hand (Pillow only encodes the
pixels) and can produce the odd layouts real tools produce: text after IDAT,
EXIF without its "Exif" header, UserComment in the "wrong" byte order.
"""
from __future__ import annotations

import gzip
import io
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

Chunk = tuple[bytes, bytes]


# -- PNG --------------------------------------------------------------------------------
def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def text_chunk(key: str, value: str, encoding: str = "latin-1") -> Chunk:
    return b"tEXt", key.encode("latin-1") + b"\x00" + value.encode(encoding)


def ztxt_chunk(key: str, value: str) -> Chunk:
    return b"zTXt", key.encode("latin-1") + b"\x00\x00" + zlib.compress(value.encode("latin-1"))


def itxt_chunk(key: str, value: str, compressed: bool = False) -> Chunk:
    body = value.encode("utf-8")
    if compressed:
        body = zlib.compress(body)
    return b"iTXt", key.encode("latin-1") + b"\x00" + bytes([int(compressed), 0]) + b"\x00\x00" + body


def make_png(before: Iterable[Chunk] = (), after: Iterable[Chunk] = (), size: tuple[int, int] = (4, 4),
             mode: str = "RGB", image: Image.Image | None = None) -> bytes:
    """A valid PNG whose pixels Pillow encodes, with `before` chunks ahead of IDAT and `after` behind it."""
    image = image or Image.new(mode, size, (120, 30, 200, 255)[: len(mode)] if mode != "L" else 128)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data = buffer.getvalue()
    chunks: list[tuple[bytes, bytes]] = []
    position = 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        chunks.append((kind, data[position + 8:position + 8 + length]))
        position += 12 + length
    out = [data[:8]]
    first_idat = next(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    for index, (kind, body) in enumerate(chunks):
        if index == first_idat:
            out += [png_chunk(k, v) for k, v in before]
        if kind == b"IEND":
            out += [png_chunk(k, v) for k, v in after]
        out.append(png_chunk(kind, body))
    return b"".join(out)


# -- EXIF -------------------------------------------------------------------------------
def user_comment(text: str, encoding: str = "utf-16-be") -> bytes:
    """EXIF UserComment bytes: 8-byte charset header + text in `encoding`."""
    if encoding.startswith("utf-16") or encoding == "utf-8-unicode":
        codec = "utf-8" if encoding == "utf-8-unicode" else encoding
        return b"UNICODE\x00" + text.encode(codec)
    if encoding == "ascii":
        return b"ASCII\x00\x00\x00" + text.encode("ascii")
    return b"\x00" * 8 + text.encode(encoding)


def _entry(tag: int, value: object, endian: str) -> tuple[int, int, bytes]:
    if isinstance(value, str):
        return tag, 2, value.encode("utf-8") + b"\x00"
    if isinstance(value, bytes):
        return tag, 7, value
    if isinstance(value, int):
        return tag, 4, struct.pack(endian + "I", value)
    raise TypeError(f"unsupported EXIF value {value!r}")


def _ifd(entries: list[tuple[int, int, bytes]], start: int, endian: str) -> bytes:
    """An IFD at offset `start` (from the TIFF header) followed by its out-of-line data."""
    entries = sorted(entries)
    data_offset = start + 2 + 12 * len(entries) + 4
    table, data = [struct.pack(endian + "H", len(entries))], []
    for tag, kind, raw in entries:
        count = len(raw) // 4 if kind == 4 else len(raw)
        if len(raw) <= 4:
            table.append(struct.pack(endian + "HHI", tag, kind, count) + raw.ljust(4, b"\x00"))
        else:
            table.append(struct.pack(endian + "HHII", tag, kind, count, data_offset))
            data.append(raw + (b"\x00" if len(raw) % 2 else b""))
            data_offset += len(data[-1])
    table.append(b"\x00\x00\x00\x00")
    return b"".join(table) + b"".join(data)


def make_exif(ifd0: dict[int, object] | None = None, exif_ifd: dict[int, object] | None = None,
              big_endian: bool = False, prefix: bool = True) -> bytes:
    """An EXIF block ("Exif\\0\\0" + TIFF) with tags by number: str -> ASCII, bytes -> UNDEFINED, int -> LONG."""
    endian = ">" if big_endian else "<"
    header = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(endian + "I", 8)
    ifd0_entries = [_entry(tag, value, endian) for tag, value in (ifd0 or {}).items()]
    if exif_ifd:
        # Placeholder pointer; its real value depends on IFD0's size.
        ifd0_entries.append((0x8769, 4, b"\x00\x00\x00\x00"))
        size = len(_ifd(ifd0_entries, 8, endian))
        ifd0_entries[-1] = (0x8769, 4, struct.pack(endian + "I", 8 + size))
    body = _ifd(ifd0_entries, 8, endian)
    if exif_ifd:
        body += _ifd([_entry(t, v, endian) for t, v in exif_ifd.items()], 8 + len(body), endian)
    return (b"Exif\x00\x00" if prefix else b"") + header + body


def ascii_comment(text: str) -> bytes:
    """A UserComment value as third-party ComfyUI save nodes write it: plain text, no charset header."""
    return text.encode("utf-8")


MAKE, MODEL, IMAGE_DESCRIPTION, SOFTWARE, ARTIST = 0x010F, 0x0110, 0x010E, 0x0131, 0x013B
USER_COMMENT, DATETIME_ORIGINAL = 0x9286, 0x9003


# -- JPEG / WebP / GIF ------------------------------------------------------------------
def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def make_jpeg(exif: bytes | None = None, xmp: str | None = None, comment: str | None = None,
              size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buffer, "JPEG")
    data = buffer.getvalue()
    segments = b""
    if exif is not None:
        segments += _segment(0xE1, exif)
    if xmp is not None:
        segments += _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode("utf-8"))
    if comment is not None:
        segments += _segment(0xFE, comment.encode("utf-8"))
    return data[:2] + segments + data[2:]


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) % 2 else b"")


def make_webp(exif: bytes | None = None, xmp: str | None = None, size: tuple[int, int] = (8, 8),
              animated: bool = False) -> bytes:
    """An extended (VP8X) WebP with optional EXIF/XMP chunks around a lossless still."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, "WEBP", lossless=True)
    still = buffer.getvalue()[12:]                       # the VP8L chunk
    flags = (0x08 if exif is not None else 0) | (0x04 if xmp is not None else 0) | (0x02 if animated else 0)
    vp8x = bytes([flags, 0, 0, 0]) + (size[0] - 1).to_bytes(3, "little") + (size[1] - 1).to_bytes(3, "little")
    body = b"WEBP" + _riff_chunk(b"VP8X", vp8x)
    if animated:
        body += _riff_chunk(b"ANIM", b"\x00" * 6)
    body += still
    if exif is not None:
        body += _riff_chunk(b"EXIF", exif)
    if xmp is not None:
        body += _riff_chunk(b"XMP ", xmp.encode("utf-8"))
    return b"RIFF" + struct.pack("<I", len(body)) + body


def make_gif(comment: str | None = None, frames: int = 1, size: tuple[int, int] = (4, 4)) -> bytes:
    images = [Image.new("RGB", size, ((i * 80) % 256, 40, 90)) for i in range(frames)]
    buffer = io.BytesIO()
    extra = {"comment": comment.encode("utf-8")} if comment else {}
    images[0].save(buffer, "GIF", save_all=frames > 1, append_images=images[1:], **extra)
    return buffer.getvalue()


# -- stealth pnginfo --------------------------------------------------------------------
def stealth_png(payload: str, compressed: bool = True, rgb: bool = False, size: tuple[int, int] = (64, 64)) -> bytes:
    """A PNG carrying `payload` in the LSBs (alpha, or R,G,B when rgb=True), column by column."""
    import numpy as np

    body = payload.encode("utf-8")
    if compressed:
        body = gzip.compress(body)
    magic = ("stealth_rgb" if rgb else "stealth_png") + ("comp" if compressed else "info")
    data = magic.encode() + struct.pack(">I", len(body) * 8) + body
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    width, height = size
    channels = 3 if rgb else 1
    if bits.size > width * height * channels:
        raise ValueError("payload does not fit the image")
    pixels = np.full((height, width, 4), 200, dtype=np.uint8)
    target = pixels[:, :, :3] if rgb else pixels[:, :, 3:4]
    column_major = target.transpose(1, 0, 2).reshape(-1).copy()
    column_major[: bits.size] = (column_major[: bits.size] & 0xFE) | bits
    restored = column_major.reshape(width, height, channels).transpose(1, 0, 2)
    if rgb:
        pixels[:, :, :3] = restored
        image = Image.fromarray(pixels[:, :, :3], "RGB")
    else:
        pixels[:, :, 3:4] = restored
        image = Image.fromarray(pixels, "RGBA")
    return make_png(image=image)


def filtered_png(rows: list[bytes], width: int, colour: int, filters: list[int]) -> bytes:
    """An 8-bit PNG from raw pixel rows, each row stored with the PNG filter type given for it (0-4)."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    out, above = bytearray(), bytes(width * channels)
    for row, kind in zip(rows, filters, strict=False):
        encoded = bytearray([kind])
        for i, value in enumerate(row):
            left = row[i - channels] if i >= channels else 0
            up = above[i]
            corner = above[i - channels] if i >= channels else 0
            if kind == 1:
                value -= left
            elif kind == 2:
                value -= up
            elif kind == 3:
                value -= (left + up) >> 1
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                value -= left if pa <= pb and pa <= pc else up if pb <= pc else corner
            encoded.append(value & 0xFF)
        out += encoded
        above = row
    header = struct.pack(">IIBBBBB", width, len(rows), 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(bytes(out)))
            + png_chunk(b"IEND", b""))


def write(directory: Path, name: str, data: bytes) -> Path:
    path = Path(directory) / name
    path.write_bytes(data)
    return path
