"""One decode of an image's pixels, shared by every stage that needs them.

The perceptual hash, the technical quality stage and (for formats that have
no structural check) the integrity check all read the same decoded image,
decoded once and as small as the format allows: a JPEG is DCT-scaled by
libjpeg (draft) to the size the technical stage measures at, or to 1/8 when
only the hash is wanted. PNG has no reduced decode; its integrity is checked
without decoding (png_verify.py), so its one decode is this one.

Budgets, per analysis: decoded pixels across all frames (`max_pixels`), an
estimate of the memory the decode needs (`max_memory`), and wall time
(`max_seconds`, checked between frames and between decoder steps). Past a
budget the pixel stages are skipped with a warning; the file itself is fine
as far as anyone knows. A file whose header alone claims more than the hard
cap (integrity.MAX_PIXELS) is a decompression bomb and is reported as damage.

Pure: bytes (or an open binary file) in, facts out.
"""
from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, UnidentifiedImageError

from alice.pipeline.perceptual import _GRID_H, _GRID_W, dhash_pixels

# 64 MP: an 8000x8000 frame, or 16 frames of 2048x2048. Above it, skip with a warning.
MAX_PIXELS = 64_000_000
# Pillow holds a frame in at most 4 bytes a pixel; RGB conversion and numpy copies add two more copies.
MAX_MEMORY = 512 * 2**20
MAX_SECONDS = 20.0
# The hard cap above which the header alone condemns the file (same as integrity.MAX_PIXELS).
HARD_CAP = 160_000_000
MAX_FRAMES = 500
_PHASH_DRAFT = (_GRID_W * 8, _GRID_H * 8)


@dataclass(frozen=True)
class Budget:
    max_pixels: int = MAX_PIXELS
    max_memory: int = MAX_MEMORY
    max_seconds: float = MAX_SECONDS


DEFAULT_BUDGET = Budget()


class OverBudget(Exception):
    """Decoding would exceed a budget; the message says which and by how much."""


@dataclass
class PixelFacts:
    perceptual_hash: int | None = None
    quality: dict[str, Any] | None = None       # {"score", "technical"} as AssetRecord.quality
    stars: int | None = None
    warnings: list[str] = field(default_factory=list)
    damage: str | None = None                   # the pixels do not decode: why
    frames_checked: int = 0

    def as_update(self) -> dict[str, Any]:
        return {"perceptual_hash": self.perceptual_hash, "quality": self.quality, "stars": self.stars,
                "warnings": list(self.warnings)}


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def check(self, what: str) -> None:
        if time.monotonic() > self.at:
            raise OverBudget(f"{what} took more than the {self.seconds:g} s budget")


def _bands(mode: str) -> int:
    return {"1": 1, "L": 1, "P": 1, "I;16": 2, "LA": 2, "PA": 2, "RGB": 3, "YCbCr": 3, "I": 4, "F": 4}.get(mode, 4)


class _TimedBytes(io.BytesIO):
    """The decoders pull their input through read() in buffer-sized steps: a read
    after the deadline stops the decode there, whatever the format."""

    def __init__(self, data: bytes, deadline: _Deadline) -> None:
        super().__init__(data)
        self.deadline = deadline

    def read(self, n: int | None = -1) -> bytes:
        self.deadline.check("decoding")
        return super().read(n)


def decode_facts(source: bytes, *, quality: Any = None, budget: Budget = DEFAULT_BUDGET,
                 all_frames: bool = False, want_hash: bool = True) -> PixelFacts:
    """Decode the image in `source` once and derive what is asked from that decode.

    `quality`: a QualityConfig, or None to skip the technical stage.
    `all_frames`: decode every frame (up to the budget) to check the pixels, as
    the integrity check does for formats without a structural one.
    Never raises for the file's content: damage goes to `.damage`, budgets to
    `.warnings`.
    """
    from alice.pipeline.quality.cascade import stars_for
    from alice.pipeline.quality.technical import AssessmentError, assess_decoded, open_for_assessment

    facts = PixelFacts()
    deadline = _Deadline(budget.max_seconds)
    fh = _TimedBytes(bytes(source), deadline)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            img = Image.open(fh)
            original = img.size
            width, height = original
            if width * height > HARD_CAP:
                facts.damage = (f"decompression bomb: {width}x{height} = {width * height:,} pixels exceeds the "
                                f"{HARD_CAP:,}-pixel limit")
                return facts
            if width == 0 or height == 0:
                facts.damage = f"the image has no pixels ({width}x{height})"
                return facts
            if quality is not None:
                open_for_assessment(img, quality)
            elif want_hash and img.format in ("JPEG", "MPO"):
                img.draft("L", _PHASH_DRAFT)
            frames = min(getattr(img, "n_frames", 1) or 1, MAX_FRAMES)
            w, h = img.size
            per_frame = w * h
            total = per_frame * (frames if all_frames else 1)
            need = per_frame * _bands(img.mode) * 3
            if per_frame > budget.max_pixels or need > budget.max_memory:
                raise OverBudget(f"{width}x{height} px needs {per_frame / 1e6:.0f} MP / ~{need / 2**20:.0f} MB to "
                                 f"decode, over the budget of {budget.max_pixels / 1e6:.0f} MP / "
                                 f"{budget.max_memory / 2**20:.0f} MB")
            img.load()
            facts.frames_checked = 1
            if want_hash:
                grey = img.convert("L").resize((_GRID_W, _GRID_H), Image.Resampling.BOX)
                facts.perceptual_hash = dhash_pixels(list(grey.tobytes()))
            if quality is not None:
                try:
                    result = assess_decoded(img, original, quality, caught=caught)
                    facts.quality = {"score": result.score, "technical": result.to_dict()}
                    facts.stars = stars_for(result.score, quality.star_thresholds)
                except AssessmentError as exc:
                    facts.warnings.append(f"quality: {exc}")
            if all_frames and frames > 1:
                decoded = per_frame
                for frame in range(1, frames):
                    if decoded + per_frame > budget.max_pixels:
                        facts.warnings.append(
                            f"pixels: checked {frame} of {frames} frames; the rest would pass the "
                            f"{budget.max_pixels / 1e6:.0f} MP budget ({total / 1e6:.0f} MP in all)")
                        break
                    deadline.check(f"checking frame {frame + 1} of {frames}")
                    img.seek(frame)
                    img.load()
                    decoded += per_frame
                    facts.frames_checked = frame + 1
    except OverBudget as exc:
        facts.warnings.append(f"pixels: skipped: {exc}")
        facts.perceptual_hash = facts.perceptual_hash if facts.frames_checked else None
    except UnidentifiedImageError:
        facts.damage = "not a decodable image (Pillow cannot identify it)"
    except Image.DecompressionBombError as exc:
        facts.damage = f"decompression bomb: {exc}"
    except MemoryError:
        facts.warnings.append("pixels: skipped: the decode needs more memory than is available")
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, RuntimeError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise       # the file system, not the content
        text = str(exc).strip() or type(exc).__name__
        if "truncated" in text.lower():
            text = "the file ends before the image data does (truncated)"
        facts.damage = f"cannot decode the image (damaged or unsupported data): {text}"
    return facts
