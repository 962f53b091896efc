"""Technical image measures: pixels in, raw figures and 0-1 goodness out.

Every measure runs on the downscaled working copy (at most
`QualityConfig.max_edge` px on the long edge) as float32 luma/RGB in 0..1,
except compression (which needs the codec's own block grid, so it runs on a
full-resolution crop) and resolution (which needs the original size).
Costs are a handful of whole-array numpy passes, no convolutions beyond 3 taps.

Raw measure -> goodness curve (1 = fine, 0 = ruined). All curves are monotone
in the raw figure, so a worse image can never score better on that measure:

sharpness      Crete-Roffet "perceptual blur" B in 0..1 (re-blur the image with
               a 9-tap box filter; a sharp image loses much of its neighbour
               differences, a blurred one loses little). Contrast-invariant.
               goodness = clip((B_bad - B) / (B_bad - B_good)),
               B_good = 0.20, B_bad = 0.75.
noise          sigma of Gaussian noise in 0..1 units: Immerkaer's 3x3 residual
               averaged per 16x16 block, the 10th percentile over blocks that
               are not clipped (flat areas hold only noise; clipped areas hide it).
               goodness = 1 for sigma <= 1/255, then exp(-(sigma - 1/255) / (6/255)).
exposure       m = mean luma; lo/hi = fraction of pixels at <= 1/255 or >= 254/255
               (crushed shadows, blown highlights); plus "darkness" and
               "brightness", the mean distance below 0.1 / above 0.9 of the
               pixels that are there (soft clipping, so a small EV step always
               registers). goodness = g_mean * g_clip where
               g_mean = exp(-(max(0, |m - 0.46| - 0.08) / 0.18)^2)
               g_clip = exp(-(3*(lo + hi) + 4*(darkness + brightness))).
contrast       RMS contrast: std of luma. goodness = clip(std / 0.20)
               (0.20 and above is a full tonal range).
colourfulness  Hasler & Suesstrunk M on 0..255 RGB (0 grey, 33 moderately,
               59 quite colourful). goodness = clip(M / 30), low weight: a
               deliberate black-and-white image loses at most that weight.
compression    JPEG blockiness: mean |step| across 8x8 block boundaries over mean
               |step| inside blocks, on a full-resolution crop (1.0 = no grid).
               goodness = exp(-max(0, R - 1.02) / 0.35).
resolution     megapixels of the ORIGINAL file. goodness = 0 at <= 0.1 MP,
               1 at >= 2 MP, linear in log(MP) between.
"""
from __future__ import annotations

import math

import numpy as np

# Rec. 709 luma weights on the encoded values: cheap and close enough to
# perceived brightness for ranking.
_LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

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

# Smallest working image the measures mean anything on.
MIN_SIDE = 16


def luma(rgb: np.ndarray) -> np.ndarray:
    """float32 luma in 0..1 from an HxWx3 uint8 (or 0..1 float) RGB array."""
    y = rgb.astype(np.float32, copy=False) @ _LUMA
    return y / 255.0 if rgb.dtype == np.uint8 else y


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


# --- sharpness -------------------------------------------------------------

