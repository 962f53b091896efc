"""`alice inspect --exif`: every EXIF tag a camera wrote, by name; nothing for a file without EXIF."""
from __future__ import annotations

import json
import subprocess

from tests.corpus_paths import CORPUS
from tests.organize_env import ALICE


def test_inspect_exif_lists_camera_lens_exposure_and_gps():
    photo, plain = CORPUS / "camera-nikon-gps.jpg", CORPUS / "tiny-no-metadata.png"
    out = subprocess.run([str(ALICE), "inspect", "--exif", "--json", str(photo), str(plain)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    first, second = (json.loads(line) for line in out.splitlines())
    exif = first["exif"]
    assert exif["Image Make"].upper().startswith("NIKON")
    assert {"EXIF ExposureTime", "EXIF FNumber", "EXIF ISOSpeedRatings", "GPS GPSLatitude"} <= set(exif)
    assert not any("Thumbnail" in k for k in exif)
    assert second["exif"] == {}
    without = subprocess.run([str(ALICE), "inspect", "--json", str(photo)], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert "exif" not in json.loads(without)
    text = subprocess.run([str(ALICE), "inspect", "--exif", str(photo)], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "GPS GPSLatitude" in text and "EXIF ExposureTime" in text
