from __future__ import annotations

import json
from pathlib import Path

import pytest

from alice.pipeline.detect import stealth
from alice.pipeline.inspect import inspect_file
from tests import fixturegen as fg

A1111 = "a circle\nNegative prompt: a square\nSteps: 20, Sampler: Euler, Seed: 5, Version: v1.9.4"


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("rgb", [False, True])
def test_alpha_and_rgb_plain_and_gzip(tmp_path, compressed: bool, rgb: bool) -> None:
    info = inspect_file(fg.write(tmp_path, "s.png", fg.stealth_png(A1111, compressed, rgb)))
    assert info.tool == "a1111"
    assert info.generation.seed == 5 and info.generation.negative_prompt == "a square"
    assert info.evidence[0].startswith("stealth:stealth_")


def test_novelai_payload(tmp_path) -> None:
    record = {"Software": "NovelAI", "Description": "cat", "Comment": json.dumps({"seed": 8, "steps": 28})}
    info = inspect_file(fg.write(tmp_path, "n.png", fg.stealth_png(json.dumps(record), True, size=(80, 80))))
    assert info.tool == "novelai" and info.generation.seed == 8


def test_length_beyond_image_is_a_warning(tmp_path) -> None:
    data = fg.stealth_png("x" * 10, compressed=False, size=(64, 64))
    path = fg.write(tmp_path, "liar.png", data)
    # Rewrite the 32-bit length (bits 120..151, alpha column-major) to a huge value.
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path)).copy()
    alpha = pixels[:, :, 3].T.reshape(-1)
    alpha[120:152] = (alpha[120:152] & 0xFE) | 1
    pixels[:, :, 3] = alpha.reshape(64, 64).T
    Image.fromarray(pixels, "RGBA").save(path)
    info = inspect_file(path)
    assert info.tool is None
    assert any("does not fit" in w for w in info.warnings)


def test_images_above_the_pixel_cap_are_not_decoded(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(stealth, "MAX_PIXELS", 100)
    info = inspect_file(fg.write(tmp_path, "big.png", fg.stealth_png(A1111)))
    assert info.tool is None
    assert any("not checked" in w for w in info.warnings)


def test_jpeg_is_never_decoded(tmp_path) -> None:
    info = inspect_file(fg.write(tmp_path, "j.jpg", fg.make_jpeg()))
    assert info.tool is None and info.warnings == []


from tests.corpus_paths import CORPUS


def test_real_stealth_file() -> None:
    info = inspect_file(CORPUS / "a1111-stealth-pnginfo.png")
    assert info.tool == "a1111" and info.generation.prompt == "a circle"
