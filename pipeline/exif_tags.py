"""Every EXIF tag of a file, for a person who wants them all (`alice inspect --exif`).

Detection reads the ~25 tags it needs through pipeline/extract/exif.py, an
adapter over exifread with alice's bounds and UserComment decoding. This lists
every tag exifread knows by name (camera, lens, exposure, GPS), only ever
shown, never acted on. Values are shown as text, each cut to a readable length.
"""
from __future__ import annotations

import warnings
from pathlib import Path

MAX_VALUE = 300
_SKIP = ("JPEGThumbnail", "TIFFThumbnail", "Thumbnail ")     # the embedded preview and its own IFD


def every_exif_tag(path: Path) -> dict[str, str]:
    """{"Image Make": "NIKON", "GPS GPSLatitude": "[52, 22, 3021/100]", ...}; {} when there is no EXIF."""
    import exifread

    from alice.pipeline.extract.exif import quiet_exifread_logger

    quiet_exifread_logger()
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
