"""A 64-bit perceptual hash (dHash) of an image, for finding near-duplicates and variants.

dHash compares each pixel of a 9x8 grey thumbnail with its right neighbour:
one bit per comparison. Re-encoding, resizing, mild colour or exposure edits
change few bits; a different picture changes about half of them. Similar
images are those within a small Hamming distance (daemon/catalog/similar.py).

Reading is bounded: JPEGs decode in draft mode (a fraction of the pixels),
images above MAX_PIXELS are refused before decoding, and anything Pillow
cannot read yields None rather than an exception: a file without a hash is
simply never "similar" to anything.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

HASH_BITS = 64
MAX_PIXELS = 64_000_000       # ~8000x8000; larger is refused rather than decoded
_GRID_W, _GRID_H = 9, 8


def perceptual_hash(path: Path | str) -> int | None:
    """The image's dHash as a signed 64-bit int (fits PostgreSQL BIGINT), or None if it is not a readable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS or img.width < 1 or img.height < 1:
                    return None
                img.draft("L", (_GRID_W * 8, _GRID_H * 8))   # JPEG: decode at 1/2..1/8 scale
                grey = img.convert("L").resize((_GRID_W, _GRID_H), Image.Resampling.BOX)
                return dhash_pixels(list(grey.tobytes()))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, MemoryError, EOFError):
        return None


def dhash_pixels(pixels: list[int]) -> int:
    """dHash of a row-major 9x8 grid of grey values, as a signed 64-bit int."""
    if len(pixels) != _GRID_W * _GRID_H:
        raise ValueError(f"dHash needs {_GRID_W * _GRID_H} grey values (9x8), got {len(pixels)}")
    value = 0
    for row in range(_GRID_H):
        line = pixels[row * _GRID_W:(row + 1) * _GRID_W]
        for left, right in zip(line, line[1:], strict=False):
            value = (value << 1) | (left > right)
    return to_signed64(value)


def to_signed64(value: int) -> int:
    """An unsigned 64-bit value as the signed int PostgreSQL BIGINT stores (same bits)."""
    value &= (1 << HASH_BITS) - 1
    return value - (1 << HASH_BITS) if value >= 1 << (HASH_BITS - 1) else value


def hamming(a: int, b: int) -> int:
    """How many of the 64 bits differ between two hashes (signed or unsigned form)."""
    return ((a ^ b) & ((1 << HASH_BITS) - 1)).bit_count()
