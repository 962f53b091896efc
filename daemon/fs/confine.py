"""Keeping every path alice reads inside the folders it was given.

A path from the command line (`alice organize PATHS`), the socket
(organize.scan) or a job row is accepted only if, with '..' taken away, it
lies inside one of the roots, no folder or file below the root on the way to
it is a symbolic link, and the kernel agrees (its real path is the same
place). The roots themselves may be links (~/AI-Inbox -> /data/inbox is the
user's own choice); nothing below them is ever followed.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


class OutsideRoots(ValueError):
    """A path that alice refuses to read; str() says why."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{os.fsdecode(path)}: {reason}")
        self.path = Path(path)
        self.reason = reason


@dataclass(frozen=True)
class Confined:
    path: Path          # absolute, '..' removed, no symlink below root
    root: Path          # the configured root it lies in (as configured)


def confine(path: Path | str, roots: list[Path], what: str = "inbox") -> Confined:
    """The path checked against `roots`, or OutsideRoots saying which rule it broke."""
    given = Path(path)
    text = os.fspath(given)
    if "\x00" in text:
        raise OutsideRoots(given, "the path contains a NUL character")
    # Strings, not PurePath arithmetic: every job the daemon takes is checked here.
    norm = os.path.abspath(text)                  # abspath also removes '..' and '.'
    for root in roots:
        root_abs = os.path.abspath(root)
        if norm != root_abs and not norm.startswith(root_abs.rstrip(os.sep) + os.sep):
            continue
        _no_links_below(root_abs, norm)
        if _dotted(text):
            # With no link below the root, the kernel resolves the path as written unless it
            # says '..' (after a link it climbs out of the link's target) or '.'.
            real_root = os.path.realpath(root_abs)
            expect = os.path.join(real_root, os.path.relpath(norm, root_abs)) if norm != root_abs else real_root
            if os.path.realpath(text) != os.path.normpath(expect):
                raise OutsideRoots(given, f"it leads outside the {what} {root} through a symbolic link; "
                                          "alice never follows links inside its folders")
        return Confined(Path(norm), Path(root))
    shown = ", ".join(str(r) for r in roots)
    how = " ('..' leads out of it)" if ".." in given.parts else ""
    raise OutsideRoots(given, f"not inside a configured {what}{how} ({shown}); add it to 'inboxes' in the "
                              "configuration or pass a path inside one")


def _dotted(path: str) -> bool:
    parts = path.split(os.sep)
    return ".." in parts or "." in parts or not os.path.isabs(path)


def _no_links_below(root: str, path: str) -> None:
    cur = root
    for part in os.path.relpath(path, root).split(os.sep):
        if part in ("", "."):
            continue
        cur = os.path.join(cur, part)
        try:
            st = os.lstat(cur)
        except FileNotFoundError:
            raise OutsideRoots(path, "it does not exist") from None
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(cur)
            raise OutsideRoots(path, f"{cur} is a symbolic link (to {os.fsdecode(target)}); alice never follows "
                                     "links inside the inboxes: move the files themselves into the inbox")
