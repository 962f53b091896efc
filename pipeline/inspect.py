"""inspect_file(path) -> Inspection: one file's format, AI tool and generation settings.

The one entry point the CLI (`alice inspect`) and the import pipeline use:
extract the container's metadata, run the detectors, and package the answer
with a user-readable `error` when the file is damaged. It never raises for
anything a file contains.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

from alice.pipeline.detect import detect
from alice.pipeline.detect.coerce import to_datetime
from alice.pipeline.extract import UnreadableFile, extract, extract_from
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

__all__ = ["Inspection", "inspect_file", "inspect_open", "iter_paths", "preload"]


@dataclass
class Inspection:
    path: Path
    format: str
    media: str
    ai: bool = False
    tool: str | None = None
    evidence: list[str] = field(default_factory=list)
    generation: Generation = field(default_factory=Generation)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    width: int | None = None
    height: int | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The `alice inspect --json` object for this file; `alice` only when it carries alice's record."""
        made = alice_part(self.raw)
        return {**({"alice": made} if made else {}),
            "path": str(self.path),
            "format": self.format,
            "media": self.media,
            "ai": self.ai,
            "tool": self.tool,
            "evidence": list(self.evidence),
            "generation": self.generation.to_dict(),
            "error": self.error,
            "warnings": list(self.warnings),
        }


def alice_part(raw: dict[str, Any]) -> dict[str, Any] | None:
    """What alice's own record says about a file it generated: the provider and model, the ComfyUI
    graph it ran, what it was recreated or varied from with which overrides, and its parents."""
    if raw.get("alice_generation") is None or not raw.get("provider"):
        return None
    given = raw.get("params")
    params: dict[str, Any] = given if isinstance(given, dict) else {}
    part = {"provider": raw["provider"], "model": raw.get("model"), "request_id": raw.get("request_id"),
            "references": list(raw.get("references") or [])}
    if isinstance(params.get("graph"), dict):
        part["graph"] = params["graph"]
    else:
        part["params"] = params
    if isinstance(raw.get("rerun"), dict):
        part["rerun"] = raw["rerun"]
    if isinstance(raw.get("parents"), list):
        part["parents"] = raw["parents"]
    return part


def _exif_datetime(meta: Metadata) -> datetime | None:
    """EXIF DateTimeOriginal, with its OffsetTimeOriginal when the camera wrote one."""
    for tag, offset_tag in (("DateTimeOriginal", "OffsetTimeOriginal"), ("DateTimeDigitized", "OffsetTime")):
        value = meta.exif.get(tag)
        parsed = to_datetime(value) if isinstance(value, str) else None
        if parsed is None or parsed.year < 1970:
            continue
        offset = meta.exif.get(offset_tag)
        if parsed.tzinfo is None and isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-":
            try:
                sign = 1 if offset[0] == "+" else -1
                delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
                parsed = parsed.replace(tzinfo=timezone(sign * delta))
            except ValueError:
                pass
        return parsed
    return None


def _created_at(generation: Generation, meta: Metadata) -> datetime | None:
    parsed = to_datetime(generation.created_at) if generation.created_at else None
    return parsed or _exif_datetime(meta)


def inspect_file(path: Path, *, verify_c2pa: bool = True) -> Inspection:
    """Read `path` and say which AI tool made it. Never raises; problems go to `error`/`warnings`.

    verify_c2pa=False: see extract(); for a read-only look (`alice inspect`), not for filing.
    """
    return _inspect(Path(path), lambda: extract(Path(path), verify_c2pa=verify_c2pa))


def inspect_open(fh: BinaryIO, path: Path, via: Path | None = None) -> Inspection:
    """inspect_file for a file the caller holds open (or its bytes in a BytesIO); filing uses
    it, so the C2PA manifest is verified. `via`: where ffmpeg reads the same file (extract_from)."""
    return _inspect(Path(path), lambda: extract_from(fh, Path(path), via=via))


def _inspect(path: Path, read: Callable[[], Metadata]) -> Inspection:
    try:
        meta = read()
    except UnreadableFile as exc:
        return Inspection(path=path, format="unknown", media="other", error=exc.strerror or str(exc))
    except Exception as exc:  # noqa: BLE001 - last line of defence for a daemon that runs for months
        return Inspection(path=path, format="unknown", media="other",
                          error=f"internal error while reading the file: {type(exc).__name__}: {exc}")
    try:
        detection = detect(meta)
    except Exception as exc:  # noqa: BLE001 - detect() promises not to raise; do not trust it with a file
        meta.warnings.append(f"internal error in detection: {type(exc).__name__}: {exc}")
        detection = Detection.none()
    return Inspection(
        path=path,
        format=meta.format,
        media=meta.media,
        ai=detection.ai,
        tool=detection.tool,
        evidence=detection.evidence,
        generation=detection.generation,
        error=meta.error,
        warnings=list(meta.warnings),
        width=meta.width,
        height=meta.height,
        raw=detection.raw,
        created_at=_created_at(detection.generation, meta),
    )


# What files will likely need beyond the detectors, by their names' suffixes: a hint for preload
# only (names lie; a file that needs more imports it itself). PNG is in neither the Pillow nor the
# C2PA list: most PNGs rule stealth data out without Pillow, and few carry C2PA.
_EXIF_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff"}
_PILLOW_SUFFIXES = {".webp"}
_VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".m4a", ".3gp", ".3g2"}
_C2PA_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".webp", ".heic", ".heif", ".avif", ".mp4", ".mov", ".m4v", ".m4a"}


def preload(paths: Iterable[Path]) -> None:
    """Import now what reading `paths` will likely import, for a process about to fork readers.

    inspect_file imports what a file needs when a file needs it (a detector when
    it is reached, exifread for EXIF, Pillow for a stealth-pnginfo decode, the
    video reader, c2pa), so `alice inspect FILE` pays for that file's needs only.
    Forked workers would each import the same modules again, some 45 ms apiece
    on a mixed folder; imported before the fork, they are paid for once. What
    the files will need is guessed from their names, so a folder of PNGs is not
    charged for the JPEG, video and C2PA readers.
    """
    import codecs
    import importlib

    from alice.pipeline.detect import detectors
    from alice.pipeline.extract.c2pa import load_c2pa

    suffixes = {Path(p).suffix.lower() for p in paths}
    for _ in detectors():       # every worker reaches most of them: any file no early detector claims
        pass
    modules = []
    if suffixes & _EXIF_SUFFIXES:
        modules += ["exifread.tags.exif", "alice.pipeline.extract.exif_header"]
    if suffixes & _PILLOW_SUFFIXES:
        modules += ["PIL.Image", "PIL.WebPImagePlugin", "PIL.PngImagePlugin"]
    if suffixes & _VIDEO_SUFFIXES:
        modules.append("alice.pipeline.extract.video")
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            pass        # missing or broken: the file that needs it reports it
    if suffixes & _C2PA_SUFFIXES:
        try:
            load_c2pa()
        except ImportError:
            pass
    datetime.strptime("2000", "%Y")     # loads _strptime (EXIF and PNG dates)
    for encoding in ("utf-16-be", "utf-16-le"):     # EXIF UserComment
        codecs.lookup(encoding)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def iter_paths(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Files named in `paths`, walking directories (sorted, hidden entries and symlinked dirs skipped)."""
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not _hidden(d))
            for name in sorted(files):
                if not _hidden(name):
                    yield Path(root) / name
