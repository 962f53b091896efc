"""Technical image measures: pixels in, raw figures and 0-1 goodness out.

Every measure runs on the working copy (the original reduced by the largest
whole factor that keeps its long edge at least `QualityConfig.work_edge`,
default 512, so 512..1023 px) as integer luma (1/8 levels), after black letterbox/pillarbox bars
are cut off (`content_box`). Three exceptions: compression needs the codec's own
block grid, so it runs on a crop of at most 512 px of the full-resolution (or
JPEG half-scale draft) pixels; noise is read on 16 patches of 128 px of the
decoded pixels (`native_patches`), because the working copy's k x k averaging
divides white noise by k; resolution reads the ORIGINAL size.
Costs are whole-array numpy passes; no filter is wider than 3 taps.

Raw figure -> goodness (1 = fine, 0 = ruined). Every curve is monotone in its
raw figure, so a worse reading can never score better on that measure.

sharpness      Crete-Roffet "perceptual blur" B in 0..1: re-blur with a 9-tap box
               filter; a sharp image loses much of its neighbour differences,
               a blurred one loses little. Contrast-invariant. Steps below
               2.5 x the noise sigma are cored away so noise does not pass for
               detail. Taken per 64 px tile; B is the 25th percentile over the
               more detailed half of the tiles, so a sharp subject on a soft
               background is sharp. Sharp images read 0.15-0.30, a 1 px
               Gaussian blur ~0.35-0.5, 4 px ~0.75-0.85.
               goodness = (clip((1 - B) / (1 - 0.30)))^2
noise          sigma of Gaussian noise (0..1 units) in the decoded pixels (native
               size; a JPEG's draft decode, 1/2..1/8, for large JPEGs): Immerkaer's
               3x3 residual |r| averaged per 8x8 block, 2nd percentile over
               blocks that are not near black or white, sigma = sqrt(pi/2) *
               mean|r| / 6, on 16 patches spread over the picture. Clean renders
               read 0-0.6/255, a camera photo ~2/255; added RGB noise of sigma
               5/15/40 per channel reads ~2.7/7.7/18/255 (the flattest blocks
               read low, and luma averages the channels).
               goodness = exp(-max(0, sigma - 1/255) / (5/255)): 0.72 / 0.27 /
               0.04 for those three, a factor 0.89 / 0.63 / 0.32 on the score.
               (The sharpness reading's coring uses a second, working-copy
               noise reading, `noise_sigma_work`.)
exposure       From the luma histogram of a regular ~250k pixel sample:
               m = mean; crushed/blown = fraction at <= 1/255 or >= 254/255;
               darkness/brightness = mean depth below 0.1 or above 0.9
               (divided by 0.1), which moves with any EV step.
               goodness = g_mean * g_clip,
               g_mean = exp(-(max(0, |m - 0.46| - 0.08) / 0.18)^2),
               g_clip = 1 / (1 + 2*crushed + 3*blown + 2*darkness + 4*brightness)^2.
               Highlights weigh more than shadows: blown areas are lost, dark
               ones are usually mood. High-key images (white backgrounds) read
               as somewhat over-exposed.
contrast       RMS contrast: std of luma. goodness = clip(std / 0.20).
colourfulness  Hasler & Suesstrunk M on 0..255 RGB (15 slightly, 33 moderately,
               59 quite colourful), on a regular ~250k pixel sample.
               goodness = clip(M / 30); low weight, so deliberate monochrome
               loses little.
compression    the worse of (a) blockiness R = mean |step| across block
               boundaries / mean |step| inside blocks (1.0 = no grid),
               goodness = exp(-max(0, R - 1.02) / 0.35), and (b) for JPEG files
               the quality Q implied by the luminance quantisation table (IJG
               scaling), goodness = 1 - (clip((90 - Q) / 85))^1.5.
resolution     megapixels of the original: goodness 0 at <= 0.1 MP, 1 at >= 2 MP,
               linear in log(MP) between.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

# Rec. 709 luma weights on the encoded values: cheap and close enough to
# perceived brightness for ranking.
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
LUMA_SCALE = 8                 # luma units per 8-bit level
FULL = 255 * LUMA_SCALE

BLUR_GOOD = 0.30
BLUR_BAD = 1.0
CORING = 2.5
NOISE_FREE = 1.0 / 255
NOISE_SCALE = 5.0 / 255
MEAN_TARGET = 0.46
MEAN_TOLERANCE = 0.08
MEAN_WIDTH = 0.18
CONTRAST_FULL = 0.20
COLOURFUL_FULL = 30.0
BLOCK_FREE = 1.02
BLOCK_SCALE = 0.35
MP_NONE = 0.1
MP_FULL = 2.0

SAMPLE_PIXELS = 250_000

# Smallest working image the measures mean anything on.
MIN_SIDE = 16


def luma(rgb: np.ndarray) -> np.ndarray:
    """Luma in 1/8 levels (0..2040) from HxWx3 uint8 RGB, as int16.

    Integers halve the memory traffic of every later pass against float32.
    Whole levels are too coarse: in a heavily blurred image neighbours differ
    by under one level, and rounding alone would read as detail. Signed 16
    bits hold the widest value formed below (the noise residual, +-16320).
    """
    y = rgb.astype(np.float32) @ (_LUMA * np.float32(LUMA_SCALE))
    y += np.float32(0.5)
    return y.astype(np.int16)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _block_sums(x: np.ndarray, size: int) -> np.ndarray:
    """Sums over size x size blocks of an array whose sides are multiples of size.

    Rows first: adding whole rows is contiguous and fast, and leaves an array
    `size` times smaller for the short-axis reduction.
    """
    h, w = x.shape
    acc = np.int32 if x.dtype.kind == "i" else x.dtype   # numpy would widen int16 to int64
    return x.reshape(h // size, size, w).sum(axis=1, dtype=acc).reshape(h // size, w // size, size).sum(axis=2)


# --- framing ---------------------------------------------------------------

BAR_LEVEL = 6 * LUMA_SCALE  # letterbox bars are black to within codec noise
BAR_FRACTION = 0.9           # of a row/column; leaves room for a watermark in the bar
MIN_CONTENT = 0.2            # an image that is mostly "bar" is just dark: keep it whole


def content_box(y: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) inside black letterbox/pillarbox bars.

    Bars would otherwise read as crushed shadows, and their straight edges,
    which encoders put on the block grid, as blockiness.
    """
    h, w = y.shape
    dark = y <= BAR_LEVEL
    rows = np.flatnonzero(np.count_nonzero(dark, axis=1) < BAR_FRACTION * w)
    cols = np.flatnonzero(np.count_nonzero(dark, axis=0) < BAR_FRACTION * h)
    if rows.size == 0 or cols.size == 0:
        return 0, h, 0, w
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(cols[0]), int(cols[-1]) + 1
    if bottom - top < MIN_CONTENT * h or right - left < MIN_CONTENT * w:
        return 0, h, 0, w
    return top, bottom, left, right


