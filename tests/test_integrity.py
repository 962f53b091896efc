"""check() passes decodable media and names what is wrong with the rest."""
from __future__ import annotations

import io
import struct
import subprocess
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageFile, PngImagePlugin

from alice.pipeline import integrity
from alice.pipeline.ffmpeg import ffmpeg_exe
from alice.pipeline.integrity import MAX_PIXELS, check
from alice.pipeline.unreadable import UnreadableMedia
from tests.corpus_paths import CORPUS

SNIFFED = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".heic": "heic", ".mp4": "mp4"}
LYING = {"jpeg-named-png.png": "jpeg", "png-named-jpeg.jpeg": "png"}
BAD = {"bad-corrupted.jpg": "damaged JPEG image data", "bad-empty-file.png": "empty"}


def fmt_media(p: Path) -> tuple[str, str]:
    fmt = LYING.get(p.name) or SNIFFED[p.suffix.lower()]
    return fmt, "video" if fmt == "mp4" else "image"


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_corpus(path):
    fmt, media = fmt_media(path)
    if path.name in BAD:
        with pytest.raises(UnreadableMedia, match=BAD[path.name]):
            check(path, fmt, media)
    else:
        check(path, fmt, media)


def test_corrupted_jpeg_reason_says_where():
    with pytest.raises(UnreadableMedia) as info:
        check(CORPUS / "bad-corrupted.jpg", "jpeg", "image")
    assert "at byte 229375" in info.value.reason


def write(tmp_path: Path, data: bytes, name: str) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def png_with_size(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [13_000, 40_000])
def test_decompression_bomb_is_refused_without_decoding(tmp_path, side):
    assert side * side > MAX_PIXELS
    p = write(tmp_path, png_with_size(side, side), "bomb.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(UnreadableMedia, match="decompression bomb"):
            check(p, "png", "image")


def test_bomb_message_names_the_size(tmp_path):
    p = write(tmp_path, png_with_size(13_000, 13_000), "bomb.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(UnreadableMedia, match=r"13000x13000 .* exceeds the 160,000,000-pixel limit"):
            check(p, "png", "image")


def test_pillow_global_state_is_left_alone(tmp_path):
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, PngImagePlugin.MAX_TEXT_CHUNK)
    for path in (CORPUS / "bad-corrupted.jpg", CORPUS / "comfyui-flux-dev.png"):
        try:
            check(path, "jpeg" if path.suffix == ".jpg" else "png", "image")
        except UnreadableMedia:
            pass
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, PngImagePlugin.MAX_TEXT_CHUNK) == before


def rgb_png(**kw) -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((64, 48), 40).convert("RGB").save(buf, "PNG", **kw)
    return buf.getvalue()


def test_png_with_huge_compressed_text_still_passes(tmp_path):
    """A 3 MB workflow in zTXt is over Pillow's text limit, but the pixels are fine."""
    info = PngImagePlugin.PngInfo()
    info.add_text("workflow", "{" + "x" * 3_000_000 + "}", zip=True)
    check(write(tmp_path, rgb_png(pnginfo=info), "big-text.png"), "png", "image")


