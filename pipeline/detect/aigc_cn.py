"""Detector stub: filled in by helper detect-provenance."""
from __future__ import annotations

from alice.pipeline.generation import Detection
from alice.pipeline.metadata import Metadata


def detect(meta: Metadata) -> Detection | None:
    return None
