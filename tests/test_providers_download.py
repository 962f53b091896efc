"""Saving outputs (atomic, bounded, never overwriting) and preparing images for vision APIs."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from alice.providers.download import fetch, output_name
from alice.providers.errors import DownloadError, ProviderMalformedResponse, ProviderRequestError
from alice.providers.results import OutputFile
from alice.providers.vision import MAX_EDGE, MAX_SEND_BYTES, parse_rating, prepare_image
from tests.corpus_paths import CORPUS
from tests.fakes.fal import FakeFal
from tests.fakes.server import png_bytes


@pytest.fixture
def cdn():
    with FakeFal() as server:
        yield server


def test_output_names_are_safe_with_a_fitting_extension() -> None:
    assert output_name(OutputFile("image/png", data=b"x", filename="shot.jpeg")) == "shot.png"
    assert output_name(OutputFile("video/mp4", data=b"v", filename="../../etc/passwd")) == "etc_passwd.mp4"
    assert output_name(OutputFile("image/png", data=b"x"), stem="fal-3-1") == "fal-3-1.png"
    assert output_name(OutputFile("image/png", url="http://cdn/a/render.png?sig=x")) == "render.png"


@pytest.mark.anyio
async def test_bytes_outputs_are_written_whole() -> None:
    out = io.BytesIO()
    assert await fetch(OutputFile("image/png", data=png_bytes()), out) == len(png_bytes())
    assert out.getvalue() == png_bytes()


@pytest.mark.anyio
async def test_url_download_streams_into_the_given_file(cdn: FakeFal) -> None:
    url = cdn.add_file("render.png", png_bytes(), "image/png")
    out = io.BytesIO()
    await fetch(OutputFile("image/png", url=url + "?token=signed-secret"), out)
    assert out.getvalue() == png_bytes()


@pytest.mark.anyio
async def test_failed_downloads_raise_without_echoing_secrets(cdn: FakeFal) -> None:
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        await fetch(OutputFile("image/png", url=f"{cdn.url}/files/missing.png?sig=top-secret"), io.BytesIO())
    assert "top-secret" not in str(info.value)          # signed query strings are not echoed
    big = cdn.add_file("big.bin", b"x" * 5000, "application/octet-stream")
    with pytest.raises(DownloadError, match="over the 1000"):
        await fetch(OutputFile("application/octet-stream", url=big), io.BytesIO(), max_bytes=1000)
    with pytest.raises(DownloadError, match="over the 10 byte limit"):
        await fetch(OutputFile("image/png", data=b"y" * 11), io.BytesIO(), max_bytes=10)
    with pytest.raises(DownloadError, match="non-http"):
        await fetch(OutputFile("image/png", url="file:///etc/passwd"), io.BytesIO())
    with pytest.raises(DownloadError, match="could not be|failed"):
        await fetch(OutputFile("image/png", url="http://127.0.0.1:9/x.png"), io.BytesIO(), timeout_s=1)


def test_output_file_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError):
        OutputFile("image/png")
    with pytest.raises(ValueError):
        OutputFile("image/png", url="http://x", data=b"x")


def test_every_corpus_file_is_prepared_or_refused_cleanly() -> None:
    files = sorted(p for p in CORPUS.iterdir() if p.is_file())
    prepared = 0
    for path in files:
        try:
            blob, media, w, h = prepare_image("test", path)
        except ProviderRequestError:
            continue
        prepared += 1
        assert media in ("image/png", "image/jpeg", "image/gif", "image/webp")
        assert len(blob) <= MAX_SEND_BYTES and max(w, h) <= MAX_EDGE
    assert prepared >= len(files) // 2


def test_decompression_bomb_is_refused() -> None:
    buf = io.BytesIO()
    Image.new("1", (12000, 12000)).save(buf, "PNG")     # 144 MP, a few KB on disk
    with pytest.raises(ProviderRequestError, match="too large|Decompression"):
        prepare_image("test", buf.getvalue())


@pytest.mark.parametrize("text, expected", [
    ('{"score": 10, "defects": ["a"], "tags": ["B"]}', 10),
    ('```json\n{"score": 55, "defects": [], "tags": []}\n```', 55),
    ('Rating: {"note": "first"} then {"score": 77, "defects": [], "tags": [], "summary": null}', 77),
])
def test_rating_found_in_wrappers(text: str, expected: int) -> None:
    assert parse_rating("t", text)["score"] == expected


@pytest.mark.parametrize("text", [
    '{"score": -1, "defects": [], "tags": []}',
    '{"score": 50, "tags": []}',
    '{"score": 50, "defects": [1], "tags": []}',
    '{"score": "50", "defects": [], "tags": []}',
    '```json\n{"score": 50, "defects": [], \n```',
])
def test_rating_schema_is_strict(text: str) -> None:
    with pytest.raises(ProviderMalformedResponse):
        parse_rating("t", text)
