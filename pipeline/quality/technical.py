"""Stage 1 of the quality cascade: local technical assessment, no network, no models.

An image is decoded small (JPEG via Pillow's draft mode, which lets libjpeg
skip most of the IDCT work), reduced by the largest whole factor that keeps
its long edge at least `work_edge` px (default 512: a 1024 px image is
measured at 512, a 640 px one at 640, a smaller one as it is), and measured
(pipeline/quality/measures.py documents every curve). A video
is measured on `video_frames` frames at the centres of equal slices of its
length, each seeked, decoded and scaled by ffmpeg and read as raw RGB from a
pipe; goodness values are averaged over the frames.

Score: 100 times the product of the measures' goodness, each raised to its
weight (weights are exponents, QualityConfig.weights):

    score = 100 * prod(max(g_i, 1e-4) ** w_i)

    sharpness 0.60  noise 0.35  exposure 0.45  contrast 0.15
    colourfulness 0.06  compression 0.40  resolution 0.12

A product lets one ruinous defect (heavy blur, a black frame, Q10 JPEG) pull
the score down however good the rest is, where an average would hide it; a
perfect image scores 100, and a measure that cannot be taken (blockiness on a
resampled copy) counts as 1. Stars: `star_thresholds` (default 25/45/65/82
for 2/3/4/5 stars).

Measured with the defaults on the corpus: sharp, well exposed originals score
85-93 (5 stars); high-key illustrations 60-75; a 2.5 px blur, Q30 JPEG, or
+1.5 EV over-exposure land around 20-60. Damage done to a 1024 px render
(comfyui-flux-dev.png, 87) and saved losslessly: Gaussian noise of sigma
5/15/40 per channel scores 77/55/28, a Gaussian blur of 1/3/8 px 79/43/12;
saved as JPEG Q75/Q30/Q5 it scores 84/61/22 (tests/test_quality_ladders.py).

Noise is read on native pixels (measures.native_patches), everything else on
the working copy: reduction averages noise away, so grain on a large render
would otherwise go unseen (sigma 5 on a 2048 px render once raised its
score). A JPEG larger than twice work_edge is decoded as a 1/4 or 1/8 draft
and its noise read there, which sees only a quarter or less of it.

Known limit: an image that carries its own codec blocking (a lossy WebP
comic, comfyui-kontext.webp, 2048x3072) can gain from a mild blur or grain,
which hide that blocking on the native grid while the sharpness reading, on
a copy reduced 6x, cannot see a 0.5 px blur; heavier damage still ranks it
lower.

Cost (bench/quality_bench.py --cpu, CPU ms, median of 15): the measures take
~6.5 ms on a 512 px working copy, 1.4 ms of it the native noise patches;
a 1 MP JPEG file ~12 ms end to end, a 4 MP one ~12 ms (decoded as a draft);
PNG and HEIC files are dominated by decoding (~40 ms per 1 MP PNG, ~110-145
per 4 MP).
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from alice.pipeline.quality import measures as m
from alice.pipeline.quality.cascade import stars_for
from alice.pipeline.quality.config import QualityConfig
from alice.pipeline.quality.errors import AssessmentError
from alice.pipeline.quality.frames import grab_frame, probe_video

try:  # HEIC/AVIF from phones; without it those files get a clear AssessmentError
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pillow_heif = None  # type: ignore[assignment]

DEFAULT_CONFIG = QualityConfig()

GOODNESS_FLOOR = 1e-4
BLOCK_CROP = 512          # full-resolution crop the blockiness reading uses
MAX_WARNINGS = 5

# Formats decoded in-process by Pillow's own (or pillow-heif's) decoders. Left
# out on purpose: EPS/PDF, which Pillow hands to Ghostscript, and exotic
# plugins nobody generates images in.
# (The JPEG opener also yields MPO, the multi-picture JPEG phones write.)
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP", "HEIF", "AVIF")
JPEG_FAMILY = ("JPEG", "MPO")


@dataclass
class TechnicalResult:
    score: float                     # 0..100
    stars: int                       # 1..5 by the config's thresholds
    measures: dict[str, float]       # goodness 0..1 per measure that could be taken
    raw: dict[str, float]            # the figures behind them (blur index, noise sigma, ...)
    width: int                       # of the original
    height: int
    elapsed_ms: float
    media: str = "image"
    frames: int = 1
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- scoring ---------------------------------------------------------------

def combine_measures(goodness: dict[str, float], weights: Any) -> float:
    """100 * prod(g_i ** w_i): each weight is the exponent of its measure's goodness."""
    acc = 0.0
    for name, g in goodness.items():
        w = float(weights.get(name, 0.0))
        if w > 0.0:
            acc += w * math.log(max(g, GOODNESS_FLOOR))
    return 100.0 * math.exp(acc)


