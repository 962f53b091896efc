"""The import pipeline for one file: sniff, detect, hash, check, assess, describe.

Each stage lives in its own module; this one only decides their order and
turns their answers into an `AssetRecord` or a `Rejected` with a reason. It is
pure (reads the file, writes nothing), so the daemon can run it in a worker
process and the organizer can run it in a dry run.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alice.pipeline.identity import MediaTimeout, UnreadableMedia, identify
from alice.pipeline.inspect import inspect_file
from alice.pipeline.integrity import check
from alice.pipeline.lineage import parents_of
from alice.pipeline.perceptual import perceptual_hash
from alice.pipeline.record import AssetRecord


@dataclass
class Rejected:
    """A file the pipeline cannot accept; it goes to quarantine with this reason."""

    path: Path
    reason: str
    format: str = "unknown"
    media: str = "other"
    size: int = 0


def local_datetime(value: str | datetime | None, fallback_epoch: float) -> datetime:
    """The generation date if the file states one, else its mtime, as local aware time."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            dt = None  # type: ignore[assignment]
    else:
        dt = None  # type: ignore[assignment]
    if dt is None:
        return datetime.fromtimestamp(fallback_epoch, tz=UTC).astimezone()
    if dt.tzinfo is None:
        # Tools write naive local times (EXIF DateTimeOriginal, A1111): they mean the maker's
        # local clock, and the maker is almost always the user of this machine.
        return dt.astimezone()
    return dt.astimezone()


def analyze(path: Path, project: str, quality: Any = None) -> AssetRecord | Rejected:
    """Read one file into an AssetRecord, or say why it cannot be accepted.

    `quality` is a QualityConfig (or None to skip the local quality stage).
    Never raises for bad file content; OSError from the file system (the file
    vanished, permission denied) propagates, since that is not the file's fault.
    """
    path = Path(path)
    st = path.stat()
    if st.st_size == 0:
        return Rejected(path, "file is empty (0 bytes)")
    info = inspect_file(path)
    try:
        ident = identify(path, info.format, info.media)
        if info.media in ("image", "video", "audio"):
            check(path, info.format, info.media)
    except MediaTimeout as exc:
        # Slowness is not damage: a busy machine or a huge video. Retry later, don't quarantine.
        raise TimeoutError(f"{path}: {exc}") from exc
    except UnreadableMedia as exc:
        return Rejected(path, str(exc), info.format, info.media, st.st_size)

    created = local_datetime(info.generation.created_at or info.created_at, st.st_mtime)
    record = AssetRecord(
        content_id=ident.content_id,
        file_hash=ident.file_hash,
        size=ident.size,
        format=info.format,
        media=info.media,
        tool=info.tool,
        ai=info.ai,
        project=project,
        source_path=str(path.absolute()),
        created_at=created,
        width=info.width,
        height=info.height,
        evidence=list(info.evidence),
        generation=info.generation,
        raw=info.raw,
        warnings=list(info.warnings) + ([info.error] if info.error else []),
        parents=parents_of(info.raw),
    )
    if info.media == "image":
        record.perceptual_hash = perceptual_hash(path)
    if quality is not None and info.media in ("image", "video"):
        _assess(path, info.media, record, quality)
    return record


def _assess(path: Path, media: str, record: AssetRecord, quality: Any) -> None:
    from alice.pipeline.quality.cascade import stars_for
    from alice.pipeline.quality.technical import AssessmentError, assess_image, assess_video

    try:
        result = assess_image(path, quality) if media == "image" else assess_video(path, quality)
    except (AssessmentError, OSError) as exc:
        record.warnings.append(f"quality: {exc}")
        return
    record.quality = {"score": result.score, "technical": result.to_dict()}
    record.stars = stars_for(result.score, quality.star_thresholds)
