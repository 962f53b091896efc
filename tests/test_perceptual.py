"""The perceptual hash and the band index that finds hashes within a distance."""
from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from alice.daemon.catalog.similar import BANDS, bands, probe_keys
from alice.pipeline.perceptual import dhash_pixels, hamming, perceptual_hash, to_signed64
from tests.corpus_paths import CORPUS
from tests.rpc_env import picture


def test_edits_keep_the_hash_close_and_other_pictures_far(tmp_path: Path) -> None:
    base = picture(tmp_path / "a.png", 3)
    img = Image.open(base).convert("RGB")
    img.resize((300, 300)).save(tmp_path / "big.jpg", quality=70)
    img.point(lambda v: min(255, v + 12)).save(tmp_path / "bright.png")
    h = perceptual_hash(base)
    assert h is not None and -(2**63) <= h < 2**63
    assert hamming(h, perceptual_hash(tmp_path / "big.jpg")) <= 6
    assert hamming(h, perceptual_hash(tmp_path / "bright.png")) <= 4
    others = [perceptual_hash(picture(tmp_path / f"o{i}.png", i)) for i in range(10, 16)]
    assert min(hamming(h, o) for o in others) > 10


def test_unreadable_inputs_give_none(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp_path / "text.jpg").write_text("not an image")
    assert perceptual_hash(tmp_path / "bad.png") is None
    assert perceptual_hash(tmp_path / "text.jpg") is None
    assert perceptual_hash(tmp_path / "missing.png") is None
    # A PNG that claims 100,000 x 100,000 pixels is refused before decoding.
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = (100_000).to_bytes(4, "big") * 2
    (tmp_path / "bomb.png").write_bytes(bytes(data))
    assert perceptual_hash(tmp_path / "bomb.png") is None


def test_corpus_images_hash_and_others_do_not_raise() -> None:
    hashed = {p.name: perceptual_hash(p) for p in sorted(CORPUS.iterdir())}
    assert sum(v is not None for v in hashed.values()) >= 20
    assert hashed["bad-empty-file.png"] is None


def test_dhash_of_a_gradient() -> None:
    assert dhash_pixels([9 - x for _ in range(8) for x in range(9)]) == -1    # every left > right: all ones
    assert dhash_pixels([x for _ in range(8) for x in range(9)]) == 0


@given(st.integers(-(2**63), 2**63 - 1), st.lists(st.integers(0, 63), max_size=10, unique=True))
@settings(max_examples=200, deadline=None)
def test_band_probes_find_every_hash_within_the_distance(h: int, flips: list[int]) -> None:
    other = h
    for bit in flips:
        other ^= 1 << bit
    other = to_signed64(other)
    d = hamming(h, other)
    assert d == len(flips)
    assert set(bands(other)) & set(probe_keys(h, d)), "multi-index hashing would miss this match"
    assert len(bands(h)) == BANDS
