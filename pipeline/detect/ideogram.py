"""Detect Ideogram images: EXIF Make = "Ideogram AI".

Ideogram stamps only the camera-make field; it writes no prompt or settings,
so the reading is the tool and the EXIF it came with.
"""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_iso, to_str
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def detect(meta: Metadata) -> Detection | None:
    make = to_str(meta.exif.get("Make"), cap=200)
    if not make or make.strip().lower() != "ideogram ai":
        return None
    model = to_str(meta.exif.get("Model"), cap=200)
    raw = {k: to_str(meta.exif.get(k), cap=2000) for k in ("Make", "Model", "Software", "ImageDescription")
           if meta.exif.get(k) is not None}
    return Detection(
        tool="ideogram",
        ai=True,
        evidence=[f"exif:Make={make}"],
        generation=Generation(
            model=model if model and model.lower() != make.lower() else None,
            width=meta.width,
            height=meta.height,
            created_at=to_iso(meta.exif.get("DateTimeOriginal") or meta.exif.get("DateTime")),
        ),
        raw=raw,
    )
