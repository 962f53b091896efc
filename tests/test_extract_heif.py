from __future__ import annotations

from pathlib import Path

import pytest

from alice.pipeline.extract import extract

IPHONE = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "files" / "camera-iphone.heic"
needs_corpus = pytest.mark.skipif(not IPHONE.exists(), reason="shared corpus not present")


@needs_corpus
def test_iphone_heic_exif_xmp_and_primary_size_without_decoder() -> None:
    meta = extract(IPHONE)
    assert (meta.format, meta.media) == ("heic", "image")
    assert (meta.width, meta.height) == (4032, 3024)
    assert meta.exif["Make"] == "Apple"
    assert meta.exif["DateTimeOriginal"].startswith("2022:")
    assert meta.xmp and "xmpmeta" in meta.xmp
    assert meta.error is None


@needs_corpus
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
