"""The import pipeline for one file: sniff, detect, hash, check, describe; pixels apart.

Each stage lives in its own module; this one only decides their order and
turns their answers into an `AssetRecord` or a `Rejected` with a reason. It is
pure (reads the file, writes nothing), so the daemon and the organizer run it
in their filing threads and a dry run runs it too.

One read: the file is read once, from one descriptor, into memory (files up
to MAX_IN_MEMORY; bigger ones, in practice long videos, are streamed from
`via`, the caller's name for that same descriptor). Metadata, both hashes,
the integrity check and the copy the daemon places all come from those bytes.

What stays on the filing path and what waits (measured: bench/ingest_bench.py):
  filing   -- metadata, content id and file hash, the structural integrity
              check (PNG chunk structure and every pixel chunk's CRC; JPEG
              scan walk; ffmpeg for video). No pixel decode for PNG and JPEG:
              decoding a 1024x1024 PNG costs more than everything else on
              the path together, and the CRCs already catch damaged bytes.
  pixels   -- one decode (pipeline/pixels.py), shared by the perceptual
              hash, the technical quality stage and the pixel-level check;
              the file is already filed and searchable, these facts are
              filled into the catalog and the sidecar afterwards
              (daemon/ingest/pixel_stage.py).
Formats with no structural check (WebP, GIF, BMP, HEIC/AVIF) are decoded on
the filing path, since only a decode tells a damaged one apart, and that one
decode fills their pixel facts too.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alice.pipeline.identity import MediaTimeout, UnreadableMedia, identify
from alice.pipeline.inspect import inspect_open
from alice.pipeline.integrity import check, check_structure
from alice.pipeline.lineage import parents_of
from alice.pipeline.pixels import DEFAULT_BUDGET, Budget, PixelFacts, decode_facts
from alice.pipeline.record import AssetRecord

# Bigger files (in practice videos) are streamed by path instead of held in memory: filing
# threads x this bounds what the daemon holds.
MAX_IN_MEMORY = 64 * 2**20


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
    dt: datetime | None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            dt = None
    else:
        dt = None
    if dt is None:
        return datetime.fromtimestamp(fallback_epoch, tz=UTC).astimezone()
    if dt.tzinfo is None:
        # Tools write naive local times (EXIF DateTimeOriginal, A1111): they mean the maker's
        # local clock, and the maker is almost always the user of this machine.
        return dt.astimezone()
    return dt.astimezone()


def read_once(path: Path) -> tuple[bytes | None, os.stat_result]:
    """The file's bytes (None past MAX_IN_MEMORY) and its stat, from one descriptor."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_from(fd, path)
    finally:
        os.close(fd)


def read_from(fd: int, path: Path) -> tuple[bytes | None, os.stat_result]:
    """read_once for a descriptor the caller opened (and keeps): its bytes, None past
    MAX_IN_MEMORY, and its fstat. `path` only names the file in the error."""
    st = os.fstat(fd)
    if st.st_size > MAX_IN_MEMORY:
        return None, st
    # pread: the descriptor's offset stays where it was, and one byte more than the size
    # tells a file that grew since the fstat.
    want = st.st_size + 1
    parts: list[bytes] = []
    got = 0
    while got < want:
        chunk = os.pread(fd, want - got, got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(data) != st.st_size:
        # Written to while we read: the caller treats it as not settled yet.
        raise OSError(f"{path} changed size while it was being read ({st.st_size} -> {len(data)} bytes)")
    return data, st


def analyze(path: Path, project: str, quality: Any = None, *, pixels: bool = True,
            budget: Budget = DEFAULT_BUDGET) -> AssetRecord | Rejected:
    """Read one file (once) into an AssetRecord, or say why it cannot be accepted.

    `quality` is a QualityConfig (or None to skip the local quality stage).
    `pixels`: decode the pixels now (perceptual hash, quality); with False the
    record says `pixels_pending` and the pixel stage does it later.
    Never raises for bad file content; OSError from the file system (the file
    vanished, permission denied) propagates, since that is not the file's fault.
    """
    path = Path(path)
    data, st = read_once(path)
    return analyze_bytes(data, path, st.st_size, st.st_mtime, project, quality, pixels=pixels, budget=budget)


def analyze_bytes(data: bytes | None, path: Path, size: int, mtime: float, project: str, quality: Any = None,
                  *, pixels: bool = True, budget: Budget = DEFAULT_BUDGET,
                  via: Path | None = None) -> AssetRecord | Rejected:
    """analyze() for bytes the caller read (None: stream from the file, for huge files).

    `path` names the file (record, reasons); what still has to be read from the file
    (a huge file's stream, ffmpeg's input) is read from `via` when given: the
    filing path passes its descriptor's /proc name, so every read is of the file it
    opened, whatever is put at `path` meanwhile."""
    path = Path(path)
    src = Path(via) if via is not None else path
    if size == 0:
        return Rejected(path, "file is empty (0 bytes)")
    if data is None:
        with open(src, "rb") as fh:
            info = inspect_open(fh, path, src)
    else:
        info = inspect_open(io.BytesIO(data), path, src)
    facts: PixelFacts | None = None
    try:
        ident = identify(src, info.format, info.media, data=data)
        settled = True
        if info.media in ("image", "video", "audio"):
            if data is None:
                check(src, info.format, info.media)
            else:
                settled = check_structure(data, info.format, info.media, src)
        if not settled:
            # No structural check for this format: its one decode is the check, and serves the pixel facts.
            facts = decode_facts(data, quality=quality, budget=budget, all_frames=True)  # type: ignore[arg-type]
            if facts.damage:
                raise UnreadableMedia(facts.damage)
    except MediaTimeout as exc:
        # Slowness is not damage: a busy machine or a huge video. Retry later, don't quarantine.
        raise TimeoutError(f"{path}: {exc}") from exc
    except UnreadableMedia as exc:
        return Rejected(path, str(exc), info.format, info.media, size)

    created = local_datetime(info.generation.created_at or info.created_at, mtime)
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
    if facts is not None:
        apply_pixel_facts(record, facts)
    elif needs_pixels(record, quality):
        if not pixels:
            record.pixels_pending = True
        elif record.media == "image":
            facts = decode_facts(data if data is not None else src.read_bytes(), quality=quality, budget=budget)
            if facts.damage:
                return Rejected(path, facts.damage, info.format, info.media, size)
            apply_pixel_facts(record, facts)
        else:
            _assess_video(src, record, quality)
    return record


def needs_pixels(record: AssetRecord, quality: Any) -> bool:
    """Whether the pixel stage has anything to do for this record."""
    return record.media == "image" or (record.media == "video" and quality is not None)


def apply_pixel_facts(record: AssetRecord, facts: PixelFacts) -> None:
    record.perceptual_hash = facts.perceptual_hash
    if facts.quality is not None:
        record.quality = facts.quality
        record.stars = facts.stars
    record.warnings.extend(w for w in facts.warnings if w not in record.warnings)
    if facts.damage:
        record.warnings.append(f"pixels: {facts.damage}")
    record.pixels_pending = False


def _assess_video(path: Path, record: AssetRecord, quality: Any) -> None:
    from alice.pipeline.quality.cascade import stars_for
    from alice.pipeline.quality.technical import AssessmentError, assess_video

    try:
        result = assess_video(path, quality)
    except (AssessmentError, OSError) as exc:
        record.warnings.append(f"quality: {exc}")
        return
    record.quality = {"score": result.score, "technical": result.to_dict()}
    record.stars = stars_for(result.score, quality.star_thresholds)
