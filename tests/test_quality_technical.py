"""The technical stage on files: formats, videos, and input that must not crash it."""
from __future__ import annotations

import io
import struct
import subprocess
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from alice.pipeline.quality.config import QualityConfig
from alice.pipeline.quality.measures import jpeg_quality
from alice.pipeline.quality.technical import AssessmentError, assess_array, assess_image, assess_video
from tests.corpus_paths import CORPUS


def corpus(name: str) -> Path:
    return CORPUS / name


def photo(size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic, detailed test picture (no corpus needed)."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 255, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)
    return img.filter(ImageFilter.DETAIL)


def ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def make_video(path: Path, *extra_filters: str, size: str = "320x240", seconds: int = 2,
               source: str = "testsrc") -> Path:
    vf = ",".join(("format=yuv420p",) + extra_filters)
    cmd = [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
           "-i", f"{source}=size={size}:rate=10", "-t", str(seconds), "-vf", vf, "-c:v", "mpeg4", "-q:v", "3",
           str(path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return path


# --- images ----------------------------------------------------------------

def test_result_shape_and_json_safety(tmp_path: Path) -> None:
    path = tmp_path / "p.png"
    photo().save(path)
    r = assess_image(path)
    assert 0 <= r.score <= 100 and 1 <= r.stars <= 5
    assert (r.width, r.height) == (640, 480)
    assert set(r.measures) == {"sharpness", "noise", "exposure", "contrast", "colourfulness",
                               "compression", "resolution"}
    assert all(0.0 <= v <= 1.0 for v in r.measures.values())
    d = r.to_dict()
    assert all(type(v) is float for v in d["measures"].values())     # no numpy scalars for YAML/JSON
    assert all(type(v) is float for v in d["raw"].values())
    assert r.elapsed_ms > 0


def test_a_lying_extension_does_not_matter(tmp_path: Path) -> None:
    img = photo()
    real = tmp_path / "a.png"
    liar = tmp_path / "a.jpg"
    img.save(real)
    img.save(liar, "PNG")
    assert assess_image(liar).score == assess_image(real).score


def test_big_jpeg_is_decoded_small_and_keeps_its_original_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    photo((3000, 2000)).save(path, quality=92)
    r = assess_image(path)
    assert (r.width, r.height) == (3000, 2000)
    assert r.measures["resolution"] == 1.0
    assert r.raw["jpeg_quality"] == pytest.approx(92, abs=1)


def test_jpeg_quality_estimate_follows_the_encoder(tmp_path: Path) -> None:
    # Below ~25 the encoder clips table entries at 255, so the estimate reads a little high.
    for q, tolerance in ((95, 1), (75, 1), (40, 1), (15, 3)):
        buf = io.BytesIO()
        photo((64, 64)).save(buf, "JPEG", quality=q)
        assert jpeg_quality(Image.open(io.BytesIO(buf.getvalue())).quantization) == pytest.approx(q, abs=tolerance)
    assert jpeg_quality(None) is None
    assert jpeg_quality({1: [1] * 64}) is None


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "I;16", "1", "LA"])
def test_every_pixel_mode_is_assessed(tmp_path: Path, mode: str) -> None:
    img = photo((200, 150))
    if mode == "I;16":
        a = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
        img = Image.fromarray(a)
    else:
        img = img.convert(mode)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    img.save(path)
    r = assess_image(path)
    assert 0 <= r.score <= 100
    if mode == "I;16":
        # 16-bit samples are scaled, not clipped to white
        assert 0.2 < r.raw["exposure_mean"] < 0.8


def test_heic_from_a_phone() -> None:
    pytest.importorskip("pillow_heif")
    r = assess_image(corpus("camera-iphone.heic"))
    assert (r.width, r.height) == (3024, 4032) and r.stars >= 4


def test_animated_webp_uses_the_first_frame() -> None:
    r = assess_image(corpus("comfyui-animated-i2v.webp"))
    assert (r.width, r.height) == (1024, 576)


def test_every_corpus_file_gives_a_result_or_an_assessment_error() -> None:
    seen = 0
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in (".mp4", ".mov", ".webm"):
            continue
        try:
            r = assess_image(path)
        except AssessmentError as exc:
            assert str(exc)
            continue
        assert 0 <= r.score <= 100
        seen += 1
    assert seen >= 8


def test_blocky_generative_fill_reads_as_compressed() -> None:
    r = assess_image(corpus("c2pa-firefly-generative-fill.jpg"))
    assert r.raw["blockiness"] > 1.5 and r.measures["compression"] < 0.2


# --- bad input -------------------------------------------------------------------

def test_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(AssessmentError, match="not an image"):
        assess_image(path)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("just text\n" * 100)
    with pytest.raises(AssessmentError):
        assess_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_file_is_an_assessment_error(tmp_path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    photo().save(buf, fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(AssessmentError, match="damaged or truncated|not an image"):
        assess_image(path)


def _png_claiming(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_claiming(30000, 30000))        # 900 MP declared in a 60-byte file
    with pytest.raises(AssessmentError, match="bomb|max_pixels"):
        assess_image(path)


def test_max_pixels_guard_names_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    path.write_bytes(_png_claiming(4000, 3000))           # 12 MP, under Pillow's own limit
    with pytest.raises(AssessmentError, match="quality.max_pixels"):
        assess_image(path, QualityConfig(max_pixels=10_000_000))


def test_too_small_to_judge() -> None:
    with pytest.raises(AssessmentError, match="16 px"):
        assess_image(corpus("tiny-no-metadata.png"))


def test_missing_file_is_an_os_error_not_an_assessment(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        assess_image(tmp_path / "gone.png")
    with pytest.raises(FileNotFoundError):
        assess_video(tmp_path / "gone.mp4")


@pytest.mark.parametrize("bad", [[[1, 2, 3]], np.zeros((64, 64, 3), dtype=np.float32),
                                 np.zeros((64, 64, 2), dtype=np.uint8), np.zeros((8, 8, 3), dtype=np.uint8),
                                 "pixels"])
def test_assess_array_refuses_wrong_types(bad: object) -> None:
    with pytest.raises(AssessmentError):
        assess_array(bad)  # type: ignore[arg-type]


def test_assess_array_takes_grey_and_rgba() -> None:
    grey = np.asarray(photo().convert("L"))
    rgba = np.asarray(photo().convert("RGBA"))
    assert 0 <= assess_array(grey).score <= 100
    assert assess_array(rgba).score == assess_array(np.asarray(photo())).score


def test_letterbox_bars_are_not_judged_as_the_picture() -> None:
    pic = np.asarray(photo((640, 360)))
    boxed = np.zeros((640, 640, 3), dtype=np.uint8)
    boxed[140:500] = pic
    plain, framed = assess_array(pic), assess_array(boxed)
    assert framed.raw["content_fraction"] == pytest.approx(360 / 640, abs=0.01)
    assert framed.raw["exposure_crushed"] < 0.01
    assert abs(framed.measures["exposure"] - plain.measures["exposure"]) < 0.05


# --- video -------------------------------------------------------------------------

def test_video_frames_are_sampled_and_measured(tmp_path: Path) -> None:
    path = make_video(tmp_path / "t.mp4")
    r = assess_video(path)
    assert r.media == "video" and r.frames == 5
    assert (r.width, r.height) == (320, 240)
    assert 0 <= r.score <= 100 and not r.warnings


def test_blurred_video_scores_lower(tmp_path: Path) -> None:
    # testsrc's flat boxes sit on the 8 px grid and read as blocking, so a
    # natural-looking source is used to compare sharpness.
    sharp = assess_video(make_video(tmp_path / "sharp.mp4", source="mandelbrot"))
    soft = assess_video(make_video(tmp_path / "soft.mp4", "gblur=sigma=3", source="mandelbrot"))
    assert soft.score < sharp.score
    assert soft.raw["blur"] > sharp.raw["blur"]


def test_large_video_is_scaled_down_by_ffmpeg(tmp_path: Path) -> None:
    path = make_video(tmp_path / "hd.mp4", size="1920x1080", seconds=1)
    r = assess_video(path, QualityConfig(video_frames=2))
    assert (r.width, r.height) == (1920, 1080) and r.frames == 2
    assert "blockiness" not in r.raw          # grid is gone after scaling


def test_letterboxed_video(tmp_path: Path) -> None:
    path = make_video(tmp_path / "lb.mp4", "pad=320:400:0:80:black")
    r = assess_video(path, QualityConfig(video_frames=2))
    assert r.raw["content_fraction"] == pytest.approx(240 / 400, abs=0.05)


def test_truncated_video_gives_an_error_or_a_partial_result(tmp_path: Path) -> None:
    path = make_video(tmp_path / "t.mp4", seconds=4)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    try:
        r = assess_video(cut)
    except AssessmentError as exc:
        assert "cut.mp4" in str(exc)
    else:
        assert 0 <= r.score <= 100


def test_not_a_video(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(AssessmentError, match="x.mp4"):
        assess_video(path)


def test_a_name_that_looks_like_an_ffmpeg_protocol(tmp_path: Path) -> None:
    path = make_video(tmp_path / "concat:evil.mp4", seconds=1)
    assert assess_video(path, QualityConfig(video_frames=1)).frames == 1


def test_video_timeout_is_an_assessment_error(tmp_path: Path) -> None:
    path = make_video(tmp_path / "t.mp4", seconds=1)
    with pytest.raises(AssessmentError, match="video_timeout_s|took over"):
        assess_video(path, QualityConfig(video_timeout_s=0.001))


def test_sora_clip_from_the_corpus() -> None:
    r = assess_video(corpus("c2pa-sora.mp4"))
    assert (r.width, r.height) == (480, 720) and r.frames == 5
    assert r.raw["content_fraction"] < 0.7             # black bars above and below the slide


def test_postscript_is_not_handed_to_ghostscript(tmp_path: Path) -> None:
    path = tmp_path / "x.eps"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n")
    with pytest.raises(AssessmentError, match="not an image"):
        assess_image(path)


def test_multi_picture_jpeg_from_a_phone_is_read_as_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    img = photo((800, 600))
    img.save(path, "MPO", save_all=True, append_images=[img.reduce(4)], quality=85)
    assert Image.open(path).format == "MPO"
    r = assess_image(path)
    assert r.raw["jpeg_quality"] == pytest.approx(85, abs=1)


_SAMPLES: dict[str, bytes] = {}


def _sample(fmt: str) -> bytes:
    if fmt not in _SAMPLES:
        buf = io.BytesIO()
        photo((96, 64)).save(buf, fmt)
        _SAMPLES[fmt] = buf.getvalue()
    return _SAMPLES[fmt]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF", "TIFF", "BMP"]),
       flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8),
       cut=st.one_of(st.none(), st.integers(min_value=1)))
def test_damaged_files_never_escape_as_other_exceptions(tmp_path: Path, fmt: str, flips: list, cut: int | None) -> None:
    data = bytearray(_sample(fmt))
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    path = tmp_path / "fuzz.bin"
    path.write_bytes(bytes(data))
    try:
        r = assess_image(path)
    except AssessmentError as exc:
        assert "fuzz.bin" in str(exc)
    else:
        assert 0 <= r.score <= 100 and 1 <= r.stars <= 5


def test_decoder_warnings_land_in_the_result_not_on_stderr(tmp_path: Path) -> None:
    buf = io.BytesIO()
    photo((96, 64)).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    data[51] = 169            # the compression tag's count now points past the end of the file
    path = tmp_path / "odd.tif"
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # any warning escaping would fail the test
        r = assess_image(path)
    assert any(w.startswith("decoder: ") and "Skipping tag" in w for w in r.warnings), r.warnings
