"""Stealth pnginfo: parameters hidden in the least-significant bits of the pixels.

Written by the A1111 stealth-pnginfo extension and by NovelAI. Layout: bits
read column by column (x outer, y inner); from alpha LSBs for
`stealth_pnginfo`/`stealth_pngcomp`, from R,G,B LSBs for `stealth_rgbinfo`/
`stealth_rgbcomp`; then a 32-bit big-endian payload length in bits, then the
payload (gzip for *comp). This is the only detector that decodes pixels, so it
runs last, only on lossless formats, and only below MAX_PIXELS; for most PNGs
stealth_scan.py rules the magic out from the first rows without decoding.
"""
from __future__ import annotations

import json
import warnings
import zlib
from typing import TYPE_CHECKING

from alice.pipeline.detect import a1111, novelai
from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.detect.stealth_scan import NO_MAGIC, scan_png
from alice.pipeline.generation import Detection
from alice.pipeline.metadata import Metadata

if TYPE_CHECKING:      # Pillow costs tens of ms to import: only files that reach the full decode pay it
    from PIL import Image

MAX_PIXELS = 16_000_000      # RGBA decode ~64 MB; stealth writers output far smaller images
PAYLOAD_CAP = 8 * 1024 * 1024
_FORMATS = {"png", "webp"}
_MAGICS = {b"stealth_pnginfo": False, b"stealth_pngcomp": True}
_RGB_MAGICS = {b"stealth_rgbinfo": False, b"stealth_rgbcomp": True}
_MAGIC_BITS = 15 * 8
# Each pixel byte -> ASCII "0"/"1" of its LSB: bits as text, packed by int(bits, 2) at C speed (no numpy).
_LSB_DIGIT = bytes(0x30 | (value & 1) for value in range(256))


class StealthError(ValueError):
    """A stealth header was found but its payload is unusable."""


def _bits_column_major(image: Image.Image) -> bytes:
    """LSBs of an image as b"0"/b"1", in x-major, y-minor, channel order (transposed, then row-major)."""
    from PIL import Image

    return image.transpose(Image.Transpose.TRANSPOSE).tobytes().translate(_LSB_DIGIT)


def _pack(bits: bytes) -> bytes:
    count = len(bits) // 8
    return int(bits[:count * 8], 2).to_bytes(count, "big") if count else b""


def _decode(bits: bytes, compressed: bool) -> str:
    header_end = _MAGIC_BITS + 32
    if len(bits) < header_end:
        raise StealthError("image too small for the stealth header")
    length = int(bits[_MAGIC_BITS:header_end], 2)
    if length <= 0 or length > len(bits) - header_end or length > PAYLOAD_CAP * 8:
        raise StealthError(f"stealth payload length {length} bits does not fit the image")
    payload = _pack(bits[header_end:header_end + length])
    if compressed:
        inflater = zlib.decompressobj(wbits=31)        # gzip
        try:
            payload = inflater.decompress(payload, PAYLOAD_CAP)
        except zlib.error as exc:
            raise StealthError(f"stealth payload is not valid gzip ({exc})") from exc
    return payload.decode("utf-8", "replace")


def find_magic(image: Image.Image) -> tuple[bytes, Image.Image] | None:
    """(magic, the plane its payload is read from) if the image starts a stealth stream.

    The magic sits in the first column(s), so only those are unpacked here.
    """
    if image.mode not in ("RGBA", "LA", "RGB", "L"):
        has_alpha = image.mode in ("PA", "La", "RGBa") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    width, height = image.size
    columns = min(width, -(-_MAGIC_BITS // height) + 1)
    if image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
        magic = _pack(_bits_column_major(alpha.crop((0, 0, columns, height)))[:_MAGIC_BITS])
        if magic in _MAGICS:
            return magic, alpha
    magic = _pack(_bits_column_major(image.crop((0, 0, columns, height)).convert("RGB"))[:_MAGIC_BITS])
    if magic in _RGB_MAGICS:
        return magic, image.convert("RGB")
    return None


def read_stealth(image: Image.Image) -> tuple[str, str] | None:
    """(magic, payload text) if the image carries stealth pnginfo."""
    found = find_magic(image)
    if found is None:
        return None
    magic, plane = found
    compressed = _MAGICS.get(magic, _RGB_MAGICS.get(magic, False))
    return magic.decode(), _decode(_bits_column_major(plane), compressed)


def detect(meta: Metadata) -> Detection | None:
    if meta.format not in _FORMATS or meta.path is None or meta.error:
        return None
    if not meta.width or not meta.height or meta.width * meta.height > MAX_PIXELS:
        if meta.width and meta.height:
            meta.warnings.append(f"stealth pnginfo not checked: {meta.width}x{meta.height} is above {MAX_PIXELS} px")
        return None
    if meta.format == "png" and not meta.animated and scan_png(meta.path) == NO_MAGIC:
        return None          # the common answer, from the first rows alone (stealth_scan.py)
    from PIL import Image

    try:
        # Pillow warns (broken APNG, large images) on files we already judged; keep logs clean.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(meta.path) as image:
                if image.size != (meta.width, meta.height) or getattr(image, "n_frames", 1) > 1:
                    return None
                found = read_stealth(image)
    except StealthError as exc:
        meta.warnings.append(str(exc))
        return None
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        meta.warnings.append(f"stealth pnginfo not checked: pixels unreadable ({exc})")
        return None
    if found is None:
        return None
    magic, text = found
    evidence = [f"stealth:{magic}"]
    record = None
    try:
        record = json.loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        record = None
    if isinstance(record, dict) and novelai.is_novelai(record):
        return novelai.from_record(record, evidence)
    parsed = parse_a1111(text)
    if parsed is not None:
        tool, why = a1111.tool_for(parsed)
        return Detection(tool=tool, ai=True, evidence=evidence + [why], generation=parsed.generation(),
                         raw=parsed.raw())
    return Detection(tool="ai-unknown", ai=True, evidence=evidence, raw={"stealth": text})
