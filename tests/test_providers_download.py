"""Saving outputs (atomic, bounded, never overwriting) and preparing images for vision APIs."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from alice.providers.download import download
from alice.providers.errors import DownloadError, ProviderMalformedResponse, ProviderRequestError
from alice.providers.results import OutputFile
from alice.providers.vision import MAX_EDGE, MAX_SEND_BYTES, parse_rating, prepare_image
from tests.fakes.fal import FakeFal
from tests.fakes.server import png_bytes

from tests.corpus_paths import CORPUS


@pytest.fixture
def cdn():
    with FakeFal() as server:
        yield server


def _visible(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.mark.anyio
async def test_bytes_output_gets_a_fitting_extension(tmp_path: Path) -> None:
    path = await download(OutputFile("image/png", data=png_bytes(), filename="shot.jpeg"), tmp_path)
    assert path.name == "shot.png" and path.read_bytes() == png_bytes()
    path = await download(OutputFile("video/mp4", data=b"v", filename="../../etc/passwd"), tmp_path)
    assert path.parent == tmp_path and path.name == "etc_passwd.mp4"


@pytest.mark.anyio
async def test_existing_files_are_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "out.png").write_bytes(b"precious")
    path = await download(OutputFile("image/png", data=png_bytes()), tmp_path, stem="out")
    assert path.name == "out-1.png" and (tmp_path / "out.png").read_bytes() == b"precious"


@pytest.mark.anyio
async def test_url_download_streams_to_a_temp_then_publishes(cdn: FakeFal, tmp_path: Path) -> None:
    url = cdn.add_file("render.png", png_bytes(), "image/png")
    path = await download(OutputFile("image/png", url=url + "?token=signed-secret"), tmp_path)
    assert _visible(tmp_path) == ["render.png"] and path.read_bytes() == png_bytes()


@pytest.mark.anyio
async def test_failed_downloads_leave_nothing_behind(cdn: FakeFal, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        await download(OutputFile("image/png", url=f"{cdn.url}/files/missing.png?sig=top-secret"), tmp_path)
    assert "top-secret" not in str(info.value)          # signed query strings are not echoed
    big = cdn.add_file("big.bin", b"x" * 5000, "application/octet-stream")
    with pytest.raises(DownloadError, match="over the 1000"):
        await download(OutputFile("application/octet-stream", url=big), tmp_path, max_bytes=1000)
    with pytest.raises(DownloadError, match="over the 10 byte limit"):
        await download(OutputFile("image/png", data=b"y" * 11), tmp_path, max_bytes=10)
    with pytest.raises(DownloadError, match="non-http"):
        await download(OutputFile("image/png", url="file:///etc/passwd"), tmp_path)
    with pytest.raises(DownloadError, match="could not be|failed"):
        await download(OutputFile("image/png", url="http://127.0.0.1:9/x.png"), tmp_path, timeout_s=1)
    assert _visible(tmp_path) == []


@pytest.mark.anyio
async def test_destination_must_exist(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="not an existing directory"):
        await download(OutputFile("image/png", data=b"x"), tmp_path / "nope")


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
