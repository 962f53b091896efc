"""What a file's name claims to be, to hold against what its bytes are.

Only media become assets. A file whose bytes are no supported media is left
where it is and reported; but one whose name says it is media (a zip or a
PDF named .png, random bytes named .jpg) is damaged or disguised, and is
quarantined with a reason, like a truncated image.
"""
from __future__ import annotations

import os

MEDIA = frozenset({"image", "video", "audio"})

_CLAIMS = {
    "image": ("png", "jpg", "jpeg", "jpe", "jfif", "webp", "gif", "bmp", "tif", "tiff", "heic", "heif",
              "avif", "jxl", "jp2", "psd", "apng"),
    "video": ("mp4", "m4v", "mov", "webm", "mkv", "avi", "3gp"),
    "audio": ("mp3", "wav", "flac", "ogg", "oga", "m4a", "aac", "opus"),
}
_BY_EXT = {ext: media for media, exts in _CLAIMS.items() for ext in exts}


def claimed_media(name: str) -> str | None:
    """"image", "video" or "audio" if the name's extension says so, else None."""
    ext = os.path.splitext(name)[1].lower().lstrip(".")
    return _BY_EXT.get(ext)
