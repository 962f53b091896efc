"""A media name and its sidecar name are one reservation: alice never replaces a file it did not write.

A user may keep their own `x.png.yaml` (notes, another tool's metadata) in
the tree. A later `x.png` must not land beside it, because its sidecar would
take that name. So a destination is free only when both names are free, or
hold what alice itself put there for the same bytes; and a sidecar is
written with a link that fails when the name was taken meanwhile, replacing
only a sidecar alice wrote for the same file.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from alice.daemon.fs import fileops
from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash

TAKEN = "taken"                  # never a file hash, so plan_destination moves on to the next name
_MAX_SIDECAR = 4 << 20           # bytes; a bigger file at a sidecar's name is not one of ours


def occupied(path: Path, expected_hash: str) -> str | None:
    """For plan_destination: the hash of what holds the media name, TAKEN if either name is held by
    something alice did not write for `expected_hash`, None if both are free."""
    there = _media_hash(path)
    side = sidecar.sidecar_path(path)
    if os.path.lexists(side) and not sidecar_is_ours(side, expected_hash):
        return TAKEN
    return there


def _media_hash(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return TAKEN             # a folder, a link, a FIFO the user put there
    try:
        return file_hash(path)
    except OSError:
        return TAKEN


def sidecar_is_ours(side: Path, expected_hash: str) -> bool:
    """Whether `side` is a sidecar alice wrote for a file with `expected_hash`."""
    try:
        st = os.lstat(side)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_SIDECAR:
            return False
        rec = sidecar.load(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, sidecar.SidecarError):
        return False
    except Exception:            # yaml's own errors: someone else's file
        return False
    return rec.file_hash == expected_hash


def write_sidecar(media: Path, text: str, expected_hash: str, *, sync_dir: bool = True) -> Path:
    """Write the sidecar of `media`; FileExistsError if its name holds a file alice did not write.
    sync_dir=False: the caller fsyncs the folder once for a group (fileops.write_text_atomic)."""
    side = sidecar.sidecar_path(media)
    fileops.write_text_atomic(side, text, may_replace=lambda p: sidecar_is_ours(p, expected_hash),
                              sync_dir=sync_dir)
    return side


def remove_sidecar(media: Path, expected_hash: str) -> None:
    """Remove the sidecar of a copy alice removes, only if alice wrote it."""
    side = sidecar.sidecar_path(media)
    if sidecar_is_ours(side, expected_hash):
        try:
            side.unlink()
        except FileNotFoundError:
            pass