def blur_index(y: np.ndarray, noise: float = 0.0, tile: int = 64) -> float:
    """Crete-Roffet blur in 0..1 of the image's detailed half: 0 = sharp, 1 = flat/blurred.

    The 9-tap box re-blur B(i) = mean(F[i-4..i+4]) needs no filtering pass:
    B(i) - B(i-1) = (F[i+4] - F[i-5]) / 9. The figure is taken per tile and
    the median over the tiles with above-median detail is returned, so a
    sharp subject in front of a deliberately soft background reads as sharp.
    """
    h, w = y.shape
    if h < 10 or w < 10:
        return 1.0
    tile = max(10, min(tile, h // 2, w // 2)) if min(h, w) >= 20 else min(h, w)
    core = CORING * noise

    def sums(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Steps along axis 0 of `a`, summed per tile (rows of steps cover a[5:n-4]).
        n = a.shape[0]
        d_f = np.abs(a[5:n - 4] - a[4:n - 5])
        if core > 0.0:
            d_f = np.maximum(d_f - core, 0.0)
        v = np.maximum(d_f - np.abs(a[9:] - a[:n - 9]) * (1.0 / 9.0), 0.0)
        th, tw = d_f.shape[0] // tile, d_f.shape[1] // tile
        shape = (th, tile, tw, tile)
        crop = (slice(0, th * tile), slice(0, tw * tile))
        return (d_f[crop].reshape(shape).sum(axis=(1, 3), dtype=np.float64),
                v[crop].reshape(shape).sum(axis=(1, 3), dtype=np.float64))

    f1, v1 = sums(y)
    f2, v2 = sums(y.T)
    th, tw = min(f1.shape[0], f2.shape[1]), min(f1.shape[1], f2.shape[0])
    f1, v1 = f1[:th, :tw], v1[:th, :tw]
    f2, v2 = f2.T[:th, :tw], v2.T[:th, :tw]
    activity = f1 + f2
    if th * tw == 0 or float(activity.max()) <= 1e-9:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.maximum(np.where(f1 > 0, (f1 - v1) / f1, 1.0), np.where(f2 > 0, (f2 - v2) / f2, 1.0))
    detailed = b[activity >= np.median(activity)]
    return float(np.percentile(detailed, 25))


def sharpness_goodness(blur: float) -> float:
    return _clip01((BLUR_BAD - blur) / (BLUR_BAD - BLUR_GOOD)) ** 2


# --- noise -----------------------------------------------------------------

def noise_sigma(y: np.ndarray, block: int = 8, percentile: float = 2.0) -> float:
    """Estimated sigma of additive noise (0..1 units), from the flattest blocks.

    Immerkaer's mask [[1,-2,1],[-2,4,-2],[1,-2,1]] is the outer product of
    [1,-2,1] with itself, so it is two second differences; it cancels any
    locally linear ramp, leaving noise plus curvature. For Gaussian noise
    E|r| = 6 * sigma * sqrt(2/pi).
    """
    h, w = y.shape
    if h < block + 2 or w < block + 2:
        return 0.0
    d2 = y[:, :-2] - 2.0 * y[:, 1:-1] + y[:, 2:]
    r = np.abs(d2[:-2] - 2.0 * d2[1:-1] + d2[2:])
    core = y[1:-1, 1:-1]
    bh, bw = r.shape[0] // block, r.shape[1] // block
    r = r[:bh * block, :bw * block].reshape(bh, block, bw, block).mean(axis=(1, 3))
    # Clipped blocks read as noise-free; leaving them in would let a blown
    # sky hide a noisy foreground.
    lo = core[:bh * block, :bw * block].reshape(bh, block, bw, block).min(axis=(1, 3))
    hi = core[:bh * block, :bw * block].reshape(bh, block, bw, block).max(axis=(1, 3))
    usable = r[(lo > 2.0 / 255) & (hi < 253.0 / 255)]
    if usable.size == 0:
        return 0.0
    return float(np.percentile(usable, percentile)) * math.sqrt(math.pi / 2.0) / 6.0


def noise_goodness(sigma: float) -> float:
    return _clip01(math.exp(-max(0.0, sigma - NOISE_FREE) / NOISE_SCALE))


# --- exposure --------------------------------------------------------------

def exposure_figures(y: np.ndarray) -> dict[str, float]:
    n = float(y.size)
    return {
        "mean": float(y.mean(dtype=np.float64)),
        "crushed": float(np.count_nonzero(y <= 1.0 / 255)) / n,
        "blown": float(np.count_nonzero(y >= 254.0 / 255)) / n,
        "darkness": float(np.maximum(0.1 - y, 0.0).sum(dtype=np.float64)) / n / 0.1,
        "brightness": float(np.maximum(y - 0.9, 0.0).sum(dtype=np.float64)) / n / 0.1,
    }


def exposure_goodness(fig: dict[str, float]) -> float:
    off = max(0.0, abs(fig["mean"] - MEAN_TARGET) - MEAN_TOLERANCE) / MEAN_WIDTH
    g_mean = math.exp(-off * off)
    clipped = (2.0 * fig["crushed"] + 3.0 * fig["blown"]
               + 2.0 * fig["darkness"] + 4.0 * fig["brightness"])
    g_clip = 1.0 / (1.0 + clipped) ** 2
    return _clip01(g_mean * g_clip)


# --- contrast and colour ----------------------------------------------------

def rms_contrast(y: np.ndarray) -> float:
    return float(y.std(dtype=np.float64))


def contrast_goodness(std: float) -> float:
    return _clip01(std / CONTRAST_FULL)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M on 0..255 values."""
    a = rgb.astype(np.float32, copy=False)
    if rgb.dtype != np.uint8:
        a = a * 255.0
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    return float(math.hypot(rg.std(dtype=np.float64), yb.std(dtype=np.float64))
                 + 0.3 * math.hypot(rg.mean(dtype=np.float64), yb.mean(dtype=np.float64)))


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


# --- resolution ------------------------------------------------------------

def resolution_goodness(width: int, height: int) -> float:
    mp = width * height / 1e6
    if mp <= MP_NONE:
        return 0.0
    return _clip01(math.log(mp / MP_NONE) / math.log(MP_FULL / MP_NONE))
