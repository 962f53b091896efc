"""alice's own generation record: stamping it into PNG/JPEG/WebP/MP4 and reading it back."""
from __future__ import annotations

import copy
import io
import json
import struct
import subprocess

import imageio_ffmpeg
import pytest
from PIL import Image

from alice.pipeline.alice_record import InvalidRecord, parse_record
from alice.pipeline.detect import alice as alice_detector
from alice.pipeline.embed_record import EmbedError, embed_jpeg, embed_png, embed_webp
from alice.pipeline.extract.video import extract_video
from alice.pipeline.extract.xmp import read_xmp
from alice.pipeline.metadata import Metadata

RECORD = {
    "alice_generation": 1, "provider": "fal", "model": "fal-ai/flux/dev", "request_id": "req-123",
    "prompt": 'a <cat> & "dog" — 猫', "created_at": "2025-01-02T03:04:05Z", "references": ["b3:00ff"],
    "params": {"seed": 1234, "num_inference_steps": 28, "guidance_scale": 3.5, "negative_prompt": "blur",
               "image_size": {"width": 64, "height": 48}, "loras": [{"path": "style.safetensors", "scale": 0.8}],
               "scheduler": "euler"},
}


def image_bytes(fmt: str, mode: str = "RGB", **kw) -> bytes:
    buf = io.BytesIO()
    color = (255, 0, 0, 128) if mode == "RGBA" else (255, 0, 0)
    Image.new(mode, (64, 48), color).save(buf, fmt, **kw)
    return buf.getvalue()


def png_text_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks, offset = {}, 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind in (b"iTXt", b"tEXt"):
            key, _, rest = body.partition(b"\x00")
            chunks[key] = rest
        offset += 12 + length
    return chunks


def png_idat(data: bytes) -> bytes:
    out, offset = b"", 8
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        if kind == b"IDAT":
            out += data[offset + 8:offset + 8 + length]
        offset += 12 + length
    return out


def read_png_meta(data: bytes) -> Metadata:
    text = {k.decode(): v[4:].decode("utf-8") for k, v in png_text_chunks(data).items() if k == b"alice:generation"}
    return Metadata(path=None, format="png", media="image", text=text)


# --- PNG ----------------------------------------------------------------------

def test_png_record_round_trip_fills_every_generation_field():
    original = image_bytes("PNG")
    stamped = embed_png(original, RECORD)
    assert png_idat(stamped) == png_idat(original)          # image data untouched
    with Image.open(io.BytesIO(stamped)) as im:
        im.load()
        assert im.size == (64, 48)
    result = alice_detector.detect(read_png_meta(stamped))
    assert result.tool == "fal" and result.ai
    assert result.evidence == ["png:text:alice:generation", "alice:provider=fal"]
    g = result.generation
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg) == (RECORD["prompt"], "blur", 1234, 28, 3.5)
    assert (g.model, g.width, g.height, g.scheduler) == ("fal-ai/flux/dev", 64, 48, "euler")
    assert g.loras == ["style.safetensors"] and g.created_at == "2025-01-02T03:04:05+00:00"
    assert result.raw["request_id"] == "req-123" and result.raw["references"] == ["b3:00ff"]


def test_png_stamping_twice_replaces_the_record():
    newer = dict(RECORD, provider="bfl")
    twice = embed_png(embed_png(image_bytes("PNG"), RECORD), newer)
    assert list(png_text_chunks(twice)) == [b"alice:generation"]
    assert alice_detector.detect(read_png_meta(twice)).tool == "bfl"


def test_png_bytes_after_iend_are_kept():
    stamped = embed_png(image_bytes("PNG") + b"trailing", RECORD)
    assert stamped.endswith(b"IEND\xaeB`\x82trailing")


