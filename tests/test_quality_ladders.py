"""Degradation ladders: from a real, sharp image, each rung worse than the last.

The local quality score must fall strictly at every rung of every ladder
(blur, noise, JPEG quality 90 -> 10, under- and over-exposure), and so must
the measure the degradation targets. Ladders are built at the working size
the stage measures at (the source reduced by the largest whole factor that
keeps its long edge >= work_edge), so sigma values are in working pixels;
both the default 512 and 1024 are run.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from alice.pipeline.quality.config import QualityConfig
from alice.pipeline.quality.technical import TechnicalResult, assess_array, assess_image
from tests.corpus_paths import CORPUS

SHARP = ["camera-nikon-gps.jpg", "comfyui-flux-dev.png", "c2pa-camera-capture.jpg", "c2pa-amazon-titan.png",
         "jpeg-named-png.png", "comfyui-kontext.webp"]
# Exposure ladders start from originals the measure itself rates well exposed.
# High-key originals (white gutters, pale backgrounds, a sunlit scene with
# clipped walls) do read better when darkened a little, which is the measure
# working, not failing; they are excluded from the under-exposure ladder.
WELL_EXPOSED = ["comfyui-flux-dev.png", "c2pa-camera-capture.jpg", "c2pa-amazon-titan.png", "jpeg-named-png.png"]

BLUR_SIGMAS = (1.0, 1.5, 2.5, 4.0, 6.0)
NOISE_SIGMAS = (3, 6, 12, 20, 32)              # per channel, 0..255 units
JPEG_QUALITIES = (90, 70, 50, 30, 20, 10)
EV_STEPS = (0.5, 1.0, 1.5, 2.0, 3.0)

# A Q75 JPEG: measured at its native size (work_edge 1024) its own block
# grid shows, and what the ladders add (noise, re-encoding) partly masks it,
# so the score can rise. Reduced (work_edge 512) the grid is gone.
OWN_ARTEFACTS = {"jpeg-named-png.png"}

_cache: dict[tuple[str, int], Image.Image] = {}


@pytest.fixture(params=[512, 1024], ids=["edge512", "edge1024"])
def cfg(request: pytest.FixtureRequest) -> QualityConfig:
    return QualityConfig(work_edge=request.param)


def source(name: str, cfg: QualityConfig) -> Image.Image:
    path = CORPUS / name
    key = (name, cfg.work_edge)
    if key not in _cache:
        img = Image.open(path).convert("RGB")
        k = max(1, max(img.size) // cfg.work_edge)
        if k == 1 and name in OWN_ARTEFACTS:
            pytest.skip(f"{name} at native size carries its own JPEG blocking")
        _cache[key] = img.reduce(k) if k > 1 else img
    return _cache[key]


def _linear(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64) / 255.0
    return np.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055) ** 2.4)


def _encoded(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    a = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.round(a * 255.0).astype(np.uint8)


def exposed(img: Image.Image, ev: float) -> np.ndarray:
    """The image as if shot `ev` stops brighter (negative: darker), in linear light."""
    return _encoded(_linear(np.asarray(img)) * 2.0 ** ev)


def assert_strictly_falling(results: list[TechnicalResult], label: str) -> None:
    scores = [r.score for r in results]
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), f"{label}: scores not strictly falling: {scores}"


def rising(values: list[float]) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


@pytest.mark.parametrize("name", SHARP)
def test_blur_ladder(name: str, cfg: QualityConfig) -> None:
    img = source(name, cfg)
    rungs = [np.asarray(img)] + [np.asarray(img.filter(ImageFilter.GaussianBlur(s))) for s in BLUR_SIGMAS]
    results = [assess_array(r, cfg=cfg) for r in rungs]
    assert_strictly_falling(results, f"{name} blur")
    assert rising([r.raw["blur"] for r in results])
    assert results[-1].stars == 1


@pytest.mark.parametrize("name", SHARP)
def test_noise_ladder(name: str, cfg: QualityConfig) -> None:
    img = np.asarray(source(name, cfg))
    rng = np.random.default_rng(7)
    rungs = [img] + [np.clip(img + rng.normal(0.0, s, img.shape), 0, 255).astype(np.uint8) for s in NOISE_SIGMAS]
    results = [assess_array(r, cfg=cfg) for r in rungs]
    assert_strictly_falling(results, f"{name} noise")
    assert rising([r.raw["noise_sigma"] for r in results])
    # the estimate is calibrated: at sigma 12 per channel, luma noise is ~0.75 x 12
    assert 5.0 / 255 < results[3].raw["noise_sigma"] < 11.0 / 255


@pytest.mark.parametrize("name", SHARP)
def test_jpeg_ladder_files(name: str, cfg: QualityConfig, tmp_path: Path) -> None:
    img = source(name, cfg)
    results = []
    for q in JPEG_QUALITIES:
        path = tmp_path / f"q{q}.jpg"
        img.save(path, "JPEG", quality=q)
        results.append(assess_image(path, cfg))
    assert_strictly_falling(results, f"{name} jpeg files")
    qualities = [r.raw["jpeg_quality"] for r in results]
    assert all(a > b for a, b in zip(qualities, qualities[1:], strict=False)), qualities
    assert abs(qualities[0] - 90) <= 1 and abs(qualities[2] - 50) <= 1


@pytest.mark.parametrize("name", ["comfyui-flux-dev.png", "c2pa-camera-capture.jpg", "c2pa-amazon-titan.png",
                                  "jpeg-named-png.png"])
def test_jpeg_ladder_pixels_only(name: str, cfg: QualityConfig) -> None:
    """Decoded JPEG pixels with no file to read tables from: blockiness alone must see it."""
    img = source(name, cfg)
    rungs = []
    for q in JPEG_QUALITIES:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q)
        rungs.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
    results = [assess_array(r, cfg=cfg) for r in rungs]
    assert_strictly_falling(results, f"{name} jpeg pixels")
    assert rising([r.raw["blockiness"] for r in results])


@pytest.mark.parametrize("name", WELL_EXPOSED)
def test_under_exposure_ladder(name: str, cfg: QualityConfig) -> None:
    img = source(name, cfg)
    results = [assess_array(np.asarray(img), cfg=cfg)] + [assess_array(exposed(img, -ev), cfg=cfg) for ev in EV_STEPS]
    assert_strictly_falling(results, f"{name} under-exposure")
    goodness = [r.measures["exposure"] for r in results]
    assert all(a > b for a, b in zip(goodness, goodness[1:], strict=False)), goodness
    means = [r.raw["exposure_mean"] for r in results]
    assert all(a > b for a, b in zip(means, means[1:], strict=False))


@pytest.mark.parametrize("name", SHARP)
def test_over_exposure_ladder(name: str, cfg: QualityConfig) -> None:
    img = source(name, cfg)
    results = [assess_array(np.asarray(img), cfg=cfg)] + [assess_array(exposed(img, ev), cfg=cfg) for ev in EV_STEPS]
    assert_strictly_falling(results, f"{name} over-exposure")
    goodness = [r.measures["exposure"] for r in results]
    assert all(a > b for a, b in zip(goodness, goodness[1:], strict=False)), goodness
    assert rising([r.raw["exposure_blown"] for r in results])


def test_sharp_originals_rate_well_and_ruined_ones_badly(cfg: QualityConfig) -> None:
    good = [assess_array(np.asarray(source(n, cfg)), cfg=cfg) for n in WELL_EXPOSED if n not in OWN_ARTEFACTS]
    assert all(r.stars >= 4 for r in good), [(r.score, r.stars) for r in good]
    flat = np.full((512, 512, 3), 128, dtype=np.uint8)
    black = np.zeros((512, 512, 3), dtype=np.uint8)
    assert assess_array(flat, cfg=cfg).stars == 1
    assert assess_array(black, cfg=cfg).stars == 1


# --- file ladders: damage done to a real render at its own size -------------
#
# What a user does: take a render, add grain, blur or re-save it, and file the
# result. The damage is done at native resolution and the file goes through
# assess_image, as the daemon's files do. (The ladders above work on the
# reduced working copy, which hides what reduction averages away: a k-fold
# reduction divides white noise by k, so grain on a 2048 px render once
# raised its score.)

RENDERS = ["comfyui-flux-dev.png", "c2pa-amazon-titan.png"]   # 1024 px AI renders, lossless, clean
FILE_NOISE = (0, 5, 10, 15, 25, 40)                           # sigma per channel, 0..255
FILE_BLUR = (0, 1, 2, 3, 5, 8)                                # Gaussian radius, native px
FILE_JPEG = (95, 75, 50, 30, 15, 5)
CLEAR_DROP = 20.0                                             # points from clean to the heaviest rung


def render(name: str) -> Image.Image:
    return Image.open(CORPUS / name).convert("RGB")


def noisy(img: Image.Image, sigma: float, seed: int = 11) -> Image.Image:
    if sigma == 0:
        return img
    a = np.asarray(img).astype(np.float32)
    return Image.fromarray(np.clip(a + np.random.default_rng(seed).normal(0.0, sigma, a.shape), 0, 255).astype(np.uint8))


def file_scores(images: list[Image.Image], folder: Path, fmt: str = "PNG", **opts) -> list[float]:
    scores = []
    for i, img in enumerate(images):
        path = folder / f"rung{i}.{fmt.lower()}"
        img.save(path, fmt, **opts)
        scores.append(assess_image(path).score)
    return scores


def assert_clear_fall(scores: list[float], clean: float, label: str) -> None:
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), f"{label}: not strictly falling: {scores}"
    assert clean - scores[-1] >= CLEAR_DROP, f"{label}: clean {clean} to heaviest {scores[-1]} is not a clear fall"


@pytest.mark.parametrize("name", RENDERS)
def test_noise_on_a_render_file_lowers_its_score(name: str, tmp_path: Path) -> None:
    img = render(name)
    scores = file_scores([noisy(img, s) for s in FILE_NOISE], tmp_path, compress_level=1)
    assert_clear_fall(scores, scores[0], f"{name} noise {FILE_NOISE}")


@pytest.mark.parametrize("name", RENDERS)
def test_blur_on_a_render_file_lowers_its_score(name: str, tmp_path: Path) -> None:
    img = render(name)
    rungs = [img.filter(ImageFilter.GaussianBlur(r)) if r else img for r in FILE_BLUR]
    scores = file_scores(rungs, tmp_path, compress_level=1)
    assert_clear_fall(scores, scores[0], f"{name} blur {FILE_BLUR}")


@pytest.mark.parametrize("name", RENDERS)
def test_jpeg_damage_to_a_render_lowers_its_score(name: str, tmp_path: Path) -> None:
    img = render(name)
    clean = assess_image(CORPUS / name).score
    scores = []
    for q in FILE_JPEG:
        path = tmp_path / f"q{q}.jpg"
        img.save(path, "JPEG", quality=q)
        scores.append(assess_image(path).score)
    assert scores[0] <= clean, f"{name}: Q95 ({scores[0]}) scores above the lossless original ({clean})"
    assert_clear_fall(scores, clean, f"{name} jpeg {FILE_JPEG}")


def test_noise_on_a_large_render_is_seen_at_its_own_size(tmp_path: Path) -> None:
    """A 2048 px render (the 1024 px one upscaled, as hires-fix renders are) is measured on a
    4x reduced copy; its grain must still count. Before noise was read on native pixels,
    sigma 5 raised this file's score and sigma 40 cost it 12 points."""
    img = render("comfyui-flux-dev.png").resize((2048, 2048), Image.Resampling.LANCZOS)
    scores = file_scores([noisy(img, s) for s in FILE_NOISE], tmp_path, compress_level=1)
    assert_clear_fall(scores, scores[0], f"2048 px noise {FILE_NOISE}")
