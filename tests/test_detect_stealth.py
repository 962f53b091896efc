from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from alice.pipeline.detect import stealth, stealth_scan
from alice.pipeline.inspect import inspect_file
from tests import fixturegen as fg
from tests.corpus_paths import CORPUS

WORK = Path(tempfile.mkdtemp(prefix="alice-stealth-"))     # not tmp_path: hypothesis reruns one test body
atexit.register(shutil.rmtree, WORK, True)
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



def test_real_stealth_file() -> None:
    info = inspect_file(CORPUS / "a1111-stealth-pnginfo.png")
    assert info.tool == "a1111" and info.generation.prompt == "a circle"


# -- the first-rows scan (stealth_scan.py) agrees with the full decode -------------------------------


@pytest.mark.parametrize("rgb", [False, True])
@pytest.mark.parametrize("compressed", [False, True])
def test_tall_stealth_image_is_found_through_the_scan(tmp_path, rgb: bool, compressed: bool) -> None:
    path = fg.write(tmp_path, "tall.png", fg.stealth_png(A1111, compressed, rgb, size=(16, 200)))
    assert stealth_scan.scan_png(path) == stealth_scan.MAGIC
    info = inspect_file(path)
    assert info.tool == "a1111" and info.generation.seed == 5


def test_tall_plain_image_is_ruled_out_without_decoding(tmp_path, monkeypatch) -> None:
    path = fg.write(tmp_path, "plain.png", fg.make_png(size=(300, 400), mode="RGBA"))
    monkeypatch.setattr(stealth, "read_stealth", lambda image: pytest.fail("decoded the pixels"))
    assert inspect_file(path).tool is None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(colour=st.sampled_from([0, 2, 4, 6]), width=st.integers(1, 4), height=st.integers(120, 130),
       data=st.data(), magic=st.sampled_from([None, b"stealth_pnginfo", b"stealth_rgbcomp"]))
def test_scan_matches_the_full_decode_for_every_filter(colour, width, height, data, magic) -> None:
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    pixels = bytearray(data.draw(st.binary(min_size=width * height * channels, max_size=width * height * channels)))
    if magic is not None:
        bits = [int(b) for byte in magic for b in f"{byte:08b}"]
        alpha = magic.startswith(b"stealth_png")
        slots = [(y * width * channels + c) for y in range(height) for c in
                 ([channels - 1] if alpha else ([0] if channels < 3 else [0, 1, 2]))][:len(bits)]
        for slot, bit in zip(slots, bits, strict=False):
            pixels[slot] = (pixels[slot] & 0xFE) | bit
    rows = [bytes(pixels[y * width * channels:(y + 1) * width * channels]) for y in range(height)]
    filters = data.draw(st.lists(st.integers(0, 4), min_size=height, max_size=height))
    path = WORK / "f.png"
    path.write_bytes(fg.filtered_png(rows, width, colour, filters))
    # Compared with the magic check of the full decode (read_stealth would also parse the payload).
    assert (stealth_scan.scan_png(path) == stealth_scan.MAGIC) == _has_magic(path)


def _has_magic(path: Path) -> bool:
    """The full decode's answer, computed independently with numpy."""
    with Image.open(path) as image:
        planes = []
        if image.mode in ("RGBA", "LA"):
            planes.append((np.asarray(image.getchannel("A"))[:, :, None], (b"stealth_pnginfo", b"stealth_pngcomp")))
        planes.append((np.asarray(image.convert("RGB")), (b"stealth_rgbinfo", b"stealth_rgbcomp")))
    for plane, magics in planes:
        bits = (plane & 1).transpose(1, 0, 2).reshape(-1)[:120]
        if np.packbits(bits).tobytes() in magics:
            return True
    return False
