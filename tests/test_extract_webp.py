from __future__ import annotations

import io

from PIL import Image

from alice.pipeline.extract import extract
from tests import fixturegen as fg

EXIF = fg.make_exif({fg.MAKE: "workflow:{}", fg.MODEL: "prompt:{}"})


def test_exif_with_and_without_header_and_xmp(tmp_path) -> None:
    with_header = extract(fg.write(tmp_path, "a.webp", fg.make_webp(EXIF, xmp="<x/>", size=(30, 20))))
    without = extract(fg.write(tmp_path, "b.webp", fg.make_webp(EXIF[6:])))
    assert with_header.exif == without.exif == {"Make": "workflow:{}", "Model": "prompt:{}"}
    assert with_header.xmp == "<x/>"
    assert (with_header.width, with_header.height) == (30, 20)
    assert with_header.media == "image" and not with_header.animated


def test_animated_flag_makes_video(tmp_path) -> None:
    meta = extract(fg.write(tmp_path, "anim.webp", fg.make_webp(EXIF, animated=True)))
    assert meta.animated and meta.media == "video"


def test_simple_lossy_and_lossless_sizes(tmp_path) -> None:
    for lossless in (False, True):
        buffer = io.BytesIO()
        Image.new("RGB", (37, 23)).save(buffer, "WEBP", lossless=lossless)
        meta = extract(fg.write(tmp_path, f"s{lossless}.webp", buffer.getvalue()))
        assert (meta.width, meta.height) == (37, 23)
        assert meta.error is None


def test_truncated_chunk_is_an_error(tmp_path) -> None:
    data = fg.make_webp(EXIF)
    meta = extract(fg.write(tmp_path, "cut.webp", data[: len(data) - 20]))
    assert meta.error and meta.error.startswith("truncated WebP: chunk EXIF")
