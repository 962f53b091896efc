"""Which paths under an inbox the watcher must leave alone.

Browsers, rsync, editors and sync clients write to a temporary name and rename
when done; taking the temporary file would hand the pipeline a partial file.
The organized tree and the quarantine may sit inside an inbox; files there are
alice's own output and must never be taken again.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

IgnoreRule = Callable[[Path], bool]

# Lower-cased name endings of in-progress downloads and copies.
TEMP_SUFFIXES: tuple[str, ...] = (
    ".part", ".partial", ".crdownload", ".tmp", ".temp", ".download", ".filepart", ".opdownload", ".!qb",
)


def default_ignore(path: Path) -> bool:
    """True for temp/partial names: dotfiles (which includes `.quarantine`),
    download suffixes, editor backups ending in `~`."""
    name = path.name
    if not name or name.startswith(".") or name.endswith("~"):
        return True
    return name.lower().endswith(TEMP_SUFFIXES)


def make_ignore(excluded_roots: Iterable[Path] = (), base: IgnoreRule = default_ignore) -> IgnoreRule:
    """`base` plus everything at or under any of `excluded_roots`
    (pass the organized tree and the quarantine when they are nested in an inbox)."""
    roots = tuple(Path(r).absolute() for r in excluded_roots)

    def ignore(path: Path) -> bool:
        if base(path):
            return True
        p = Path(path).absolute()
        return any(p == r or r in p.parents for r in roots)

    return ignore


def ignored_under(inbox: Path, path: Path, ignore: IgnoreRule) -> bool:
    """True when `path` or any folder between `inbox` and it is ignored.

    Only the part below the inbox is judged, so an inbox that itself lives
    under a dot-folder (~/.local/share/...) still works.
    """
    try:
        rel = Path(path).relative_to(inbox)
    except ValueError:
        return True
    current = Path(inbox)
    for part in rel.parts:
        current = current / part
        if ignore(current):
            return True
    return not rel.parts
