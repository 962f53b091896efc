"""Keeping the socket API inside the configured roots (inboxes, organized tree, data dir).

Paths coming in are resolved (symlinks and '..' included) before the check, so
a link inside an inbox cannot lead out of it. Paths going out that are not
under a root (a catalog shared with another machine, a file the user moved
away) are replaced by null rather than disclosed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alice.daemon.api.protocol import OUTSIDE_ROOTS, RpcError

# Keys that hold paths without saying so in their name (event data: organized, duplicate, relocated).
_PATH_KEYS = frozenset({"source", "from", "of", "dest", "to"})


class PathGuard:
    def __init__(self, roots: list[Path]):
        self.roots = [Path(os.path.realpath(r)) for r in roots]

    def inside(self, path: str | Path) -> bool:
        if not isinstance(path, (str, Path)) or "\x00" in str(path) or not os.path.isabs(path):
            return False
        real = Path(os.path.realpath(path))
        return any(real == r or r in real.parents for r in self.roots)

    def check_in(self, path: str, within: list[Path] | None = None) -> Path:
        """The resolved path, or RpcError(OUTSIDE_ROOTS) saying which roots are allowed."""
        allowed = PathGuard(within) if within is not None else self
        if not allowed.inside(path):
            shown = ", ".join(str(r) for r in allowed.roots)
            raise RpcError(OUTSIDE_ROOTS, f"{str(path)[:300]!r} is not inside {shown}; "
                           "give an absolute path inside one of them", {"path": str(path)[:300]})
        return Path(os.path.realpath(path))

    def scrub(self, value: Any, key: str = "") -> Any:
        """`value` with every path-valued field (key ending in 'path') outside the roots set to null."""
        if isinstance(value, dict):
            return {k: self.scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v, key) for v in value]
        if isinstance(value, str) and (key.endswith("path") or key in _PATH_KEYS) and not self.inside(value):
            return None
        return value