def test_png_with_cut_image_data_is_unreadable(tmp_path):
    data = rgb_png()
    start = data.index(b"IDAT") - 4
    (n,) = struct.unpack(">I", data[start:start + 4])
    idat = data[start + 8:start + 8 + n]
    broken = data[:start] + chunk(b"IDAT", idat[: n // 2]) + chunk(b"IEND", b"")
    with pytest.raises(UnreadableMedia, match="PNG"):
        check(write(tmp_path, broken, "cut.png"), "png", "image")


def test_png_truncated_mid_chunk_is_unreadable(tmp_path):
    data = rgb_png()
    with pytest.raises(UnreadableMedia, match="truncated PNG"):
        check(write(tmp_path, data[: len(data) - 100], "t.png"), "png", "image")


def test_truncated_jpeg_is_unreadable(tmp_path):
    data = (CORPUS / "camera-nikon-gps.jpg").read_bytes()
    with pytest.raises(UnreadableMedia, match="truncated JPEG"):
        check(write(tmp_path, data[: len(data) * 2 // 3], "t.jpg"), "jpeg", "image")


def test_garbage_with_an_image_format_is_unreadable(tmp_path):
    with pytest.raises(UnreadableMedia, match="WEBP"):
        check(write(tmp_path, b"RIFF\x10\0\0\0WEBPjunkjunk", "x.webp"), "webp", "image")


def test_animated_gif_and_webp_pass(tmp_path):
    frames = [Image.new("RGB", (8, 8), (i * 60, 0, 0)) for i in range(3)]
    for fmt in ("GIF", "WEBP"):
        buf = io.BytesIO()
        frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=50)
        check(write(tmp_path, buf.getvalue(), "a." + fmt.lower()), fmt.lower(), "image")


def test_heic_without_a_decoder_says_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(integrity, "_register_heif", lambda: False)
    check(write(tmp_path, b"\0\0\0\x18ftypheic" + bytes(100), "x.heic"), "heic", "image")


def test_other_media_is_not_checked(tmp_path):
    check(write(tmp_path, b"plain text", "x.txt"), "unknown", "other")


# -- video ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def faststart_mp4(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("v") / "v.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-f", "lavfi",
                    "-i", "testsrc=duration=1:size=32x24:rate=10", "-c:v", "mpeg4",
                    "-movflags", "+faststart", str(out)], check=True)
    return out.read_bytes()


def test_video_passes(tmp_path, faststart_mp4):
    check(write(tmp_path, faststart_mp4, "v.mp4"), "mp4", "video")


def test_video_with_missing_data_is_unreadable(tmp_path, faststart_mp4):
    """The index is intact (faststart) but the packets it points at are gone."""
    cut = faststart_mp4[: len(faststart_mp4) // 2]
    with pytest.raises(UnreadableMedia, match="damaged video/audio: "):
        check(write(tmp_path, cut, "cut.mp4"), "mp4", "video")


def test_not_a_video_is_unreadable(tmp_path):
    with pytest.raises(UnreadableMedia, match="ffmpeg"):
        check(write(tmp_path, b"\0\0\0\x18ftypisom" + bytes(300), "x.mp4"), "mp4", "video")


def test_tiff_based_camera_raw_with_undecodable_data_passes(tmp_path):
    """NEF/CR2/DNG sniff as TIFF; a compression Pillow lacks must not quarantine them."""
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    tag = data.find(b"\x03\x01\x03\x00\x01\x00\x00\x00")        # Compression (259), SHORT, count 1
    assert tag > 0
    data[tag + 8:tag + 10] = (34713).to_bytes(2, "little")      # Nikon NEF compression
    check(write(tmp_path, bytes(data), "x.nef"), "tiff", "image")


def test_audio_passes_even_with_damaged_cover_art(tmp_path):
    ff = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
    audio, cover, covered = tmp_path / "a.mp3", tmp_path / "cover.jpg", tmp_path / "c.mp3"
    subprocess.run(ff + ["-f", "lavfi", "-i", "sine=duration=0.3", "-c:a", "libmp3lame", str(audio)], check=True)
    check(audio, "mp3", "audio")
    subprocess.run(ff + ["-f", "lavfi", "-i", "testsrc=size=64x64:duration=0.04", "-frames:v", "1", str(cover)],
                   check=True)
    subprocess.run(ff + ["-i", str(audio), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy",
                         "-disposition:v", "attached_pic", str(covered)], check=True)
    data = bytearray(covered.read_bytes())
    sos = data.index(b"\xff\xda")
    start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    data[start:start + 200] = b"\x5a" * 200          # the cover picture's scan data overwritten
    covered.write_bytes(bytes(data))
    check(covered, "mp3", "audio")
