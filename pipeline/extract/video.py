"""Stub: video container tags (helper detect-provenance)."""
from __future__ import annotations

from pathlib import Path

from alice.pipeline.metadata import Metadata


def extract_video(path: Path, meta: Metadata) -> None:
    return None
