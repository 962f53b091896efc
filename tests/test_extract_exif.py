from __future__ import annotations

import struct
import subprocess
import sys
import time

import pytest

from alice.pipeline.extract import exif as exif_module
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


# -- read with exifread: what the adapter must keep doing ---------------------------------------
def _raw_ifd(entries: list[tuple[int, int, int, int]], tail: bytes = b"", big_endian: bool = False) -> bytes:
    """A bare TIFF block, IFD0 at 8 holding (tag, type, count, value-or-offset) entries exactly as given."""
    e = ">" if big_endian else "<"
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(e + "I", 8)
    table = struct.pack(e + "H", len(entries)) + b"".join(struct.pack(e + "HHII", *entry) for entry in entries)
    return head + table + b"\x00\x00\x00\x00" + tail


@pytest.mark.parametrize("typed_ascii", [False, True])
def test_plain_json_user_comment_in_ifd0(typed_ascii: bool) -> None:
    """ComfyUI third-party save nodes: IFD0 UserComment, no charset header (exifread names it 'Image UserComment')."""
    text = '{"prompt": "{\\"3\\": {\\"inputs\\": {\\"seed\\": 5}}}", "workflow": {"nodes": []}}'
    value = text if typed_ascii else fg.ascii_comment(text)
    warnings: list[str] = []
    exif = parse_exif(fg.make_exif({fg.USER_COMMENT: value, fg.SOFTWARE: "ComfyUI"}), warnings)
    assert exif == {"UserComment": text, "Software": "ComfyUI"}
    assert warnings == []


def test_user_comment_in_both_ifds_keeps_both() -> None:
    exif = parse_exif(fg.make_exif({fg.USER_COMMENT: fg.ascii_comment('{"prompt": {}}')},
                                   {fg.USER_COMMENT: fg.user_comment("a cat\nSteps: 3", "utf-16-le")}), [])
    assert exif["UserComment"] == "a cat\nSteps: 3"
    assert exif["IFD0UserComment"] == '{"prompt": {}}'


@pytest.mark.parametrize(("raw", "text"), [
    (b"JIS\x00\x00\x00\x00\x00" + "猫の絵".encode("shift_jis"), "猫の絵"),
    (b"\x00" * 8 + b"plain text", "plain text"),
    (b"ASCII\x00\x00\x00a cat\x00\x00", "a cat"),
    (b"UNICODE\x00" + b"\xfe\xff" + "ü 猫".encode("utf-16-be"), "ü 猫"),
])
def test_user_comment_charsets(raw: bytes, text: str) -> None:
    assert parse_exif(fg.make_exif(None, {fg.USER_COMMENT: raw}), []) == {"UserComment": text}


def test_long_civitai_comment_without_bom() -> None:
    """exifread keeps no values for 1000+ bytes: the adapter reads the bytes it located."""
    graph = '{"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}}}' * 40
    for codec in ("utf-16-be", "utf-16-le"):
        exif = parse_exif(fg.make_exif(None, {fg.USER_COMMENT: b"UNICODE\x00" + graph.encode(codec)}), [])
        assert exif["UserComment"] == graph


def test_text_tags_numbers_and_xp_tags() -> None:
    block = fg.make_exif({fg.MAKE: "Ideogram AI", fg.MODEL: "v3", fg.IMAGE_DESCRIPTION: "\x00\x00\x00\x001girl, rain",
                          fg.ARTIST: "3f2c…", 0x0100: 1024, 0x9C9C: "a comment ✓".encode("utf-16-le") + b"\x00\x00",
                          0x013B + 1: "ignored", 0x9C9B: "t".encode("utf-16-le")},
                         {fg.DATETIME_ORIGINAL: "2025:01:02 03:04:05", 0x9011: "+02:00", 0xA002: 832}, big_endian=True)
    warnings: list[str] = []
    assert parse_exif(block, warnings) == {
        "Make": "Ideogram AI", "Model": "v3", "ImageDescription": "1girl, rain", "Artist": "3f2c…",
        "ImageWidth": 1024, "XPComment": "a comment ✓", "XPTitle": "t",
        "DateTimeOriginal": "2025:01:02 03:04:05", "OffsetTimeOriginal": "+02:00", "PixelXDimension": 832}
    assert warnings == []


