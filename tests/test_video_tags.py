"""Video container tags: MP4/MOV walked box by box, WebM/MKV through ffmpeg."""
from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alice.pipeline.extract.ffmpeg_tags import parse_ffmetadata
from alice.pipeline.extract.video import extract_video
from alice.pipeline.metadata import Metadata
from tests.corpus_paths import CORPUS

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
COMFY = json.dumps({"prompt": {"3": {"class_type": "KSampler", "inputs": {"seed": 42}}},
                    "workflow": {"nodes": []}})


def ffmpeg_video(path: Path, *args: str, codec: str = "libx264") -> Path:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "color=c=red:s=64x48:d=0.1", "-c:v", codec, "-pix_fmt", "yuv420p",
                    *args, str(path)], check=True, timeout=60)
    return path


def read(path: Path, fmt: str) -> Metadata:
    meta = Metadata(path=path, format=fmt, media="video")
    extract_video(path, meta)
    return meta


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def ilst_item(kind: bytes, text: str) -> bytes:
    return box(kind, box(b"data", struct.pack(">II", 1, 0) + text.encode()))


def mp4_with_ilst(*items: bytes, extra_top: bytes = b"") -> bytes:
    hdlr = box(b"hdlr", b"\x00" * 8 + b"mdirappl" + b"\x00" * 9)
    meta = box(b"meta", b"\x00\x00\x00\x00" + hdlr + box(b"ilst", b"".join(items)))
    tkhd = box(b"tkhd", b"\x00" * 76 + struct.pack(">II", 1920 << 16, 1080 << 16))
    moov = box(b"moov", box(b"trak", tkhd) + box(b"udta", meta))
    return box(b"ftyp", b"isom\x00\x00\x02\x00isom") + extra_top + moov


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "comfy_mp4": ffmpeg_video(d / "comfy.mp4", "-metadata", f"comment={COMFY}"),
        "aigc_mp4": ffmpeg_video(d / "aigc.mp4", "-movflags", "use_metadata_tags",
                                 "-metadata", 'AIGC={"Label":"1","ContentProducer":"Kling AI"}',
                                 "-metadata", "workflow={}"),
        "mov": ffmpeg_video(d / "clip.mov", "-metadata", "comment=hello mov", "-metadata", "title=T"),
        "webm": ffmpeg_video(d / "clip.webm", "-metadata", f"comment={COMFY}\nsecond = line;#\\",
                             codec="libvpx"),
    }


def test_mp4_comment_from_a_comfyui_video_node(videos):
    meta = read(videos["comfy_mp4"], "mp4")
    assert json.loads(meta.video_tags["comment"]) == json.loads(COMFY)
    assert (meta.width, meta.height) == (64, 48)
    assert meta.video_tags["encoder"].startswith("Lavf")
    assert meta.warnings == []


def test_mp4_custom_keys_box(videos):
    meta = read(videos["aigc_mp4"], "mp4")
    assert json.loads(meta.video_tags["AIGC"])["ContentProducer"] == "Kling AI"
    assert meta.video_tags["workflow"] == "{}"


def test_quicktime_text_atoms(videos):
    meta = read(videos["mov"], "mov")
    assert meta.video_tags["comment"] == "hello mov" and meta.video_tags["title"] == "T"
    assert (meta.width, meta.height) == (64, 48)


def test_webm_tags_through_ffmpeg_keep_escaped_text(videos):
    meta = read(videos["webm"], "webm")
    assert meta.video_tags["comment"] == f"{COMFY}\nsecond = line;#\\"
    assert (meta.width, meta.height) == (64, 48)


def test_veo_encoder_tag_and_track_size(tmp_path):
    path = tmp_path / "veo.mp4"
    path.write_bytes(mp4_with_ilst(ilst_item(b"\xa9too", "Google")))
    meta = read(path, "mp4")
    assert meta.video_tags == {"encoder": "Google"}
    assert (meta.width, meta.height) == (1920, 1080)


def test_xmp_uuid_box_reaches_metadata_xmp(tmp_path):
    xmp = '<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    uuid = box(b"uuid", bytes.fromhex("be7acfcb97a942e89c71999491e3afac") + xmp.encode())
    path = tmp_path / "xmp.mp4"
    path.write_bytes(mp4_with_ilst(extra_top=uuid))
    assert read(path, "mp4").xmp == xmp


def test_real_sora_video():
    path = CORPUS / "c2pa-sora.mp4"
    meta = read(path, "mp4")
    assert (meta.width, meta.height) == (480, 720) and "encoder" in meta.video_tags


