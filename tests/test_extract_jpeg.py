from __future__ import annotations

import struct

from alice.pipeline.extract import extract
from tests import fixturegen as fg


def test_exif_xmp_comment_and_size(tmp_path) -> None:
    exif = fg.make_exif({fg.MAKE: "Canon"}, {fg.DATETIME_ORIGINAL: "2024:05:06 07:08:09"})
    meta = extract(fg.write(tmp_path, "a.jpg", fg.make_jpeg(exif, xmp="<x:xmpmeta/>", comment="hello", size=(33, 17))))
    assert meta.exif == {"Make": "Canon", "DateTimeOriginal": "2024:05:06 07:08:09"}
    assert meta.xmp == "<x:xmpmeta/>"
    assert meta.text == {"comment": "hello"}
    assert (meta.width, meta.height) == (33, 17)
    assert meta.error is None and meta.warnings == []


def test_segment_running_past_eof_is_a_truncation_error(tmp_path) -> None:
    data = fg.make_jpeg(fg.make_exif({fg.MAKE: "x" * 200}))
    meta = extract(fg.write(tmp_path, "cut.jpg", data[:60]))
    assert meta.error == "truncated JPEG: segment APP1 runs past end of file"


def test_missing_end_marker_is_only_a_warning(tmp_path) -> None:
    data = fg.make_jpeg(fg.make_exif({fg.MAKE: "Nikon"}))
    meta = extract(fg.write(tmp_path, "noeoi.jpg", data[:-2]))
    assert meta.exif["Make"] == "Nikon"
    assert meta.error is None
    assert any("end-of-image" in w for w in meta.warnings)


def test_junk_between_segments_stops_cleanly(tmp_path) -> None:
    data = fg.make_jpeg()
    first_end = 4 + struct.unpack(">H", data[4:6])[0]        # after the APP0 segment
    meta = extract(fg.write(tmp_path, "junk.jpg", data[:first_end] + b"\x00\x01\x02" + data[first_end:]))
    assert any("junk byte" in w for w in meta.warnings)


def test_oversized_length_field_does_not_read_past_file(tmp_path) -> None:
    data = b"\xff\xd8\xff\xe1" + struct.pack(">H", 65535) + b"Exif\x00\x00"
    meta = extract(fg.write(tmp_path, "lie.jpg", data))
    assert meta.error and "APP1" in meta.error


def test_xmp_inside_exif_tag_700_moves_to_meta_xmp(tmp_path) -> None:
    from alice.pipeline.extract import extract as run

    exif = fg.make_exif({0x02BC: b"<x:xmpmeta>in exif</x:xmpmeta>", fg.MAKE: "x"})
    meta = run(fg.write(tmp_path, "x.jpg", fg.make_jpeg(exif)))
    assert meta.xmp == "<x:xmpmeta>in exif</x:xmpmeta>"
    assert "XMP" not in meta.exif