def test_latin1_text_and_no_exifread_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    block = _raw_ifd([(fg.MAKE, 2, 8, 26)], tail=b"Ca\xf1on\x00\x00\x00")
    assert parse_exif(block, []) == {"Make": "Cañon"}
    assert not [r for r in caplog.records if r.name.startswith("exifread") and r.levelno >= 30]


def test_maker_note_of_any_count_is_not_read() -> None:
    """exifread reads a tag named MakerNote value by value whatever its count (50M: 36 s)."""
    block = fg.make_exif({fg.MAKE: "x"}, {0x927C: b"abcd1234", fg.DATETIME_ORIGINAL: "2025:01:02 03:04:05"})
    index = block.index(struct.pack("<HH", 0x927C, 7))
    block = block[:index + 4] + struct.pack("<I", 0xFFFFFFF0) + block[index + 8:]
    started = time.perf_counter()
    exif = parse_exif(block, [])
    assert time.perf_counter() - started < 1
    assert exif == {"Make": "x", "DateTimeOriginal": "2025:01:02 03:04:05"}


def test_read_budget_ends_a_hostile_ifd() -> None:
    """60,000 entries of 999 SHORTs each, all at the same bytes: minutes of exifread without the budget."""
    entries = [(0x0200 + i % 50, 3, 999, 0) for i in range(60_000)]      # tags alice does not read
    entries[0] = (fg.MAKE, 2, 4, int.from_bytes(b"abc\x00", "little"))
    block = _raw_ifd(entries)
    warnings: list[str] = []
    started = time.perf_counter()
    exif = parse_exif(block, warnings)
    assert time.perf_counter() - started < 2
    assert exif.get("Make") == "abc"
    assert any("gave up after" in w for w in warnings)


def test_damaged_entry_count_ends_that_ifd_only() -> None:
    block = bytearray(fg.make_exif({fg.MAKE: "x"}, {fg.DATETIME_ORIGINAL: "2025:01:02 03:04:05"}))
    block[6 + 8:6 + 10] = struct.pack("<H", 60_000)       # IFD0 now claims 60,000 entries
    warnings: list[str] = []
    exif = parse_exif(bytes(block), warnings)
    assert exif.get("Make") == "x"
    assert any("60000 entries" in w for w in warnings)


@pytest.mark.parametrize("pointer", [0x8825, 0xA005, 0x8769, 0x014A])
def test_sub_ifd_loops_terminate(pointer: int) -> None:
    """GPS, Interop, Exif and SubIFDs pointers aimed back at IFD0: nothing is followed twice."""
    block = _raw_ifd([(fg.MAKE, 2, 2, ord("x")), (pointer, 4, 1, 8)])
    assert parse_exif(block, []) == {"Make": "x"}


def test_value_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exif_module, "TEXT_CAP", 1000)
    warnings: list[str] = []
    exif = parse_exif(fg.make_exif({fg.USER_COMMENT: b"x" * 5000, fg.MAKE: "y" * 3000}), warnings)
    assert (len(exif["UserComment"]), len(exif["Make"])) == (1000, 1000)
    assert sum("cut to 1000" in w for w in warnings) == 2


def test_claimed_50_mb_value_is_skipped() -> None:
    block = _raw_ifd([(fg.USER_COMMENT, 7, 50 * 1024 * 1024, 26), (fg.MAKE, 2, 50 * 1024 * 1024, 26)], b"x" * 64)
    warnings: list[str] = []
    assert parse_exif(block, warnings) == {}
    assert sum("past the end" in w for w in warnings) == 2


def test_exifread_is_imported_lazily() -> None:
    code = "import sys, alice.pipeline.inspect, alice.pipeline.extract; print('exifread' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
