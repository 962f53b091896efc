from __future__ import annotations

import pytest

from alice.pipeline.extract import extract
from tests.corpus_paths import CORPUS

IPHONE = CORPUS / "camera-iphone.heic"


def test_iphone_heic_exif_xmp_and_primary_size_without_decoder() -> None:
    meta = extract(IPHONE)
    assert (meta.format, meta.media) == ("heic", "image")
    # Stored 4032x3024 with an irot (rotate 90) property: decoders show it portrait.
    assert (meta.width, meta.height) == (3024, 4032)
    assert meta.exif["Make"] == "Apple"
    assert meta.exif["DateTimeOriginal"].startswith("2022:")
    assert meta.xmp and "xmpmeta" in meta.xmp
    assert meta.error is None


@pytest.mark.parametrize("cut", [40, 200, 1000, 3000, 100_000])
def test_truncated_heic_never_raises(tmp_path, cut: int) -> None:
    path = tmp_path / "cut.heic"
    path.write_bytes(IPHONE.read_bytes()[:cut])
    meta = extract(path)
    assert meta.format == "heic"
    assert meta.error or meta.warnings or meta.exif


def test_meta_box_larger_than_cap_is_refused(tmp_path) -> None:
    ftyp = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    meta_box = (0x7FFFFFFF).to_bytes(4, "big") + b"meta"
    path = tmp_path / "big.heic"
    path.write_bytes(ftyp + meta_box + b"\x00" * 64)
    meta = extract(path)
    assert meta.warnings and "larger than" in meta.warnings[0]


def _encode(fmt: str, **kw) -> bytes:
    import io

    from PIL import Image

    if fmt == "HEIF":
        pillow_heif = pytest.importorskip("pillow_heif")
        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    try:
        Image.new("RGB", (48, 32), "red").save(buffer, fmt, **kw)
    except (KeyError, OSError, ValueError) as exc:
        pytest.skip(f"no {fmt} encoder here: {exc}")
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, expected", [("AVIF", "avif"), ("HEIF", "heic")])
def test_a1111_usercomment_in_avif_and_heic(tmp_path, fmt: str, expected: str) -> None:
    from alice.pipeline.inspect import inspect_file
    from tests import fixturegen as fg

    text = "a red square\nSteps: 12, Seed: 77, Version: v1.10.1"
    exif = fg.make_exif({fg.MAKE: "x"}, {fg.USER_COMMENT: fg.user_comment(text)})
    path = tmp_path / f"a.{expected}"
    path.write_bytes(_encode(fmt, exif=exif))
    info = inspect_file(path)
    assert info.format == expected and (info.width, info.height) == (48, 32)
    assert info.tool == "a1111" and info.generation.seed == 77
