"""Detect Grok (xAI) images: EXIF ImageDescription "Signature: <base64>", Artist = a UUID.

Grok writes no prompt or settings, only this signed stamp; the signature and
the UUID go to raw so the catalog keeps them.
"""
from __future__ import annotations

import re

from alice.pipeline.detect.coerce import to_str
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_SIGNATURE_RE = re.compile(r"^\s*Signature:\s*([A-Za-z0-9+/_=-]{16,})\s*$")
_UUID_RE = re.compile(r"^\s*[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s*$")


def detect(meta: Metadata) -> Detection | None:
    description = to_str(meta.exif.get("ImageDescription"), cap=16 * 1024)
    match = _SIGNATURE_RE.match(description or "")
    if not match:
        return None
    evidence = ["exif:ImageDescription=Signature:"]
    raw = {"signature": match.group(1)}
    artist = to_str(meta.exif.get("Artist"), cap=100)
    if artist and _UUID_RE.match(artist):
        evidence.append("exif:Artist=uuid")
        raw["artist"] = artist.strip()
    return Detection(tool="grok", ai=True, evidence=evidence,
                     generation=Generation(width=meta.width, height=meta.height), raw=raw)