# --- sharpness -------------------------------------------------------------

def _steps(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray, core: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """|a - b| above the coring level, and 9 x what survives the re-blur, as int16."""
    d_f = np.subtract(a, b)
    np.abs(d_f, out=d_f)
    if core > 0:
        np.subtract(d_f, np.int16(core), out=d_f)
        np.maximum(d_f, 0, out=d_f)
    v = np.subtract(c, d)
    np.abs(v, out=v)
    np.subtract(d_f * np.int16(9), v, out=v)
    np.maximum(v, 0, out=v)
    return d_f, v


def blur_index(y: np.ndarray, noise: float = 0.0, tile: int = 64) -> float:
    """Crete-Roffet blur in 0..1 of the image's most detailed parts: 0 = sharp, 1 = blurred.

    The 9-tap box re-blur B(i) = mean(F[i-4..i+4]) needs no filtering pass:
    B(i) - B(i-1) = (F[i+4] - F[i-5]) / 9. Neighbour steps smaller than
    CORING x the noise sigma are discarded, so noise does not read as detail.
    The figure is taken per tile; the result is the 25th percentile over the
    tiles with above-median detail, so a sharp subject in front of a
    deliberately soft background reads as sharp.
    """
    h, w = y.shape
    if min(h, w) < 20:
        return 1.0
    tile = max(8, min(tile, (h - 9) // 2, (w - 9) // 2))
    th, tw = (h - 9) // tile, (w - 9) // tile
    rows, cols = th * tile, tw * tile
    core = int(round(CORING * noise * FULL))
    f1, v1 = _steps(y[5:5 + rows, :cols], y[4:4 + rows, :cols], y[9:9 + rows, :cols], y[:rows, :cols], core)
    f1, v1 = _block_sums(f1, tile) * 9.0, _block_sums(v1, tile) * 1.0
    f2, v2 = _steps(y[:rows, 5:5 + cols], y[:rows, 4:4 + cols], y[:rows, 9:9 + cols], y[:rows, :cols], core)
    f2, v2 = _block_sums(f2, tile) * 9.0, _block_sums(v2, tile) * 1.0
    activity = f1 + f2
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.maximum(np.where(f1 > 0, 1.0 - v1 / f1, 1.0), np.where(f2 > 0, 1.0 - v2 / f2, 1.0))
    # A tile needs a mean step of at least 1 level to have any detail to judge
    # (activity is 9 x the sum of steps in both directions).
    floor = 9.0 * 2.0 * tile * tile * LUMA_SCALE
    detailed = b[activity >= max(float(np.median(activity)), floor)]
    if detailed.size == 0:
        return 1.0
    return float(np.percentile(detailed, 25))


def sharpness_goodness(blur: float) -> float:
    return _clip01((BLUR_BAD - blur) / (BLUR_BAD - BLUR_GOOD)) ** 2


# --- noise -----------------------------------------------------------------

def noise_sigma(y: np.ndarray, block: int = 8, percentile: float = 2.0) -> float:
    """Estimated sigma of additive noise (0..1 units), from the flattest blocks.

    Immerkaer's mask [[1,-2,1],[-2,4,-2],[1,-2,1]] is the outer product of
    [1,-2,1] with itself, so it is two second differences; it cancels any
    locally linear ramp, leaving noise plus curvature. For Gaussian noise
    E|r| = 6 * sigma * sqrt(2/pi). Blocks whose mean is near black or white
    are left out: clipping hides noise there.
    """
    h, w = y.shape
    bh, bw = (h - 2) // block, (w - 2) // block
    if bh < 1 or bw < 1:
        return 0.0
    rows, cols = bh * block, bw * block
    d2 = y[:rows + 2, 1:cols + 1] * np.int16(-2)
    d2 += y[:rows + 2, :cols]
    d2 += y[:rows + 2, 2:cols + 2]
    r = d2[1:rows + 1] * np.int16(-2)
    r += d2[:rows]
    r += d2[2:rows + 2]
    np.abs(r, out=r)
    residual = _block_sums(r, block)
    level = _block_sums(np.ascontiguousarray(y[1:rows + 1, 1:cols + 1]), block)
    n = block * block
    usable = residual[(level > 3 * LUMA_SCALE * n) & (level < 252 * LUMA_SCALE * n)]
    if usable.size == 0:
        return 0.0
    mean_abs = float(np.percentile(usable, percentile)) / n / FULL
    return mean_abs * math.sqrt(math.pi / 2.0) / 6.0


NOISE_PATCH = 128   # px a side of each native-resolution patch the noise reading uses
NOISE_GRID = 4      # patches per side: 16 patches, ~260k pixels however large the image


def native_patches(rgb: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Luma of NOISE_GRID x NOISE_GRID patches at the centres of a grid over `box`
    of the decoded pixels, stacked vertically.

    Noise is a property of the pixels as stored: the working copy averages
    k x k pixels and so divides white noise by k (a 3000 px render loses
    five sixths of it), and the whole decoded image would cost ~20x more to
    scan than these patches. Patch seams only make blocks that are not flat,
    which the flattest-block reading never picks.
    """
    top, bottom, left, right = box if box is not None else (0, rgb.shape[0], 0, rgb.shape[1])
    h, w = bottom - top, right - left
    p = min(NOISE_PATCH, h // NOISE_GRID, w // NOISE_GRID) // 8 * 8
    if p < 16:
        return luma(np.ascontiguousarray(rgb[top:bottom, left:right]))
    rows = [top + int((i + 0.5) * h / NOISE_GRID) - p // 2 for i in range(NOISE_GRID)]
    cols = [left + int((j + 0.5) * w / NOISE_GRID) - p // 2 for j in range(NOISE_GRID)]
    return luma(np.concatenate([rgb[r:r + p, c:c + p] for r in rows for c in cols], axis=0))


def noise_goodness(sigma: float) -> float:
    return _clip01(math.exp(-max(0.0, sigma - NOISE_FREE) / NOISE_SCALE))


# --- exposure --------------------------------------------------------------

def _sampled(a: np.ndarray, pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """Every k-th row and column, k chosen to leave about `pixels` pixels.

    For whole-image statistics (histogram, colour spread) a regular sample of
    ~250k pixels gives the same figures to well under a percent.
    """
    k = max(1, int(math.sqrt(a.shape[0] * a.shape[1] / pixels)))
    return a[::k, ::k] if k > 1 else a


def histogram(y: np.ndarray) -> np.ndarray:
    """256-bin histogram of `luma` output (bin k = level k), as fractions.

    Exposure and contrast read only this.
    """
    counts = np.bincount(_sampled(y).ravel(), minlength=FULL + 1)[:FULL + 1].astype(np.float64)
    # Shift by half a level so bin k gathers units [8k - 4, 8k + 4), then fold 8 units per level.
    half = LUMA_SCALE // 2
    padded = np.zeros(256 * LUMA_SCALE)
    padded[half:half + FULL + 1] = counts[:256 * LUMA_SCALE - half]
    levels = padded.reshape(256, LUMA_SCALE).sum(axis=1)
    return levels / max(1.0, float(levels.sum()))


_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def exposure_figures(hist: np.ndarray) -> dict[str, float]:
    return {
        "mean": float(hist @ _LEVELS),
        "crushed": float(hist[:2].sum()),
        "blown": float(hist[254:].sum()),
        "darkness": float(hist @ np.maximum(0.1 - _LEVELS, 0.0)) / 0.1,
        "brightness": float(hist @ np.maximum(_LEVELS - 0.9, 0.0)) / 0.1,
    }


def exposure_goodness(fig: dict[str, float]) -> float:
    off = max(0.0, abs(fig["mean"] - MEAN_TARGET) - MEAN_TOLERANCE) / MEAN_WIDTH
    g_mean = math.exp(-off * off)
    clipped = (2.0 * fig["crushed"] + 3.0 * fig["blown"]
               + 2.0 * fig["darkness"] + 4.0 * fig["brightness"])
    g_clip = 1.0 / (1.0 + clipped) ** 2
    return _clip01(g_mean * g_clip)


# --- contrast and colour ----------------------------------------------------

def rms_contrast(hist: np.ndarray) -> float:
    mean = float(hist @ _LEVELS)
    return math.sqrt(max(0.0, float(hist @ (_LEVELS - mean) ** 2)))


def contrast_goodness(std: float) -> float:
    return _clip01(std / CONTRAST_FULL)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M on 0..255 values.

    A whole-image statistic, so it is taken on a regular sample.
    """
    a = _sampled(rgb).astype(np.float32)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    rg = r - g
    yb = (r + g) * np.float32(0.5) - b
    return float(math.hypot(float(rg.std()), float(yb.std()))
                 + 0.3 * math.hypot(float(rg.mean()), float(yb.mean())))


def colourfulness_goodness(m: float) -> float:
    return _clip01(m / COLOURFUL_FULL)


# --- compression -----------------------------------------------------------

def blockiness(y: np.ndarray, period: int = 8) -> float | None:
    """Ratio of mean |step| across block boundaries to mean |step| inside blocks.

    `y` must be on the codec's grid: full resolution (period 8), or a JPEG
    decoded at 1/2 scale (period 4). None when there is too little to measure.
    """
    if period < 4 or min(y.shape) < 4 * period:
        return None

    def along(a: np.ndarray) -> tuple[float, float]:
        steps = np.abs(np.diff(a, axis=1))           # step k sits between columns k and k+1
        n = steps.shape[1] - steps.shape[1] % period
        cols = steps[:, :n].reshape(a.shape[0], -1, period).mean(axis=(0, 1))
        # cols[period-1] is the boundary step; its neighbours are within-block steps.
        inner = np.delete(cols, period - 1)
        return float(cols[period - 1]), float(inner.mean())

    b1, i1 = along(y)
    b2, i2 = along(y.T)
    inner = i1 + i2
    if inner <= 1e-6:
        return None
    return (b1 + b2) / inner


def compression_goodness(ratio: float) -> float:
    return _clip01(math.exp(-max(0.0, ratio - BLOCK_FREE) / BLOCK_SCALE))


# IJG (libjpeg) Annex K luminance table at quality 50; encoders scale it.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64)
JPEG_Q_FULL = 90.0


def jpeg_quality(quantization: Mapping[int, Any] | None) -> float | None:
    """Encoder quality 1..100 implied by a JPEG's luminance table, IJG scaling assumed."""
    if not quantization or 0 not in quantization:
        return None
    table = np.asarray(list(quantization[0]), dtype=np.float64)
    if table.size != 64:
        return None
    scale = 100.0 * table.sum() / _IJG_LUMA.sum()
    q = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return round(float(min(100.0, max(1.0, q))), 1)


def jpeg_quality_goodness(q: float) -> float:
    short = min(1.0, max(0.0, (JPEG_Q_FULL - q) / (JPEG_Q_FULL - 5.0)))
    return 1.0 - short ** 1.5


# --- resolution ------------------------------------------------------------

def resolution_goodness(width: int, height: int) -> float:
    mp = width * height / 1e6
    if mp <= MP_NONE:
        return 0.0
    return _clip01(math.log(mp / MP_NONE) / math.log(MP_FULL / MP_NONE))
