"""content_id survives metadata edits and re-muxing; any pixel change breaks it."""
from __future__ import annotations

import io
import struct
import subprocess
import zlib
from pathlib import Path

import blake3
import pytest
from PIL import Image, PngImagePlugin

from alice.pipeline.ffmpeg import ffmpeg_exe
from alice.pipeline.identity import Identity, UnreadableMedia, file_hash, identify
from alice.pipeline.payload import gif, jpeg, png, webp
from alice.pipeline.payload.reader import HashingReader
from tests.corpus_paths import CORPUS

SNIFFED = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".heic": "heic", ".mp4": "mp4"}
LYING = {"jpeg-named-png.png": "jpeg", "png-named-jpeg.jpeg": "png"}


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.name != "bad-empty-file.png")


def fmt_of(p: Path) -> tuple[str, str]:
    fmt = LYING.get(p.name) or SNIFFED[p.suffix.lower()]
    return fmt, "video" if fmt == "mp4" else "image"


def ident(tmp_path: Path, data: bytes, fmt: str, media: str = "image", name: str = "f") -> Identity:
    p = tmp_path / f"{name}.{fmt}"
    p.write_bytes(data)
    return identify(p, fmt, media)


# -- PNG ------------------------------------------------------------------------------
def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]))
        pos += 12 + n
    return out


def png_build(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d)) for t, d in chunks)
    return png.SIGNATURE + body


def make_png(color=(10, 20, 30), text: dict[str, str] | None = None) -> bytes:
    im = Image.new("RGB", (16, 12), color)
    im.putpixel((3, 4), (200, 100, 0))
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    buf = io.BytesIO()
    im.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def insert_before_iend(data: bytes, ctype: bytes, payload: bytes) -> bytes:
    chunks = png_chunks(data)
    return png_build(chunks[:-1] + [(ctype, payload)] + chunks[-1:])


