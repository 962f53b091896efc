"""Finding a free name in the tree: what is at a path, and publishing a finished temp file.

The rule itself (which names, in which order, where the extension starts) is
`alice.pipeline.plan.candidate_names`, pure so that planning can use it
without I/O; this module is the I/O side of it, shared by filing,
quarantine, relocation, delivery and downloads.
"""
from __future__ import annotations

import os
from pathlib import Path

from alice.daemon import errors
from alice.daemon.fs.atomic_rename import NoReplaceUnsupported, rename_no_replace
from alice.pipeline.identity import file_hash
from alice.pipeline.plan import candidate_names


class NoFreeName(OSError, errors.MoveFailed):
    """Every candidate name was taken."""


def occupied(path: Path) -> str | None:
    """The file_hash of the file at `path`, or None when nothing readable is there."""
    try:
        return file_hash(path) if path.is_file() else None
    except OSError:
        return None


def publish(tmp: Path, wanted: Path) -> Path:
    """Give the finished file `tmp` the first free name of `candidate_names(wanted.name)`
    in wanted's folder, never replacing anything; `tmp` is gone afterwards.

    It appears by rename where the system can rename without replacing, which
    a watcher takes as a file moved in (ready at once); else by a link.
    """
    for name in candidate_names(wanted.name):
        target = wanted.with_name(name)
        try:
            _appear(tmp, target)
        except FileExistsError:
            continue
        return target
    raise NoFreeName(f"no free name for {wanted.name} in {wanted.parent}")


def _appear(tmp: Path, target: Path) -> None:
    try:
        rename_no_replace(tmp, target)
    except NoReplaceUnsupported:
        # Still never overwrites; a watcher just takes longer to trust a linked file.
        os.link(tmp, target)
        os.unlink(tmp)
