"""PNG verification agrees with a full decode on good files and names the damage on bad ones."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from alice.pipeline.png_verify import ADAM7, verify
from alice.pipeline.unreadable import UnreadableMedia

CAP = 160_000_000


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def build(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(t, d) for t, d in parts)


def write(tmp_path: Path, data: bytes, name: str = "x.png") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def pillow_png(mode: str, size=(37, 23), **kw) -> bytes:
    im = Image.effect_noise(size, 50).convert(mode if mode not in ("I;16",) else "I").convert(mode)
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_colour_type_and_depth_passes(tmp_path, mode):
    verify(write(tmp_path, pillow_png(mode)), CAP)


def interlaced(width: int, height: int, bpp_bytes: int = 3) -> bytes:
    raw = b""
    for x0, y0, dx, dy in ADAM7:
        pw = (width - x0 + dx - 1) // dx if width > x0 else 0
        ph = (height - y0 + dy - 1) // dy if height > y0 else 0
        if pw and ph:
            raw += (b"\0" + bytes(range(256)) * 64)[: 1 + pw * bpp_bytes] * ph
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return build([(b"IHDR", ihdr), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")])


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (9, 9), (33, 17)])
def test_interlaced_images_pass_and_pillow_agrees(tmp_path, size):
    p = write(tmp_path, interlaced(*size))
    verify(p, CAP)
    with Image.open(p) as im:
        im.load()


def test_apng_frames_are_checked(tmp_path):
    frames = [Image.new("RGB", (16, 8), (i * 80, 0, 0)) for i in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=50)
    data = buf.getvalue()
    verify(write(tmp_path, data, "ok.png"), CAP)
    parts = chunks(data)
    i = max(k for k, (t, _) in enumerate(parts) if t == b"fdAT")
    seq = parts[i][1][:4]
    parts[i] = (b"fdAT", seq + zlib.compress(b"\0" * 10))      # a frame that is too short
    with pytest.raises(UnreadableMedia, match="animation frame 2 is .* bytes short"):
        verify(write(tmp_path, build(parts), "bad.png"), CAP)


def test_crc_mismatch_in_image_data(tmp_path):
    data = pillow_png("RGB")
    at = data.index(b"IDAT")
    (n,) = struct.unpack(">I", data[at - 4:at])
    bad_crc = bytearray(data)
    bad_crc[at + 4 + n] ^= 0x01
    with pytest.raises(UnreadableMedia, match="IDAT at byte .* fails its CRC check"):
        verify(write(tmp_path, bytes(bad_crc), "crc.png"), CAP)
    flipped = bytearray(data)
    flipped[at + 10] ^= 0x40
    with pytest.raises(UnreadableMedia, match="damaged PNG"):
        verify(write(tmp_path, bytes(flipped), "flip.png"), CAP)


def test_crc_of_metadata_is_not_our_business(tmp_path):
    parts = chunks(pillow_png("RGB"))
    data = build(parts[:1] + [(b"tEXt", b"k\0v")] + parts[1:])
    bad = bytearray(data)
    bad[data.index(b"tEXt") + 8] ^= 1       # damage the CRC of the text chunk only
    verify(write(tmp_path, bytes(bad)), CAP)


def rgb_parts(raw: bytes, width=4, height=2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return build([(b"IHDR", ihdr), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")])


ROW = b"\0" + bytes(12)


@pytest.mark.parametrize("raw, message", [
    (ROW, "1 bytes short|13 bytes short"),
    (ROW * 3, "more data than its size allows"),
    (ROW + b"\x07" + bytes(12), "invalid row filter 7"),
])
def test_wrong_amount_or_filter(tmp_path, raw, message):
    with pytest.raises(UnreadableMedia, match=message):
        verify(write(tmp_path, rgb_parts(raw)), CAP)


def test_incomplete_zlib_stream(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 4, 2, 8, 2, 0, 0, 0)
    data = build([(b"IHDR", ihdr), (b"IDAT", zlib.compress(ROW * 2)[:-6]), (b"IEND", b"")])
    with pytest.raises(UnreadableMedia, match="ends early|short"):
        verify(write(tmp_path, data), CAP)


@pytest.mark.parametrize("parts, message", [
    ([(b"IEND", b"")], "first chunk is not IHDR"),
    ([(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 2, 0, 0, 0)), (b"IEND", b"")], "no IDAT"),
    ([(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 8, 3, 0, 0, 0)), (b"IDAT", zlib.compress(b"\0\0\0\0\0" * 2)),
      (b"IEND", b"")], "without its PLTE"),
    ([(b"IHDR", struct.pack(">IIBBBBB", 4, 2, 7, 2, 0, 0, 0))], "impossible IHDR"),
    ([(b"IHDR", b"\0" * 20)], "IHDR at byte 8 is 20 bytes"),
    ([(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0))], "decompression bomb: 20000x20000"),
])
def test_structural_damage(tmp_path, parts, message):
    with pytest.raises(UnreadableMedia, match=message):
        verify(write(tmp_path, build(parts)), CAP)


def test_missing_iend_is_truncation(tmp_path):
    data = pillow_png("RGB")
    with pytest.raises(UnreadableMedia, match="before IEND"):
        verify(write(tmp_path, data[:-12]), CAP)


def test_memory_stays_small_for_a_large_image(tmp_path):
    """A 64 MP image verifies without allocating its 192 MB of pixels."""
    import tracemalloc

    width = height = 8000
    row = b"\0" + bytes(width * 3)
    comp = zlib.compressobj()
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    p = write(tmp_path, build([(b"IHDR", ihdr), (b"IDAT", body), (b"IEND", b"")]))
    tracemalloc.start()
    verify(p, CAP)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 << 20
