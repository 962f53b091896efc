from __future__ import annotations

import struct

import pytest

from alice.pipeline.extract.exif import decode_user_comment, parse_exif
from tests import fixturegen as fg

TEXT = "a cat, 猫\nSteps: 20, Seed: 1"


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le", "utf-8-unicode", "ascii-safe"])
@pytest.mark.parametrize("big_endian", [False, True])
def test_user_comment_any_byte_order_any_tiff_order(encoding: str, big_endian: bool) -> None:
    text = TEXT if encoding != "ascii-safe" else "a cat\nSteps: 20"
    raw = fg.user_comment(text, "ascii" if encoding == "ascii-safe" else encoding)
    warnings: list[str] = []
    exif = parse_exif(fg.make_exif({fg.MAKE: "x"}, {fg.USER_COMMENT: raw}, big_endian=big_endian), warnings)
    assert exif["UserComment"] == text
    assert warnings == []


def test_user_comment_without_header_and_with_bom() -> None:
    assert decode_user_comment(b'{"prompt": 1}') == '{"prompt": 1}'
    assert decode_user_comment(b"UNICODE\x00" + "\ufeffhi ✓".encode("utf-16-le")) == "hi ✓"
    assert decode_user_comment(b"\x00" * 8 + b"   ") is None
    assert decode_user_comment(b"UNICODE\x00" + "漢字かな交じり文".encode("utf-16-be")) == "漢字かな交じり文"
    assert decode_user_comment(b"UNICODE\x00" + "漢字かな交じり文".encode("utf-16-le")) == "漢字かな交じり文"


def test_exif_without_exif_header_and_ascii_tags() -> None:
    warnings: list[str] = []
    exif = parse_exif(fg.make_exif({fg.MAKE: "workflow:{}", fg.SOFTWARE: "Fooocus v2.5"}, prefix=False), warnings)
    assert exif == {"Make": "workflow:{}", "Software": "Fooocus v2.5"}


def test_offsets_past_the_end_are_warnings() -> None:
    block = bytearray(fg.make_exif({fg.IMAGE_DESCRIPTION: "a long description here"}))
    # Point the value offset far outside the block.
    index = block.index(struct.pack("<HH", fg.IMAGE_DESCRIPTION, 2))
    block[index + 8:index + 12] = struct.pack("<I", 10_000_000)
    warnings: list[str] = []
    assert parse_exif(bytes(block), warnings) == {}
    assert any("past the end" in w for w in warnings)


def test_self_referencing_exif_ifd_terminates() -> None:
    block = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x8769, 4, 1, 8) + b"\0" * 4
    warnings: list[str] = []
    assert parse_exif(block, warnings) == {}


def test_huge_entry_count_is_capped() -> None:
    block = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535) + b"\x00" * 64
    warnings: list[str] = []
    parse_exif(block, warnings)
    assert any("entries" in w for w in warnings)


@pytest.mark.parametrize("junk", [b"", b"Exif\x00\x00", b"Exif\x00\x00XX*\x00", b"\x00" * 40, b"II*\x00\xff\xff\xff\xff"])
def test_junk_never_raises(junk: bytes) -> None:
    warnings: list[str] = []
    assert parse_exif(junk, warnings) == {}
    assert warnings
