"""Can this media be decoded at all? The organizer quarantines what cannot.

PNGs are verified without decoding pixels (png_verify.py: CRCs, a full
inflate, row filters and sizes), in constant memory. Other images are opened
with Pillow and decoded as cheaply as the format allows (JPEG via draft: DCT
scaling to 1/8, which still entropy-decodes every scan). A JPEG is also
walked for damage in its scans (payload/jpeg.py): decoders resync silently
after lost or overwritten scan data and show grey or smeared blocks, so
Pillow alone passes such a file. Animated images decode up to MAX_FRAMES
frames. HEIC/AVIF decode through pillow-heif when it is installed; without a
decoder they pass unchecked.
Formats not checked at all pass: TIFF (camera raws are TIFF), JPEG 2000,
JPEG XL, PSD, CR3.

Video/audio: one ffmpeg run that demuxes every packet (stream copy) and
decodes the first video frame; a failure, or the demuxer reporting a partial
file or corrupt packets, is unreadable.

Pillow's global state is never changed: the bomb cap is checked here, below
Pillow's own error threshold, so the limit and message are ours whatever
Image.MAX_IMAGE_PIXELS says.
"""
from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from alice.pipeline.ffmpeg import run_ffmpeg, timeout_for
from alice.pipeline.payload import jpeg
from alice.pipeline.payload.reader import HashingReader
from alice.pipeline.png_verify import verify as verify_png
from alice.pipeline.unreadable import UnreadableMedia

# Above the largest camera sensors (151 MP medium format), below Pillow's own
# error threshold (2 x 89.5 MP), so our check always runs first. Pillow decodes
# (WebP, GIF, HEIC; JPEG at 1/8 scale) of the biggest allowed image hold up to
# ~640 MB; PNG verification holds a few MB whatever the size.
MAX_PIXELS = 160_000_000
MAX_FRAMES = 500
# Not TIFF: camera raws (NEF, CR2, DNG, ARW) sniff as TIFF, and Pillow refuses
# their compressions even to open them; a good raw must not be quarantined.
IMAGE_FORMATS = frozenset({"png", "jpeg", "webp", "gif", "bmp", "avif", "heic", "heif"})
NEEDS_PLUGIN = frozenset({"avif", "heic", "heif"})
# Words in ffmpeg's error-level lines that mean lost or broken data (other
# error lines, e.g. about odd but harmless tags, do not fail a file).
FFMPEG_DAMAGE = ("partial file", "corrupt", "invalid data", "truncat", "error while decoding", "damaged",
                 "error at mb")


def check(path: Path, fmt: str, media: str) -> None:
    """Return if `path` decodes; raise UnreadableMedia(reason) if it does not.

    `fmt`/`media` are the sniffed ones. Formats alice cannot decode here
    ("other", HEIC without pillow-heif) pass. OSError from the file system
    propagates.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise UnreadableMedia("file is empty (0 bytes)")
    if fmt in IMAGE_FORMATS:
        _check_image(path, fmt)
    elif media in ("video", "audio"):
        _check_av(path)


# Formats whose integrity is checked without decoding pixels; their one decode is the pixel stage's.
STRUCTURAL = frozenset({"png", "jpeg"})


def check_structure(data: bytes, fmt: str, media: str, path: Path) -> bool:
    """The filing path's check, on bytes already read: True if it settled the question
    without a pixel decode (PNG: chunk structure and CRCs; JPEG: the scan walk; video and
    audio: ffmpeg on `path`), False if the caller must decode the pixels to know
    (pipeline/pixels.py). Raises UnreadableMedia like check()."""
    if not data:
        raise UnreadableMedia("file is empty (0 bytes)")
    if fmt == "png":
        verify_png(io.BytesIO(data), MAX_PIXELS, inflate=False)
        return True
    if fmt == "jpeg":
        _check_jpeg_scans(io.BytesIO(data))
        try:
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
        except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError... on bad headers
            raise UnreadableMedia(f"cannot decode the JPEG image (damaged or unsupported data): "
                                  f"{_describe(exc)}") from None
        if width * height > MAX_PIXELS:
            raise UnreadableMedia(f"decompression bomb: {width}x{height} = {width * height:,} pixels exceeds "
                                  f"the {MAX_PIXELS:,}-pixel limit")
        if width == 0 or height == 0:
            raise UnreadableMedia(f"the JPEG image has no pixels ({width}x{height})")
        return True
    if fmt in IMAGE_FORMATS:
        return fmt in NEEDS_PLUGIN and not _register_heif()
    if media in ("video", "audio"):
        _check_av(path)
    return True


@functools.cache
def _register_heif() -> bool:
    """Pillow's HEIF/AVIF opener, registered once per process; False if it cannot be."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except Exception:  # not installed, or a build without libheif
        return False
    return True


def _check_image(path: Path, fmt: str) -> None:
    if fmt in NEEDS_PLUGIN and not _register_heif():
        return
    if fmt == "png":
        verify_png(path, MAX_PIXELS)
        return
    if fmt == "jpeg":
        _check_jpeg_scans(path)
    try:
        with Image.open(path) as im:
            _decode(im, fmt)
    except UnreadableMedia:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableMedia(f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        if fmt in NEEDS_PLUGIN:
            return      # the installed decoder does not handle this variant: say nothing
        raise UnreadableMedia(f"not a decodable {fmt.upper()} image (Pillow cannot identify it)") from None
    except MemoryError:
        raise UnreadableMedia(f"the {fmt.upper()} image needs more memory to decode than is available") from None
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, struct.error... on bad data
        raise UnreadableMedia(
            f"cannot decode the {fmt.upper()} image (damaged or unsupported data): {_describe(exc)}") from None


def _decode(im: Image.Image, fmt: str) -> None:
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise UnreadableMedia(
            f"decompression bomb: {width}x{height} = {width * height:,} pixels exceeds the {MAX_PIXELS:,}-pixel limit")
    if width == 0 or height == 0:
        raise UnreadableMedia(f"the {fmt.upper()} image has no pixels ({width}x{height})")
    if fmt == "jpeg":
        im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
    frames = min(getattr(im, "n_frames", 1), MAX_FRAMES)
    for frame in range(frames):
        if frame:
            im.seek(frame)
        im.load()


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    if "truncated" in text.lower():
        return "the file ends before the image data does (truncated)"
    return text or type(exc).__name__


def _check_jpeg_scans(source: Path | BinaryIO) -> None:
    if hasattr(source, "read"):
        report = jpeg.walk(HashingReader(source))  # type: ignore[arg-type]
    else:
        with open(source, "rb") as fh:
            report = jpeg.walk(HashingReader(fh))
    if report.damage:
        more = f" (and {len(report.damage) - 1} more)" if len(report.damage) > 1 else ""
        raise UnreadableMedia(f"damaged JPEG image data: {report.damage[0]}{more}")
    if not report.ended:
        raise UnreadableMedia("truncated JPEG: the file ends inside the image data")


def _check_av(path: Path) -> None:
    size = path.stat().st_size
    # 0:V leaves out attached pictures: damaged cover art does not make the audio unreadable.
    run = run_ffmpeg(path, ["-map", "0:V?", "-map", "0:a?", "-c", "copy", "-f", "null", "-",
                            "-map", "0:V:0?", "-frames:v", "1", "-f", "null", "-"], timeout_for(size))
    if run.returncode != 0:
        raise UnreadableMedia(f"ffmpeg cannot read the file: {run.last_error}")
    damage = run.first_with(FFMPEG_DAMAGE)
    if damage:
        raise UnreadableMedia(f"damaged video/audio: {damage}")
