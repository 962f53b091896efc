"""Stub: C2PA manifest reading (helper detect-provenance)."""
from __future__ import annotations

from pathlib import Path


def read_c2pa(path: Path, fmt: str) -> tuple[bool, dict | None, list[str]]:
    return False, None, []
