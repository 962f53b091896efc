"""extract(path) -> Metadata: everything the container says, without pixels.

Dispatches on the sniffed format to one reader per container, then hands
C2PA and video/audio containers to their own readers (extract/c2pa.py,
extract/video.py). Bad data never raises: it lands in Metadata.error (the
container is broken) or Metadata.warnings (something was capped or skipped).
"""
from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from alice.pipeline.extract.c2pa import read_c2pa
from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.extract.gif import read_gif
from alice.pipeline.extract.heif import read_heif
from alice.pipeline.extract.jpeg import read_jpeg
from alice.pipeline.extract.limits import TEXT_CAP, TextBudget
from alice.pipeline.extract.png import read_png
from alice.pipeline.extract.webp import read_webp
from alice.pipeline.metadata import Metadata
from alice.pipeline.sniff import HEAD_SIZE, sniff

__all__ = ["UnreadableFile", "extract"]

C2PA_FORMATS = {"png", "jpeg", "webp", "avif", "heic", "heif", "mp4", "mov", "m4v"}
# Containers whose own reader already walks every place a C2PA store can be (PNG caBX,
# JPEG APP11, WebP C2PA chunk): when it saw none, there is nothing for read_c2pa to find.
_SCANNED_FOR_C2PA = {"png", "jpeg", "webp"}


class UnreadableFile(OSError):
    """The file cannot be opened or read at all (missing, a directory, no permission, I/O error)."""


def _read_tiff(f: BinaryIO, size: int, meta: Metadata, budget: TextBudget) -> None:
    f.seek(0)
    meta.exif = parse_exif(f.read(budget.grant(min(size, TEXT_CAP))), meta.warnings)
    meta.width = meta.exif.get("ImageWidth") if isinstance(meta.exif.get("ImageWidth"), int) else None
    meta.height = meta.exif.get("ImageLength") if isinstance(meta.exif.get("ImageLength"), int) else None


_READERS: dict[str, Callable[[BinaryIO, int, Metadata, TextBudget], None]] = {
    "png": read_png,
    "jpeg": read_jpeg,
    "webp": read_webp,
    "gif": read_gif,
    "heic": read_heif,
    "heif": read_heif,
    "avif": read_heif,
    "tiff": _read_tiff,
}


def _move_exif_xmp(meta: Metadata) -> None:
    """TIFF tag 700 holds an XMP packet (TIFF files, some EXIF blocks): it belongs in Metadata.xmp."""
    xmp = meta.exif.pop("XMP", None)
    if isinstance(xmp, str) and meta.xmp is None:
        meta.xmp = xmp


def _fill_size_from_exif(meta: Metadata) -> None:
    if meta.width is None:
        width, height = meta.exif.get("PixelXDimension"), meta.exif.get("PixelYDimension")
        if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
            meta.width, meta.height = width, height


def _read_provenance(path: Path, meta: Metadata, verify_c2pa: bool, fh: BinaryIO | None = None,
                     via: Path | None = None) -> None:
    """The other readers' results; they promise not to raise, but a file must never be lost to a bug."""
    scanned = meta.format in _SCANNED_FOR_C2PA and meta.error is None
    if meta.format in C2PA_FORMATS and (meta.c2pa_present or not scanned):
        try:
            present, manifest, warnings = read_c2pa(path, meta.format, verify=verify_c2pa, fh=fh)
            meta.c2pa_present = meta.c2pa_present or present
            meta.c2pa = manifest
            meta.warnings.extend(warnings)
        except Exception as exc:  # noqa: BLE001 - isolation boundary
            meta.warnings.append(f"internal error while reading C2PA: {type(exc).__name__}: {exc}")
    if meta.media in ("video", "audio") and meta.format not in _READERS:
        # Imported here: the video reader pulls in subprocess/ffmpeg plumbing images never need.
        from alice.pipeline.extract.video import extract_video

        try:
            extract_video(via if via is not None else path, meta)
        except Exception as exc:  # noqa: BLE001 - isolation boundary
            meta.warnings.append(f"internal error while reading video tags: {type(exc).__name__}: {exc}")


def extract(path: Path, *, verify_c2pa: bool = True) -> Metadata:
    """Read what `path` says about itself. Raises UnreadableFile only if it cannot be opened.

    verify_c2pa=False reads a C2PA manifest without validating it (see read_c2pa):
    the same detection for a tenth of the cost, for looks that record nothing.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # A FIFO would block open() forever; a device could be endless.
            raise UnreadableFile(errno.EINVAL, f"{path} is not a regular file (a directory, pipe or device)",
                                 str(path))
        handle = open(path, "rb")
    except UnreadableFile:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UnreadableFile(exc.errno, f"cannot open {path}: {reason}", str(path)) from exc
    with handle as f:
        return _extract_open(f, path, verify_c2pa)


def extract_from(fh: BinaryIO, path: Path, *, verify_c2pa: bool = True, via: Path | None = None) -> Metadata:
    """What the file open as `fh` (seekable, at its start) says about itself; `path` names it
    in messages and is handed to ffmpeg for video tags, unless `via` names the same file
    for reading (the filing path's descriptor). Reads nothing else by path for images,
    so the bytes the caller already holds are the bytes described."""
    return _extract_open(fh, Path(path), verify_c2pa, via)


def _extract_open(f: BinaryIO, path: Path, verify_c2pa: bool = True, via: Path | None = None) -> Metadata:
    if True:
        try:
            size = os.fstat(f.fileno()).st_size if _has_fileno(f) else _seek_size(f)
            head = f.read(HEAD_SIZE)
        except OSError as exc:
            raise UnreadableFile(exc.errno, f"cannot read {path}: {exc.strerror or exc}", str(path)) from exc
        fmt, media = sniff(head)
        meta = Metadata(path=path, format=fmt, media=media, size=size)
        if size == 0:
            meta.error = "file is empty (0 bytes)"
            return meta
        reader = _READERS.get(fmt)
        if reader is not None:
            try:
                reader(f, size, meta, TextBudget())
            except OSError as exc:
                meta.error = f"read error: {exc.strerror or exc}"
            except Exception as exc:  # noqa: BLE001 - a parser bug must not lose the file
                meta.error = f"internal error while reading {fmt.upper()} metadata: {type(exc).__name__}: {exc}"
        elif fmt == "unknown":
            meta.error = f"not a recognised image, video or audio format (starts with {head[:8].hex(' ')})"
    _move_exif_xmp(meta)
    _fill_size_from_exif(meta)
    if meta.animated and meta.media == "image":
        meta.media = "video"
    _read_provenance(path, meta, verify_c2pa, f, via)
    return meta


def _has_fileno(f: BinaryIO) -> bool:
    try:
        f.fileno()
        return True
    except (OSError, AttributeError, ValueError):
        return False


def _seek_size(f: BinaryIO) -> int:
    at = f.tell()
    size = f.seek(0, os.SEEK_END)
    f.seek(at)
    return size
