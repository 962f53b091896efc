"""Small pictures of assets for people and assistants: a thumbnail, a video's frame strip, a contact sheet.

Pure: a file (or already-made thumbnails) in, JPEG bytes out; where they are
kept is daemon/thumbnails.py's business. Every output fits in MAX_SIDE px on
its longest side (the size vision models take without scaling down again) and
is re-encoded at lower quality until it is under MAX_BYTES.
"""
from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

MAX_SIDE = 1568
MAX_BYTES = 1_000_000
MAX_PIXELS = 100_000_000          # larger images are refused rather than decoded
SHEET_MAX = 16
STRIP_FRAMES = 4
_QUALITIES = (85, 75, 60, 45)
_LABEL_H = 18
_GAP = 6
_BACKGROUND = (24, 24, 24)


class ThumbnailError(ValueError):
    """The file cannot be drawn small (not a readable image or video); the message says why."""


def encode_jpeg(img: Image.Image, max_bytes: int = MAX_BYTES) -> bytes:
    """JPEG bytes of img, lowering quality until they fit max_bytes (a client's image size limit)."""
    rgb = img.convert("RGB")
    data = b""
    for quality in _QUALITIES:
        buf = io.BytesIO()
        rgb.save(buf, "JPEG", quality=quality, optimize=True)
        data = buf.getvalue()
        if len(data) <= max_bytes:
            return data
    return data


def _flatten(img: Image.Image) -> Image.Image:
    """RGB, transparent parts on a neutral grey (so a logo on alpha is not a black square)."""
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (128, 128, 128))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return img.convert("RGB")


def image_thumbnail(path: Path, max_side: int) -> Image.Image:
    """The image at path, upright, fit within max_side x max_side."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    raise ThumbnailError(f"{path.name} is {img.width}x{img.height}, too large to draw")
                img.draft("RGB", (max_side, max_side))     # JPEG: decode at a reduced scale
                img.seek(0)
                upright = ImageOps.exif_transpose(img)
                upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                return _flatten(upright)
    except ThumbnailError:
        raise
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, MemoryError, EOFError) as exc:
        raise ThumbnailError(f"{path.name} is not an image alice can draw: {exc}") from None


def video_strip(path: Path, max_side: int, frames: int = STRIP_FRAMES, timeout: float = 30.0) -> Image.Image:
    """`frames` frames from evenly spaced times, side by side, fit within max_side on the long side."""
    from alice.pipeline.quality.errors import AssessmentError
    from alice.pipeline.quality.frames import grab_frame, probe_video

    try:
        duration, (w, h) = probe_video(path, timeout)
        cell_w = max(2, (max_side - _GAP * (frames - 1)) // frames)
        cell_h = max(2, round(cell_w * h / max(w, 1)))
        if cell_h > max_side:
            cell_w, cell_h = max(2, round(max_side * w / h)), max_side
        times = [duration * (i + 0.5) / frames for i in range(frames)] if duration else [0.0]
        grabbed = [grab_frame(path, t, (cell_w, cell_h), timeout) for t in times]
    except AssessmentError as exc:
        raise ThumbnailError(f"{path.name}: {exc}") from None
    pictures = [Image.fromarray(f) for f in grabbed if f is not None]
    if not pictures:
        raise ThumbnailError(f"{path.name}: ffmpeg gave no frame")
    strip = Image.new("RGB", (len(pictures) * cell_w + _GAP * (len(pictures) - 1), cell_h), _BACKGROUND)
    for i, pic in enumerate(pictures):
        strip.paste(pic, (i * (cell_w + _GAP), 0))
    return strip


def contact_sheet(tiles: list[tuple[Image.Image, str]], max_side: int = MAX_SIDE) -> Image.Image:
    """Up to SHEET_MAX pictures in a grid, each with its label drawn small under it."""
    if not tiles:
        raise ThumbnailError("a contact sheet needs at least one picture")
    tiles = tiles[:SHEET_MAX]
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    cell = (max_side - _GAP * (cols + 1)) // cols
    cell = min(cell, (max_side - _GAP * (rows + 1)) // rows - _LABEL_H)
    sheet = Image.new("RGB", (cols * cell + _GAP * (cols + 1), rows * (cell + _LABEL_H) + _GAP * (rows + 1)),
                      _BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (pic, label) in enumerate(tiles):
        r, c = divmod(i, cols)
        x0, y0 = _GAP + c * (cell + _GAP), _GAP + r * (cell + _LABEL_H + _GAP)
        small = pic.copy()
        small.thumbnail((cell, cell), Image.Resampling.LANCZOS)
        sheet.paste(small, (x0 + (cell - small.width) // 2, y0 + (cell - small.height) // 2))
        draw.text((x0 + 2, y0 + cell + 3), label, fill=(235, 235, 235), font=font)
    return sheet
