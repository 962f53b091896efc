"""Damaged images never escape identify() or check() as anything but UnreadableMedia."""
from __future__ import annotations

import io
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from alice.pipeline.identity import UnreadableMedia, identify
from alice.pipeline.integrity import check
from tests.corpus_paths import CORPUS


def _gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), (60 * i, 0, 0)) for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], comment=b"c", loop=0)
    return buf.getvalue()


def _webp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (16, 16), (1, 2, 3, 4)).save(buf, "WEBP", exif=b"Exif\0\0II*\0\x08\0\0\0\0\0")
    return buf.getvalue()


SEEDS = {
    "png": (CORPUS / "text-chunk-after-idat.png").read_bytes(),
    "jpeg": (CORPUS / "camera-canon-40d.jpg").read_bytes(),
    "gif": _gif(),
    "webp": _webp(),
}


@st.composite
def damaged(draw):
    fmt = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[fmt])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[pos:pos + draw(st.integers(1, 64))]
    return fmt, bytes(data)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged())
def test_damaged_images_fail_cleanly(tmp_path, case):
    fmt, data = case
    p = tmp_path / f"x.{fmt}"
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in (lambda: identify(p, fmt, "image"), lambda: check(p, fmt, "image")):
            try:
                step()
            except UnreadableMedia as exc:
                assert exc.reason and len(exc.reason) < 400


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_seeds_are_valid(tmp_path, fmt):
    p = tmp_path / f"x.{fmt}"
    p.write_bytes(SEEDS[fmt])
    identify(p, fmt, "image")
    check(p, fmt, "image")