def test_png_text_chunks_do_not_change_content_id(tmp_path):
    base = ident(tmp_path, make_png(), "png", name="base")
    with_text = ident(tmp_path, make_png(text={"parameters": "a cat\nSteps: 20"}), "png", name="text")
    rewritten = ident(tmp_path, make_png(text={"parameters": "a dog"}), "png", name="rewritten")
    after_idat = ident(tmp_path, insert_before_iend(make_png(), b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x/>"),
                       "png", name="itxt")
    zt = ident(tmp_path, insert_before_iend(make_png(), b"zTXt", b"k\0\0" + zlib.compress(b"v")), "png", name="z")
    exif = Image.Exif()
    exif[0x0131] = "a tool"
    ex = ident(tmp_path, insert_before_iend(make_png(), b"eXIf", exif.tobytes()), "png", name="exif")
    assert base.payload == "png:pixels"
    assert base.content_id == with_text.content_id == rewritten.content_id == after_idat.content_id == zt.content_id
    assert ex.content_id == base.content_id
    assert len({base.file_hash, with_text.file_hash, rewritten.file_hash, after_idat.file_hash}) == 4


def test_png_colour_metadata_and_idat_split_keep_content_id(tmp_path):
    data = make_png()
    chunks = png_chunks(data)
    gama = png_build(chunks[:1] + [(b"gAMA", struct.pack(">I", 45455)), (b"sRGB", b"\0")] + chunks[1:])
    idat = b"".join(d for t, d in chunks if t == b"IDAT")
    split = png_build(chunks[:1] + [(b"IDAT", idat[:5]), (b"IDAT", idat[5:])] + chunks[-1:])
    ids = {ident(tmp_path, d, "png", name=str(i)).content_id for i, d in enumerate((data, gama, split))}
    assert len(ids) == 1


def test_png_pixel_change_changes_content_id(tmp_path):
    a = ident(tmp_path, make_png((10, 20, 30)), "png", name="a")
    b = ident(tmp_path, make_png((10, 20, 31)), "png", name="b")
    assert a.content_id != b.content_id


def test_png_palette_and_transparency_count(tmp_path):
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    chunks = png_chunks(buf.getvalue())
    other_palette = [(t, b"\0\0\0\0\xff\0" + d[6:] if t == b"PLTE" else d) for t, d in chunks]
    with_trns = chunks[:-2] + [(b"tRNS", b"\0\0")] + chunks[-2:]
    a = ident(tmp_path, buf.getvalue(), "png", name="a").content_id
    assert a != ident(tmp_path, png_build(other_palette), "png", name="b").content_id
    assert a != ident(tmp_path, png_build(with_trns), "png", name="c").content_id


@pytest.mark.parametrize("mutate, reason", [
    (lambda c: [x for x in c if x[0] != b"IDAT"], "no IDAT"),
    (lambda c: c, "runs past the end"),
    (lambda c: [(b"I\x00AT", c[1][1])], "invalid chunk header"),
])
def test_broken_png_is_unreadable(tmp_path, mutate, reason):
    data = png_build(mutate(png_chunks(make_png())))
    if reason == "runs past the end":
        data = data[:60]
    with pytest.raises(UnreadableMedia, match=reason):
        ident(tmp_path, data, "png")


def test_empty_file_is_unreadable_for_image_formats(tmp_path):
    with pytest.raises(UnreadableMedia, match="empty"):
        ident(tmp_path, b"", "png")


# -- JPEG -----------------------------------------------------------------------------
def make_jpeg(color=(10, 120, 200), progressive=False) -> bytes:
    im = Image.new("RGB", (40, 24), color)
    im.putpixel((5, 5), (255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, progressive=progressive)
    return buf.getvalue()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def strip_app(data: bytes) -> bytes:
    """Drop every APPn/COM segment before the first scan (what exiftool -all= does)."""
    out, pos = [data[:2]], 2
    while data[pos + 1] != 0xDA:
        n = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if not (0xE0 <= data[pos + 1] <= 0xEF or data[pos + 1] == 0xFE):
            out.append(data[pos:pos + 2 + n])
        pos += 2 + n
    return b"".join(out) + data[pos:]


def test_jpeg_exif_xmp_comment_do_not_change_content_id(tmp_path):
    data = make_jpeg()
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x9286] = "prompt"
    with_exif = data[:2] + segment(0xE1, b"Exif\0\0" + exif.tobytes()) + data[2:]
    with_xmp = data[:2] + segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>") + data[2:]
    with_com = data[:2] + segment(0xFE, b"made with a prompt") + data[2:]
    stripped = strip_app(data)
    trailer = data + b"\0\0 trailing junk"
    ids = {ident(tmp_path, d, "jpeg", name=str(i)).content_id
           for i, d in enumerate((data, with_exif, with_xmp, with_com, stripped, trailer))}
    assert len(ids) == 1


def test_jpeg_pixel_change_changes_content_id(tmp_path):
    a = ident(tmp_path, make_jpeg((10, 120, 200)), "jpeg", name="a")
    b = ident(tmp_path, make_jpeg((200, 120, 10)), "jpeg", name="b")
    assert a.payload == "jpeg:scan" and a.content_id != b.content_id


def test_progressive_jpeg_hashes_every_scan(tmp_path):
    data = make_jpeg(progressive=True)
    r = HashingReader(io.BytesIO(data), blake3.blake3())
    assert jpeg.walk(r).scans > 1


@pytest.mark.parametrize("cut, reason", [
    (lambda d: d[:d.index(b"\xff\xda")], "no start-of-scan"),
    (lambda d: d[:25], "runs past the end"),
    (lambda d: b"\xff\xd8\x00\x00" + d[2:], "expected a marker"),
])
def test_broken_jpeg_is_unreadable(tmp_path, cut, reason):
    with pytest.raises(UnreadableMedia, match=reason):
        ident(tmp_path, cut(make_jpeg()), "jpeg")


# -- WebP -----------------------------------------------------------------------------
def make_webp(color=(1, 2, 3), **kw) -> bytes:
    im = Image.new("RGBA", (20, 10), color + (255,))
    buf = io.BytesIO()
    im.save(buf, "WEBP", lossless=True, **kw)
    return buf.getvalue()


def test_webp_exif_and_xmp_do_not_change_content_id(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "workflow:{}"
    plain = ident(tmp_path, make_webp(), "webp", name="plain")
    meta = ident(tmp_path, make_webp(exif=exif.tobytes(), xmp=b"<x:xmpmeta/>"), "webp", name="meta")
    other = ident(tmp_path, make_webp(exif=b"Exif\0\0" + exif.tobytes()), "webp", name="other")
    assert plain.payload == "webp:image"
    assert plain.content_id == meta.content_id == other.content_id
    assert plain.file_hash != meta.file_hash


def test_webp_pixel_change_changes_content_id(tmp_path):
    assert ident(tmp_path, make_webp((1, 2, 3)), "webp", name="a").content_id != \
        ident(tmp_path, make_webp((1, 2, 4)), "webp", name="b").content_id


def test_truncated_webp_is_unreadable(tmp_path):
    with pytest.raises(UnreadableMedia, match="truncated WebP"):
        ident(tmp_path, make_webp()[:30], "webp")


# -- GIF ------------------------------------------------------------------------------
def make_gif(color=1, comment: bytes | None = None, loop: int | None = 0) -> bytes:
    frames = [Image.new("RGB", (8, 8), (40 * c, 90, 0)) for c in (color, 2)]
    buf = io.BytesIO()
    kw = {"comment": comment} if comment else {}
    if loop is not None:
        kw["loop"] = loop
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, **kw)
    return buf.getvalue()


def test_gif_comment_and_loop_do_not_change_content_id(tmp_path):
    ids = {ident(tmp_path, d, "gif", name=str(i)).content_id
           for i, d in enumerate((make_gif(), make_gif(comment=b"made by a tool"), make_gif(loop=3)))}
    assert len(ids) == 1
    assert ident(tmp_path, make_gif(color=3), "gif", name="x").content_id not in ids


# -- single pass, bounded buffers -----------------------------------------------------
@pytest.mark.parametrize("path", [p for p in corpus_files() if fmt_of(p)[0] in ("png", "jpeg", "webp")],
                         ids=lambda p: p.name)
def test_tiny_read_blocks_give_the_same_ids(path):
    """Structures straddling buffer boundaries (a 0xFF at a block's end) must not change the hash."""
    walker = {"png": png.walk, "jpeg": jpeg.walk, "webp": webp.walk}[fmt_of(path)[0]]
    ids = []
    for block in (7, 4093, 1 << 20):
        whole, payload = blake3.blake3(), blake3.blake3()
        with open(path, "rb") as fh:
            r = HashingReader(fh, whole, block=block)
            walker(r, payload)
            r.drain()
        ids.append((payload.hexdigest(), whole.hexdigest()))
    # Bytes already in memory are walked in place (filing): the same ids.
    whole, payload = blake3.blake3(), blake3.blake3()
    r = HashingReader(io.BytesIO(path.read_bytes()), whole)
    walker(r, payload)
    assert r.drain() == path.stat().st_size
    ids.append((payload.hexdigest(), whole.hexdigest()))
    assert len(set(ids)) == 1
    assert ids[0][1] == blake3.blake3(path.read_bytes()).hexdigest()


def test_gif_walker_tiny_blocks(tmp_path):
    data = make_gif(comment=b"c")
    got = set()
    for block in (3, 1 << 20):
        payload = blake3.blake3()
        gif.walk(HashingReader(io.BufferedReader(io.BytesIO(data)), blake3.blake3(), block=block), payload)  # type: ignore[arg-type]
        got.add(payload.hexdigest())
    payload = blake3.blake3()
    gif.walk(HashingReader(io.BytesIO(data), blake3.blake3()), payload)      # in place
    got.add(payload.hexdigest())
    assert len(got) == 1


# -- corpus ---------------------------------------------------------------------------
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_corpus_files_identify(path):
    fmt, media = fmt_of(path)
    got = identify(path, fmt, media)
    assert got.file_hash == "b3:" + blake3.blake3(path.read_bytes()).hexdigest() == file_hash(path)
    assert got.size == path.stat().st_size
    expected = {"png": "png:pixels", "jpeg": "jpeg:scan", "webp": "webp:image", "heic": "file",
                "mp4": "ffmpeg:streams"}[fmt]
    assert got.payload == expected
    assert got.content_id.startswith("b3:") and len(got.content_id) == 67
    assert (got.content_id == got.file_hash) == (expected == "file")


def test_corpus_crops_with_identical_pixels_share_an_id():
    """The sd-parsers samples are all the same 1x1 pixel with different metadata: one asset."""
    names = ["a1111-cropped.png", "invokeai-dream.png", "novelai-cropped.png", "fooocus-cropped.png"]
    assert len({identify(CORPUS / n, "png", "image").content_id for n in names}) == 1


def test_other_files_use_the_whole_file(tmp_path):
    got = ident(tmp_path, b"not media at all", "unknown", "other")
    assert got.payload == "file" and got.content_id == got.file_hash


# -- video ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("video")
    ff = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
    src = d / "a.mp4"
    subprocess.run(ff + ["-f", "lavfi", "-i", "testsrc=duration=0.5:size=32x24:rate=10",
                         "-f", "lavfi", "-i", "sine=duration=0.5", "-c:v", "mpeg4", "-c:a", "aac",
                         "-shortest", str(src)], check=True)
    other = d / "b.mp4"
    subprocess.run(ff + ["-f", "lavfi", "-i", "testsrc2=duration=0.5:size=32x24:rate=10",
                         "-c:v", "mpeg4", str(other)], check=True)
    out = {"mp4": src, "other": other}
    for name, extra in (("mov", []), ("mkv", []), ("tagged.mp4", ["-metadata", "title=a new title"])):
        dest = d / f"remux.{name}"
        subprocess.run(ff + ["-i", str(src), "-map", "0", "-c", "copy", *extra, str(dest)], check=True)
        out[name] = dest
    swapped = d / "swapped.mkv"
    subprocess.run(ff + ["-i", str(src), "-map", "0:a", "-map", "0:v", "-c", "copy", str(swapped)], check=True)
    out["swapped"] = swapped
    return out


def test_remux_keeps_video_content_id(videos):
    ids = {k: identify(p, k.rsplit(".", 1)[-1] if k != "swapped" else "mkv", "video") for k, p in videos.items()}
    assert ids["mp4"].payload == "ffmpeg:streams"
    same = {ids[k].content_id for k in ("mp4", "mov", "mkv", "tagged.mp4", "swapped")}
    assert len(same) == 1
    assert ids["other"].content_id not in same
    assert len({ids[k].file_hash for k in ("mp4", "mov", "mkv", "tagged.mp4")}) == 4


def test_broken_video_is_unreadable(tmp_path, videos):
    with pytest.raises(UnreadableMedia, match="ffmpeg"):
        ident(tmp_path, b"\0\0\0\x18ftypisom" + bytes(200), "mp4", "video")
    data = videos["mp4"].read_bytes()
    assert data.rfind(b"moov") > len(data) // 2    # ffmpeg writes the index last without +faststart
    with pytest.raises(UnreadableMedia, match="ffmpeg"):
        ident(tmp_path, data[: len(data) // 2], "mp4", "video", name="cut")


def restart_jpeg() -> bytes:
    im = Image.effect_noise((256, 256), 60).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "JPEG", restart_marker_blocks=1)
    return buf.getvalue()


@pytest.mark.parametrize("block", [2, 3, 5, 64, 1 << 20])
def test_restart_markers_are_followed_across_read_blocks(block):
    data = restart_jpeg()
    r = HashingReader(io.BytesIO(data), blake3.blake3(), block=block)
    report = jpeg.walk(r, blake3.blake3())
    assert report.ended and report.damage == []


@pytest.mark.parametrize("block", [3, 1 << 20])
def test_dropped_restart_interval_is_reported(block):
    data = restart_jpeg()
    first = data.index(b"\xff\xd3", data.index(b"\xff\xda"))
    second = data.index(b"\xff\xd4", first)
    cut = data[:first] + data[second:]          # RST3 and the interval after it are lost
    report = jpeg.walk(HashingReader(io.BytesIO(cut), blake3.blake3(), block=block))
    assert len(report.damage) == 1 and "RST4 where RST3 belongs" in report.damage[0]


def test_audio_cover_art_is_metadata(tmp_path):
    ff = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y"]
    plain, covered = tmp_path / "plain.mp3", tmp_path / "covered.mp3"
    subprocess.run(ff + ["-f", "lavfi", "-i", "sine=duration=0.3", "-c:a", "libmp3lame", str(plain)], check=True)
    subprocess.run(ff + ["-i", str(plain), "-f", "lavfi", "-i", "testsrc=size=16x16:duration=0.04", "-map", "0",
                         "-map", "1", "-c:a", "copy", "-c:v", "mjpeg", "-disposition:v", "attached_pic",
                         "-metadata", "title=with cover", str(covered)], check=True)
    a, b = identify(plain, "mp3", "audio"), identify(covered, "mp3", "audio")
    assert a.payload == "ffmpeg:streams"
    assert a.content_id == b.content_id and a.file_hash != b.file_hash


def riff_without(data: bytes, drop: set[bytes]) -> bytes:
    """A WebP with the given chunks removed, VP8X flags and RIFF size left as they were."""
    out, pos = [data[:12]], 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        end = pos + 8 + size + (size & 1)
        if data[pos:pos + 4] not in drop:
            out.append(data[pos:end])
        pos = end
    body = b"".join(out)
    return body[:4] + (len(body) - 8).to_bytes(4, "little") + body[8:]


@pytest.mark.parametrize("name, strip", [
    ("comfyui-flux-dev.png", lambda d: png_build([c for c in png_chunks(d) if c[0] not in (b"tEXt", b"iTXt", b"zTXt")])),
    ("c2pa-amazon-titan.png", lambda d: png_build([c for c in png_chunks(d) if c[0] != b"caBX"])),
    ("camera-nikon-gps.jpg", strip_app),
    ("c2pa-camera-capture.jpg", strip_app),
    ("comfyui-animated-i2v.webp", lambda d: riff_without(d, {b"EXIF", b"XMP "})),
    ("comfyui-kontext.webp", lambda d: riff_without(d, {b"EXIF", b"XMP ", b"ICCP"})),
])
def test_real_files_keep_their_id_when_metadata_is_stripped(tmp_path, name, strip):
    original = (CORPUS / name).read_bytes()
    stripped = strip(original)
    assert len(stripped) < len(original)
    fmt = fmt_of(CORPUS / name)[0]
    a, b = identify(CORPUS / name, fmt, "image"), ident(tmp_path, stripped, fmt)
    assert a.content_id == b.content_id and a.file_hash != b.file_hash
    with Image.open(io.BytesIO(stripped)) as im:
        im.load()       # what we stripped to was still a valid image