def _measure(small: np.ndarray, original: tuple[int, int], full: np.ndarray | None, period: int,
             jpeg_quality: float | None, decoded: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
    """Goodness and raw figures for one picture.

    `small` is the working copy; `full` the same picture on the codec's block
    grid (native or JPEG-draft resolution, grid period `period`), or None when
    no such copy exists, in which case blockiness is not measured; `decoded`
    the largest copy there is (native, or a JPEG draft), which noise is read on.
    """
    y = m.luma(small)
    framed_pixels = y.size
    box = m.content_box(y)
    top, bottom, left, right = box
    whole = box == (0, y.shape[0], 0, y.shape[1])
    grid = _grid_crop(full, period, _scale_box(box, y.shape, full.shape[:2])) if full is not None and period else None
    patches = m.native_patches(decoded, _scale_box(box, y.shape, decoded.shape[:2]))
    if not whole:
        small, y = small[top:bottom, left:right], y[top:bottom, left:right]
    # Two noise readings: on the working copy, to core noise out of the
    # sharpness reading there; on native pixels, for the noise score.
    sigma_work = m.noise_sigma(y)
    blur = m.blur_index(y, sigma_work)
    sigma = m.noise_sigma(patches)
    hist = m.histogram(y)
    expo = m.exposure_figures(hist)
    std = m.rms_contrast(hist)
    col = m.colourfulness(small)
    raw: dict[str, float] = {"blur": blur, "noise_sigma": sigma, "noise_sigma_work": sigma_work,
                             "contrast_std": std, "colourfulness_m": col,
                             "megapixels": original[0] * original[1] / 1e6}
    raw.update({f"exposure_{k}": v for k, v in expo.items()})
    if not whole:
        # Letterboxed: the measures describe the picture inside the bars.
        raw["content_fraction"] = y.size / framed_pixels
    good = {
        "sharpness": m.sharpness_goodness(blur),
        "noise": m.noise_goodness(sigma),
        "exposure": m.exposure_goodness(expo),
        "contrast": m.contrast_goodness(std),
        "colourfulness": m.colourfulness_goodness(col),
        "resolution": m.resolution_goodness(*original),
    }
    compression: list[float] = []
    ratio = m.blockiness(m.luma(grid), period) if grid is not None else None
    if ratio is not None:
        raw["blockiness"] = ratio
        compression.append(m.compression_goodness(ratio))
    if jpeg_quality is not None:
        raw["jpeg_quality"] = float(jpeg_quality)
        compression.append(m.jpeg_quality_goodness(jpeg_quality))
    if compression:
        good["compression"] = min(compression)
    return good, raw


def _result(small: np.ndarray, original: tuple[int, int], full: np.ndarray | None, period: int,
            jpeg_quality: float | None, decoded: np.ndarray, cfg: QualityConfig, t0: float) -> TechnicalResult:
    good, raw = _measure(small, original, full, period, jpeg_quality, decoded)
    score = combine_measures(good, cfg.weights)
    return TechnicalResult(score=round(score, 3), stars=stars_for(score, cfg.star_thresholds),
                           measures={k: round(v, 4) for k, v in good.items()},
                           raw={k: round(v, 5) for k, v in raw.items()},
                           width=original[0], height=original[1],
                           elapsed_ms=round((time.perf_counter() - t0) * 1000.0, 2))


# --- arrays ----------------------------------------------------------------

def _scale_box(box: tuple[int, int, int, int], small: tuple[int, int], full: tuple[int, int]
               ) -> tuple[int, int, int, int]:
    """A (top, bottom, left, right) box on the working copy, in `full`'s pixels."""
    fy, fx = full[0] / small[0], full[1] / small[1]
    top, bottom, left, right = box
    return int(math.ceil(top * fy)), int(bottom * fy), int(math.ceil(left * fx)), int(right * fx)


def _grid_crop(rgb: np.ndarray, period: int, box: tuple[int, int, int, int]) -> np.ndarray:
    """A centred crop of at most BLOCK_CROP px inside `box`, its origin on the codec's block grid."""
    top, bottom, left, right = box
    top, left = -(-top // period) * period, -(-left // period) * period
    ch, cw = min(bottom - top, BLOCK_CROP), min(right - left, BLOCK_CROP)
    if ch <= 0 or cw <= 0:
        return rgb[:0, :0]
    y0 = top + ((bottom - top - ch) // 2) // period * period
    x0 = left + ((right - left - cw) // 2) // period * period
    return rgb[y0:y0 + ch, x0:x0 + cw]


def _check_array(rgb: Any) -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        raise AssessmentError(f"expected a numpy array of pixels, got {type(rgb).__name__}")
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise AssessmentError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise AssessmentError(f"expected uint8 pixels, got {rgb.dtype}")
    if min(rgb.shape[:2]) < m.MIN_SIDE:
        raise AssessmentError(f"image is {rgb.shape[1]}x{rgb.shape[0]} px; at least {m.MIN_SIDE} px a side is needed")
    return rgb[..., :3]


def assess_array(rgb: np.ndarray, original_size: tuple[int, int] | None = None,
                 cfg: QualityConfig | None = None, *, jpeg_quality: float | None = None) -> TechnicalResult:
    """Assess decoded uint8 RGB pixels at their native resolution.

    `original_size` (width, height) is the file's size for the resolution
    measure when `rgb` is already a reduced copy; then blockiness is skipped,
    since the block grid does not survive resampling.
    """
    t0 = time.perf_counter()
    cfg = cfg or DEFAULT_CONFIG
    rgb = _check_array(rgb)
    h, w = rgb.shape[:2]
    native = original_size is None or tuple(original_size) == (w, h)
    original = (w, h) if original_size is None else (int(original_size[0]), int(original_size[1]))
    small = _downscale(rgb, cfg.work_edge)
    return _result(small, original, rgb if native else None, 8, jpeg_quality, rgb, cfg, t0)


def _downscale(rgb: np.ndarray, work_edge: int) -> np.ndarray:
    """Reduce by the largest whole factor that keeps the long edge >= work_edge.

    A whole-factor box reduction is several times cheaper than resampling to an
    exact size, and averaging k x k pixels treats every image alike. Rounding
    the factor down, not up, means no picture is judged below work_edge: dense
    texture at a third of its size would read as noise.
    """
    h, w = rgb.shape[:2]
    k = _factor((w, h), work_edge)
    if k == 1:
        return np.ascontiguousarray(rgb)
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgb), "RGB").reduce(k))


def _factor(size: tuple[int, int], work_edge: int) -> int:
    return max(1, max(size) // work_edge)


# --- files -----------------------------------------------------------------

def _openers() -> list[str]:
    Image.init()
    return [f for f in IMAGE_FORMATS if f in Image.OPEN]


def _pixels(img: Image.Image) -> np.ndarray:
    """uint8 RGB from whatever mode the decoder produced."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        top = float(a.max()) if a.size else 0.0
        a = a / 257.0 if top > 255.0 else a
        a = np.clip(a, 0, 255).astype(np.uint8)
        return np.repeat(a[..., None], 3, axis=2)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def assess_image(path: Path | BinaryIO, cfg: QualityConfig | None = None) -> TechnicalResult:
    """Assess an image file (a path, or a binary file already open). File-system errors
    (missing, unreadable) propagate as OSError; anything wrong with the file's content
    raises AssessmentError."""
    if hasattr(path, "read"):
        return _assess_open(path, getattr(path, "name", "image"), cfg)  # type: ignore[arg-type]
    path = Path(path)
    with open(path, "rb") as fh:
        return _assess_open(fh, path, cfg)


def open_for_assessment(img: Image.Image, cfg: QualityConfig | None = None) -> None:
    """Ask the decoder for the reduced size this stage measures at (JPEG: DCT scaling);
    call on a freshly opened image before anything loads its pixels."""
    cfg = cfg or DEFAULT_CONFIG
    if img.format in JPEG_FAMILY:
        # draft() keeps the decoded size >= the request, so ask for
        # the final working size and let _downscale finish the job.
        k = _factor(img.size, cfg.work_edge)
        img.draft("RGB", (max(1, img.size[0] // k), max(1, img.size[1] // k)))


def _assess_open(fh: BinaryIO, path: Path | str, cfg: QualityConfig | None) -> TechnicalResult:
    name = Path(str(path)).name
    try:
        # Decoder warnings ("Truncated File Read", "Corrupt EXIF data")
        # belong to this file's result, not to the daemon's stderr.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            img = Image.open(fh, formats=_openers())
            original = img.size
            open_for_assessment(img, cfg)
            return assess_decoded(img, original, cfg, name=name, caught=caught)
    except Image.DecompressionBombError as exc:
        raise AssessmentError(f"{name}: refusing a possible decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise AssessmentError(f"{name}: not an image in a format the quality stage reads "
                              f"({', '.join(IMAGE_FORMATS)})") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError,
            MemoryError, RuntimeError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise           # the file system, not the content
        raise AssessmentError(f"{name}: damaged or truncated image data ({exc})") from None


def assess_decoded(img: Image.Image, original: tuple[int, int], cfg: QualityConfig | None = None, *,
                   name: str = "image", caught: list[Any] | None = None) -> TechnicalResult:
    """Assess an opened image (open_for_assessment already applied) whose file size is
    `original`; its pixels are loaded here unless the caller already loaded them, so one
    decode can serve other stages too (pipeline/pixels.py)."""
    t0 = time.perf_counter()
    cfg = cfg or DEFAULT_CONFIG
    try:
        jpeg = img.format in JPEG_FAMILY
        quality = m.jpeg_quality(getattr(img, "quantization", None)) if jpeg else None
        if original[0] < m.MIN_SIDE or original[1] < m.MIN_SIDE:
            raise AssessmentError(f"{name}: image is {original[0]}x{original[1]} px; "
                                  f"at least {m.MIN_SIDE} px a side is needed to judge it")
        decoded = img.size
        if decoded[0] * decoded[1] > cfg.max_pixels:
            raise AssessmentError(
                f"{name}: image is {original[0]}x{original[1]} px, more than quality.max_pixels="
                f"{cfg.max_pixels}; refusing to decode it (raise the limit if it is genuine)")
        rgb = _pixels(img)
    except AssessmentError:
        raise
    except Image.DecompressionBombError as exc:
        raise AssessmentError(f"{name}: refusing a possible decompression bomb: {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError,
            MemoryError, RuntimeError) as exc:
        # Decoder failures surface as any of these depending on the plugin;
        # the file is damaged or truncated, the file system is fine (open() worked).
        raise AssessmentError(f"{name}: damaged or truncated image data ({exc})") from None
    reduction = original[0] // max(1, decoded[0])
    period = 8 // reduction if reduction in (1, 2) else 0
    small = _downscale(rgb, cfg.work_edge)
    result = _result(small, original, rgb if period else None, period, quality, rgb, cfg, t0)
    notes = dict.fromkeys(f"decoder: {w.message}" for w in (caught or [])
                          if not issubclass(w.category, Image.DecompressionBombWarning))
    result.warnings.extend(list(notes)[:MAX_WARNINGS])
    return result


# --- video -----------------------------------------------------------------

def _mean_of(readings: list[dict[str, float]]) -> dict[str, float]:
    keys = dict.fromkeys(k for r in readings for k in r)
    return {k: float(np.mean([r[k] for r in readings if k in r])) for k in keys}


def assess_video(path: Path, cfg: QualityConfig | None = None) -> TechnicalResult:
    """Assess `video_frames` frames spread over the video; measures are averaged over frames."""
    t0 = time.perf_counter()
    cfg = cfg or DEFAULT_CONFIG
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    deadline = t0 + cfg.video_timeout_s
    duration, original = probe_video(path, cfg.video_timeout_s)
    if min(original) < m.MIN_SIDE:
        raise AssessmentError(f"{path.name}: video is {original[0]}x{original[1]} px, too small to judge")
    k = _factor(original, cfg.work_edge)
    size = (max(1, original[0] // k), max(1, original[1] // k))
    n = cfg.video_frames if duration and duration > 0 else 1
    # Frame centres of n equal slices: never the first frame (often black or a
    # fade-in) nor the very end (seeking past the last frame yields nothing).
    times = [duration * (i + 0.5) / n for i in range(n)] if duration else [0.0]
    goods: list[dict[str, float]] = []
    raws: list[dict[str, float]] = []
    warn: list[str] = []
    native = size == original
    for at in times:
        left = deadline - time.perf_counter()
        try:
            if left <= 0:
                raise AssessmentError(f"{path.name}: over quality.video_timeout_s={cfg.video_timeout_s:g}s")
            frame = grab_frame(path, at, size, left)
        except AssessmentError as exc:
            if not goods:
                raise
            warn.append(f"stopped early: {exc}")
            break
        if frame is None:
            continue
        good, raw = _measure(frame, original, frame if native else None, 8, None, frame)
        goods.append(good)
        raws.append(raw)
    if not goods:
        raise AssessmentError(f"{path.name}: ffmpeg could not decode any frame (damaged or unsupported video)")
    if len(goods) < len(times):
        warn.append(f"{len(goods)} of {len(times)} sampled frames decoded")
    good = _mean_of(goods)
    raw = _mean_of(raws)
    score = combine_measures(good, cfg.weights)
    return TechnicalResult(score=round(score, 3), stars=stars_for(score, cfg.star_thresholds),
                           measures={k: round(v, 4) for k, v in good.items()},
                           raw={k: round(v, 5) for k, v in raw.items()},
                           width=original[0], height=original[1],
                           elapsed_ms=round((time.perf_counter() - t0) * 1000.0, 2),
                           media="video", frames=len(goods), warnings=warn)
