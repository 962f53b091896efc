"""Putting a generated file into the project's inbox with its generation record inside.

The file is downloaded to a staging folder under data_dir (providers/download.py),
stamped there (PNG iTXt, JPEG/WebP XMP, MP4/MOV metadata tag via an ffmpeg stream
copy), checked to still have the content id of the bytes the provider sent, and
only then copied into `<inbox>/<project>/` by fileops.publish_copy: temp dot-name
(ignored by the watcher), fsync, verify, then a rename that never replaces.
The daemon's watcher therefore sees the finished, stamped file exactly once,
as a file moved in, which it takes at once. Staged files are removed only
after the inbox copy is in place, so a crash at any point leaves the paid-for
output somewhere.
"""
from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alice.daemon.fs import fileops
from alice.pipeline.alice_record import InvalidRecord, dump_record
from alice.pipeline.embed_record import EmbedError, embed_jpeg, embed_png, embed_webp
from alice.pipeline.ffmpeg import FfmpegUnavailable, ffmpeg_exe, timeout_for
from alice.pipeline.identity import Identity, UnreadableMedia, file_hash, identify
from alice.pipeline.sniff import HEAD_SIZE, sniff
from alice.providers.base import Provider
from alice.providers.download import DEFAULT_MAX_BYTES, fetch, output_name
from alice.providers.results import OutputFile

# Images are stamped in memory; a generated image is far smaller than this.
MAX_EMBED_BYTES = 256 * 1024 * 1024
_IMAGE_EMBEDDERS = {"png": embed_png, "jpeg": embed_jpeg, "webp": embed_webp}
_VIDEO_MUXERS = {"mp4": "mp4", "m4v": "mp4", "mov": "mov"}


@dataclass
class Delivered:
    path: Path                  # the file in the inbox
    content_id: str             # of the media payload: the same with or without the record
    file_hash: str              # of the delivered file, record included
    embedded: bool              # False: the format cannot carry the record (see warnings)
    warnings: list[str] = field(default_factory=list)


async def stage_output(output: OutputFile, staging: Path, *, stem: str | None = None,
                       provider: Provider | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Path:
    """Download `output` into the staging folder under a free name (never overwriting),
    through `provider`'s kept download client when given; a failed download leaves
    nothing behind."""
    with fileops.new_file(staging / output_name(output, stem)) as new:
        if provider is not None:
            await provider.fetch_output(output, new.file)
        else:
            await fetch(output, new.file, max_bytes=max_bytes)
    return new.path


def deliver(staged: Path, record: dict[str, Any], dest_dir: Path) -> Delivered:
    """Stamp `staged` with `record` and place it in `dest_dir`; the staged files are removed."""
    with open(staged, "rb") as fh:
        fmt, media = sniff(fh.read(HEAD_SIZE))
    original = _identify(staged, fmt, media)
    warnings: list[str] = []
    stamped = staged.with_name(staged.name + ".stamped")
    try:
        embedded = _stamp(staged, stamped, fmt, record, warnings)
        chosen, ident = staged, original
        if embedded:
            after = _identify(stamped, fmt, media)
            if after.content_id == original.content_id:
                chosen, ident = stamped, after
            else:
                embedded = False
                warnings.append(f"stamping changed the content id of this {fmt}; delivered without the record")
        final = _place(chosen, dest_dir / staged.name, ident.file_hash)
    finally:
        stamped.unlink(missing_ok=True)
    staged.unlink(missing_ok=True)
    return Delivered(final, original.content_id, ident.file_hash, embedded, warnings)


def _identify(path: Path, fmt: str, media: str) -> Identity:
    try:
        return identify(path, fmt, media)
    except UnreadableMedia:
        # A provider answer we cannot parse is still a paid-for file: keep it, keyed by its bytes.
        whole = file_hash(path)
        return Identity(whole, whole, path.stat().st_size, "file")


def _stamp(src: Path, out: Path, fmt: str, record: dict[str, Any], warnings: list[str]) -> bool:
    """Write `src` with the record into `out`; False (and a warning) when it cannot be done."""
    try:
        if fmt in _IMAGE_EMBEDDERS:
            size = src.stat().st_size
            if size > MAX_EMBED_BYTES:
                warnings.append(f"{fmt} of {size} bytes is too large to stamp in memory; delivered without the record")
                return False
            fileops.write_bytes_new(out, _IMAGE_EMBEDDERS[fmt](src.read_bytes(), record))
            return True
        if fmt in _VIDEO_MUXERS:
            return _stamp_video(src, out, _VIDEO_MUXERS[fmt], dump_record(record), warnings)
    except (EmbedError, InvalidRecord) as exc:
        warnings.append(f"cannot stamp the generation record into this {fmt}: {exc}")
        return False
    warnings.append(f"{fmt} files cannot carry the generation record; it is in the catalog only")
    return False


def _stamp_video(src: Path, out: Path, muxer: str, text: str, warnings: list[str]) -> bool:
    try:
        exe = ffmpeg_exe()
    except FfmpegUnavailable as exc:
        warnings.append(str(exc))
        return False
    # Stream copy: the encoded packets (what the content id hashes) pass through untouched.
    cmd = [exe, "-hide_banner", "-nostdin", "-v", "error", "-i", str(src), "-map", "0", "-map_metadata", "0",
           "-c", "copy", "-movflags", "use_metadata_tags", "-metadata", f"alice:generation={text}",
           "-f", muxer, str(out)]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, timeout=timeout_for(src.stat().st_size),
                                  check=False)
        except subprocess.TimeoutExpired:
            out.unlink(missing_ok=True)
            warnings.append("ffmpeg took too long to stamp the video; delivered without the record")
            return False
        err.seek(0)
        tail = err.read()[-500:].decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        out.unlink(missing_ok=True)
        warnings.append(f"ffmpeg could not stamp the video ({tail.splitlines()[-1] if tail else proc.returncode}); "
                        "delivered without the record")
        return False
    return True


def _place(src: Path, wanted: Path, expected_hash: str) -> Path:
    """A verified, fsynced copy of `src` in the inbox under `wanted`'s name, or the first free one
    after it; it appears by rename, which the watcher takes as a finished file."""
    return fileops.publish_copy(src, wanted, expected_hash)
