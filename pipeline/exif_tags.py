"""Every EXIF tag of a file, for a person who wants them all (`alice inspect --exif`).

Detection reads the ~20 tags it needs with alice's own bounded parser
(pipeline/extract/exif.py). Camera, lens, exposure and GPS tags are only ever
shown, never acted on, so they come from exifread, which knows all of them
by name. Values are shown as text, each cut to a readable length.
"""
from __future__ import annotations

import warnings
from pathlib import Path

MAX_VALUE = 300
_SKIP = ("JPEGThumbnail", "TIFFThumbnail", "Thumbnail ")     # the embedded preview and its own IFD


def every_exif_tag(path: Path) -> dict[str, str]:
    """{"Image Make": "NIKON", "GPS GPSLatitude": "[52, 22, 3021/100]", ...}; {} when there is no EXIF."""
    import exifread

    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tags = exifread.process_file(fh, details=False)
        except Exception:       # exifread raises assorted types on damaged blocks; show nothing then
            return {}
    out = {}
    for name, tag in sorted(tags.items()):
        if name.startswith(_SKIP):
            continue
        text = str(tag).replace("\x00", "").strip()
        out[name] = text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"
    return out