@pytest.mark.parametrize("cut", [0, 7, 20, 100, 500, 1500])
def test_truncated_mp4_gives_warnings_not_exceptions(videos, tmp_path, cut):
    path = tmp_path / "cut.mp4"
    path.write_bytes(videos["comfy_mp4"].read_bytes()[:cut])
    meta = read(path, "mp4")
    assert isinstance(meta.video_tags, dict)


def test_impossible_box_size_is_reported(tmp_path):
    path = tmp_path / "bad.mp4"
    path.write_bytes(box(b"ftyp", b"isom") + struct.pack(">I", 3) + b"moov" + b"\x00" * 32)
    meta = read(path, "mp4")
    assert any("impossible size" in w for w in meta.warnings)


def test_huge_declared_sizes_do_not_allocate(tmp_path):
    # largesize claims 2**62 bytes; the walker must clip to the file, not read it
    path = tmp_path / "huge.mp4"
    path.write_bytes(box(b"ftyp", b"isom") + struct.pack(">I", 1) + b"moov" + struct.pack(">Q", 2**62) + b"\x00" * 64)
    meta = read(path, "mp4")
    assert any("truncated" in w for w in meta.warnings)


def test_too_many_boxes_stops_with_a_warning(tmp_path):
    path = tmp_path / "many.mp4"
    path.write_bytes(mp4_with_ilst(ilst_item(b"\xa9nam", "x") * 5000))
    meta = read(path, "mp4")
    assert any("more than 4096" in w for w in meta.warnings)


def test_fragmented_mp4_with_many_top_level_boxes_is_not_damage(tmp_path):
    path = tmp_path / "fragmented.mp4"
    path.write_bytes(mp4_with_ilst(ilst_item(b"\xa9nam", "x")) + (box(b"moof", b"") + box(b"mdat", b"")) * 5000)
    meta = read(path, "mp4")
    assert meta.warnings == [] and meta.video_tags == {"title": "x"}


def test_oversized_tag_is_skipped(tmp_path, monkeypatch):
    from alice.pipeline.extract import video
    monkeypatch.setattr(video, "MAX_TAG", 100)
    path = tmp_path / "big.mp4"
    path.write_bytes(mp4_with_ilst(ilst_item(b"\xa9cmt", "x" * 500), ilst_item(b"\xa9nam", "ok")))
    meta = read(path, "mp4")
    assert "comment" not in meta.video_tags and meta.video_tags["title"] == "ok"
    assert any("size limit" in w for w in meta.warnings)


def test_not_a_video_through_ffmpeg(tmp_path):
    path = tmp_path / "junk.mkv"
    path.write_bytes(b"\x1aE\xdf\xa3" + b"\x00garbage" * 10)
    meta = read(path, "mkv")
    assert meta.video_tags == {} and meta.width is None


def test_missing_file(tmp_path):
    meta = read(tmp_path / "gone.mp4", "mp4")
    assert meta.warnings and "could not read" in meta.warnings[0]


@pytest.mark.parametrize("text, expected", [
    (";FFMETADATA1\ntitle=a\\=b\n", {"title": "a=b"}),
    (";FFMETADATA1\ncomment=x\\\ny\n[STREAM]\nother=1\n", {"comment": "x\ny"}),
    (";FFMETADATA1\n;a comment\nk\\;ey=v\\\\\n", {"k;ey": "v\\"}),
    ("not ffmetadata\ntitle=a\n", {}),
])
def test_parse_ffmetadata(text, expected):
    assert parse_ffmetadata(text) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=20),
       cut=st.one_of(st.none(), st.integers(0, 5_000)))
def test_mutated_mp4_never_raises(tmp_path, flips, cut):
    data = bytearray(mp4_with_ilst(ilst_item(b"\xa9cmt", COMFY), ilst_item(b"\xa9too", "Google")))
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / "mutated.mp4"
    path.write_bytes(bytes(data[:cut] if cut is not None else data))
    meta = read(path, "mp4")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.video_tags.items())
    assert meta.width is None or 0 < meta.width < 65536


def test_ffmpeg_output_is_capped(videos, monkeypatch):
    from alice.pipeline.extract import ffmpeg_tags
    monkeypatch.setattr(ffmpeg_tags, "MAX_OUTPUT", 40)
    meta = read(videos["webm"], "webm")
    assert any("larger than" in w for w in meta.warnings)
    assert sum(len(v) for v in meta.video_tags.values()) < 200


def test_slow_ffmpeg_is_stopped(videos, monkeypatch):
    from alice.pipeline.extract import ffmpeg_tags
    monkeypatch.setattr(ffmpeg_tags, "TIMEOUT", 0.0)
    meta = read(videos["webm"], "webm")
    assert any("took longer" in w for w in meta.warnings)