@pytest.mark.parametrize("data, message", [
    (b"", "not a PNG"), (b"\xff\xd8\xff\xe0", "not a PNG"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00", "truncated"),
    (b"\x89PNG\r\n\x1a\n", "truncated"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82", "IHDR or IEND"),
])
def test_embed_png_rejects_bad_images(data, message):
    with pytest.raises(EmbedError, match=message):
        embed_png(data, RECORD)


# --- JPEG / WebP via XMP ---------------------------------------------------------

def jpeg_xmp(data: bytes) -> str:
    start = data.index(b"http://ns.adobe.com/xap/1.0/\x00") + 29
    length = struct.unpack(">H", data[start - 31:start - 29])[0]
    return data[start:start - 31 + length].decode("utf-8")


def test_jpeg_record_round_trip_and_pixels_unchanged():
    original = image_bytes("JPEG", exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00")
    stamped = embed_jpeg(original, RECORD)
    assert stamped.endswith(original[original.index(b"\xff\xdb"):])   # tables and scan data identical
    xmp = jpeg_xmp(stamped)
    meta = Metadata(path=None, format="jpeg", media="image", xmp=xmp)
    result = alice_detector.detect(meta)
    assert result.tool == "fal" and result.generation.seed == 1234
    assert result.evidence[0] == "xmp:alice:generation"
    assert stamped.index(b"Exif") < stamped.index(b"http://ns.adobe.com/xap")


def test_jpeg_existing_xmp_is_kept_and_record_replaced():
    other = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
             b'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Tool X"/>'
             b'</rdf:RDF></x:xmpmeta>')
    segment = b"\xff\xe1" + struct.pack(">H", 2 + 29 + len(other)) + b"http://ns.adobe.com/xap/1.0/\x00" + other
    original = image_bytes("JPEG")
    with_xmp = original[:2] + segment + original[2:]
    stamped = embed_jpeg(embed_jpeg(with_xmp, RECORD), dict(RECORD, provider="openai"))
    props = read_xmp(jpeg_xmp(stamped))
    assert props["xmp:CreatorTool"] == "Tool X"
    assert parse_record(props["alice:generation"])["provider"] == "openai"
    assert stamped.count(b"http://ns.adobe.com/xap/1.0/\x00") == 1
    with Image.open(io.BytesIO(stamped)) as im:
        im.load()


def test_jpeg_record_too_large_for_one_segment():
    big = dict(RECORD, prompt="x" * 70_000)
    with pytest.raises(EmbedError, match="too large"):
        embed_jpeg(image_bytes("JPEG"), big)


@pytest.mark.parametrize("kw, mode", [({}, "RGB"), ({"lossless": True}, "RGBA"),
                                      ({"exif": b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00"}, "RGB")])
def test_webp_record_round_trip(kw, mode):
    original = image_bytes("WEBP", mode, **kw)
    stamped = embed_webp(embed_webp(original, RECORD), RECORD)
    with Image.open(io.BytesIO(stamped)) as im:
        im.load()
        assert im.size == (64, 48) and im.mode == mode
        assert im.tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert stamped[12:16] == b"VP8X" and stamped[20] & 0x04
    assert stamped.count(b"XMP ") == 1
    xmp = stamped[stamped.index(b"XMP ") + 8:].decode("utf-8")
    result = alice_detector.detect(Metadata(path=None, format="webp", media="image", xmp=xmp))
    assert result.tool == "fal"


@pytest.mark.parametrize("data", [b"RIFF\x04\x00\x00\x00WEBP", b"RIFF\xff\x00\x00\x00WEBPVP8 \xff\x00\x00\x00ab",
                                  b"GIF89a"])
def test_embed_webp_rejects_bad_images(data):
    with pytest.raises(EmbedError):
        embed_webp(data, RECORD)


# --- MP4 ------------------------------------------------------------------------

def test_mp4_record_written_by_ffmpeg_is_detected(tmp_path):
    path = tmp_path / "gen.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "color=c=blue:s=64x48:d=0.1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-movflags", "use_metadata_tags", "-metadata",
                    'alice:generation={"alice_generation":1,"provider":"hedra","prompt":"talking"}', str(path)],
                   check=True, timeout=60)
    meta = Metadata(path=path, format="mp4", media="video")
    extract_video(path, meta)
    result = alice_detector.detect(meta)
    assert result.tool == "hedra" and result.generation.prompt == "talking"
    assert result.evidence[0] == "mp4:alice:generation" and (result.generation.width, result.generation.height) == (64, 48)


# --- validation -------------------------------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"alice_generation": 2}, "alice_generation"), ({"alice_generation": True}, "alice_generation"),
    ({"provider": "Fal AI"}, "provider"), ({"provider": None}, "provider"),
    ({"params": [1]}, "params"), ({"references": "b3:x"}, "references"), ({"model": 3}, "model"),
])
def test_invalid_records_are_refused_when_stamping(change, field):
    record = dict(copy.deepcopy(RECORD), **change)
    with pytest.raises(InvalidRecord, match=field):
        embed_png(image_bytes("PNG"), record)


def test_not_serialisable_record():
    with pytest.raises(InvalidRecord, match="JSON"):
        embed_png(image_bytes("PNG"), dict(RECORD, params={"x": float("nan")}))


@pytest.mark.parametrize("text", ["{", "[]", '{"alice_generation": 1}', '{"provider": "fal"}', "x" * 2_000_000])
def test_malformed_record_in_a_file_is_a_warning_not_a_detection(text):
    meta = Metadata(path=None, format="png", media="image", text={"alice:generation": text})
    assert alice_detector.detect(meta) is None
    assert meta.warnings and meta.warnings[0].startswith("png:text:alice:generation")


def test_no_record_no_detection():
    assert alice_detector.detect(Metadata(path=None, format="png", media="image", text={"parameters": "x"})) is None


def test_odd_but_valid_params_do_not_break_generation():
    record = dict(RECORD, prompt=[{"role": "user", "content": "hi"}],
                  params={"seed": "None", "steps": "20.0", "size": "1024x1536", "loras": ["a", {"name": "b"}, 5]})
    meta = Metadata(path=None, format="png", media="image", text={"alice:generation": json.dumps(record)})
    g = alice_detector.detect(meta).generation
    assert g.seed is None and g.steps == 20 and (g.width, g.height) == (1024, 1536)
    assert g.loras == ["a", "b", "5"] and '"content": "hi"' in g.prompt
