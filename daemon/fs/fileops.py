"""Crash-safe file operations: the only code in alice that writes into the tree.

The invariant: at every instant, a user's bytes exist either at the source or
as a verified, fsynced copy at the destination (usually both). Copies are
written under a temporary dot-name in the destination folder, fsynced,
verified against the hash the pipeline computed, and only then given their
real name with a link that refuses to overwrite. Sources are removed only
by `remove_source`, which re-verifies the destination first.

Temporary names start with TEMP_PREFIX, so the watcher ignores them and
`sweep_temp` can remove what a crash left behind.
"""
from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import blake3

from alice.daemon.fs.crashpoints import checkpoint
from alice.pipeline.identity import file_hash

TEMP_PREFIX = ".alice-tmp-"
_CHUNK = 1 << 20


class PlacementError(OSError):
    """A file could not be placed; the source is untouched."""


class SourceChanged(PlacementError):
    """The source changed between hashing and copying (still being written?)."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """mkdir -p, fsyncing each new folder's parent so the folder survives a power cut."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass
        fsync_dir(d.parent)


def _link_no_replace(tmp: Path, dest: Path) -> None:
    """Give tmp its final name, failing with FileExistsError instead of overwriting."""
    try:
        os.link(tmp, dest)
        checkpoint("copy: linked, temp not yet removed")
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            # File systems without hard links (FAT, some network shares): rename after an
            # existence check. Not atomic against a concurrent writer, which is why it is the fallback.
            if dest.exists():
                raise FileExistsError(errno.EEXIST, "destination exists", str(dest)) from None
            os.rename(tmp, dest)
            return
        raise
    os.unlink(tmp)


@contextmanager
def temp_beside(dest: Path) -> Iterator[Path]:
    """A temporary name in dest's folder (same file system, so the final link/rename is
    atomic), removed if the block fails."""
    make_dirs(dest.parent)
    # File names are limited to 255 bytes, not characters.
    tail = dest.name.encode()[:200].decode(errors="ignore")
    tmp = dest.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{tail}"
    try:
        yield tmp
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def place_copy(source: Path, dest: Path, expected_hash: str) -> Path:
    """Copy source to dest (which must not exist), verified and durable.

    Raises FileExistsError if dest appeared meanwhile (the caller plans a new
    name), SourceChanged if the copied bytes do not hash to expected_hash.
    """
    h = blake3.blake3()
    with temp_beside(dest) as tmp:
        with open(source, "rb") as src, open(tmp, "xb") as out:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
                checkpoint("copy: partial temp file")
            out.flush()
            os.fsync(out.fileno())
        checkpoint("copy: temp file complete")
        got = "b3:" + h.hexdigest()
        if got != expected_hash:
            raise SourceChanged(errno.EIO, f"{source} changed while it was being copied "
                                f"(expected {expected_hash[:15]}, read {got[:15]}); it will be retried")
        try:
            st = source.stat()
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass
        _link_no_replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def place_bytes(data: bytes, dest: Path, mtime_ns: int | None = None, *, sync_dir: bool = True) -> Path:
    """Write bytes already read (and hashed) from the source to dest (which must not
    exist), durable; no second read of the source. FileExistsError if dest appeared
    meanwhile. With sync_dir=False the caller fsyncs dest's folder itself, once for a
    whole group of files, before it records any of them (group commit)."""
    with temp_beside(dest) as tmp:
        with open(tmp, "xb") as out:
            view = memoryview(data)
            for at in range(0, max(1, len(data)), _CHUNK):
                out.write(view[at:at + _CHUNK])
                checkpoint("copy: partial temp file")
            out.flush()
            os.fsync(out.fileno())
        checkpoint("copy: temp file complete")
        if mtime_ns is not None:
            try:
                os.utime(tmp, ns=(mtime_ns, mtime_ns))
            except OSError:
                pass
        _link_no_replace(tmp, dest)
    if sync_dir:
        fsync_dir(dest.parent)
    return dest


def write_text_atomic(dest: Path, text: str, *, sync_dir: bool = True) -> None:
    """Replace dest with text, never leaving a half-written file (sidecars, reason files).
    sync_dir=False: as for place_bytes, the caller fsyncs the folder for a group."""
    with temp_beside(dest) as tmp:
        with open(tmp, "x", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        checkpoint("text: temp written")
        os.replace(tmp, dest)
    if sync_dir:
        fsync_dir(dest.parent)


def remove_source(source: Path, kept_copy: Path, expected_hash: str) -> bool:
    """Delete source only if kept_copy still holds exactly its bytes. Returns True if removed."""
    if not kept_copy.is_file() or file_hash(kept_copy) != expected_hash:
        return False
    try:
        if file_hash(source) != expected_hash:
            return False  # the source was rewritten since it was filed; keep it for the next run
        checkpoint("move: copy verified, source not yet removed")
        source.unlink()
    except FileNotFoundError:
        return True
    fsync_dir(source.parent)
    return True


def sweep_temp(root: Path) -> list[Path]:
    """Remove temporary files a crash left under root. Returns what was removed.

    Safe because a temp file is never the only copy: sources are removed only
    after the temp file has been renamed into place and recorded.
    """
    removed: list[Path] = []
    if not root.exists():
        return removed
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TEMP_PREFIX):
                p = Path(dirpath) / name
                try:
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:
                    pass
    return removed
