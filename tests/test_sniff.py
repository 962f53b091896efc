from __future__ import annotations

import struct

import pytest

from alice.pipeline.sniff import sniff
from tests import fixturegen as fg


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00" * 16


@pytest.mark.parametrize("head, expected", [
    (fg.make_png()[:64], ("png", "image")),
    (fg.make_jpeg()[:64], ("jpeg", "image")),
    (fg.make_webp()[:64], ("webp", "image")),
    (fg.make_webp(animated=True)[:64], ("webp", "video")),
    (fg.make_gif()[:64], ("gif", "image")),
    (_ftyp(b"heic", b"mif1", b"heic"), ("heic", "image")),
    (_ftyp(b"mif1", b"mif1", b"heic"), ("heic", "image")),
    (_ftyp(b"avif", b"mif1", b"avif"), ("avif", "image")),
    (_ftyp(b"avis", b"avif", b"msf1"), ("avif", "video")),
    (_ftyp(b"isom", b"isom", b"avc1"), ("mp4", "video")),
    (_ftyp(b"qt  ", b"qt  "), ("mov", "video")),
    (_ftyp(b"M4V ", b"M4V "), ("m4v", "video")),
    (_ftyp(b"M4A ", b"M4A "), ("m4a", "audio")),
    (b"II*\x00\x08\x00\x00\x00" + b"\x00" * 8, ("tiff", "image")),
    (b"MM\x00*\x00\x00\x00\x08" + b"\x00" * 8, ("tiff", "image")),
    (b"BM" + b"\x00" * 4 + b"\x00\x00\x00\x00" + b"\x36\x00\x00\x00", ("bmp", "image")),
    (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\x82\x84webm", ("webm", "video")),
    (b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroska", ("mkv", "video")),
    (b"RIFF\x00\x00\x00\x00AVI LIST", ("avi", "video")),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", ("wav", "audio")),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", ("mp3", "audio")),
    (b"fLaC\x00\x00\x00\x22", ("flac", "audio")),
    (b"OggS\x00\x02", ("ogg", "audio")),
])
def test_sniffs_magic_bytes(head: bytes, expected: tuple[str, str]) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize("head", [b"", b"\x00", b"hello world, plain text", b"RIFF", b"\x89PN", b"{\"json\": 1}"])
def test_unknown_or_short_heads_are_unknown(head: bytes) -> None:
    assert sniff(head) == ("unknown", "other")


def test_extension_is_irrelevant(tmp_path) -> None:
    from alice.pipeline.inspect import inspect_file

    png = fg.write(tmp_path, "really-a-png.jpeg", fg.make_png())
    jpeg = fg.write(tmp_path, "really-a-jpeg.png", fg.make_jpeg())
    assert inspect_file(png).format == "png"
    assert inspect_file(jpeg).format == "jpeg"
