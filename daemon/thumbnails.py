"""The thumbnail cache: each content drawn once per size, in <data_dir>/thumbnails, reused by every caller.

Keyed by content id (the same picture filed twice is drawn once) and size.
Bounded: a hit refreshes the file's mtime, and after every PRUNE_EVERY new
thumbnails the least recently used beyond `thumbnails.max_files` are deleted
(mtime, not atime: many file systems mount with noatime or relatime). The
cache is ours alone, so a thumbnail replaces a half-written one atomically
rather than through the no-overwrite helpers that guard the user's files.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from alice.daemon.fs.fileops import fsync_dir, temp_beside
from alice.pipeline.thumbnail import MAX_SIDE, encode_jpeg, image_thumbnail, video_strip

SIZES = {"small": 384, "large": MAX_SIDE}
PRUNE_EVERY = 64
SUBDIR = "thumbnails"


@dataclass(frozen=True)
class Thumbnail:
    path: Path
    width: int
    height: int
    made: bool                   # drawn now (False: taken from the cache)


class ThumbnailCache:
    def __init__(self, data_dir: Path, max_files: int):
        self.root = Path(data_dir) / SUBDIR
        self.max_files = max_files
        self._lock = threading.Lock()
        self._since_prune = PRUNE_EVERY     # prune on the first write: the limit may have been lowered

    def path_for(self, content_id: str, size: str) -> Path:
        key = content_id.split(":", 1)[-1]
        if not key.isalnum():
            raise ValueError(f"not a content id: {content_id!r}")
        return self.root / size / key[:2] / f"{key}.jpg"

    def get(self, content_id: str, source: Path, media: str, size: str = "small") -> Thumbnail:
        """The thumbnail of source (an image, or a video as a strip of frames), drawn if not cached.
        Raises ThumbnailError when source cannot be drawn."""
        if size not in SIZES:
            raise ValueError(f"thumbnail size is one of {', '.join(SIZES)}, not {size!r}")
        dest = self.path_for(content_id, size)
        if dest.is_file():
            try:
                os.utime(dest)
                from PIL import Image

                with Image.open(dest) as img:
                    return Thumbnail(dest, img.width, img.height, False)
            except OSError:
                pass                          # removed by a prune meanwhile, or damaged: draw it again
        side = SIZES[size]
        picture = video_strip(source, side) if media == "video" else image_thumbnail(source, side)
        data = encode_jpeg(picture)
        with temp_beside(dest) as tmp:
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        fsync_dir(dest.parent)
        self._maybe_prune()
        return Thumbnail(dest, picture.width, picture.height, True)

    def _maybe_prune(self) -> None:
        with self._lock:
            self._since_prune += 1
            if self._since_prune < PRUNE_EVERY:
                return
            self._since_prune = 0
        self.prune()

    def prune(self) -> int:
        """Delete the least recently used thumbnails beyond max_files; returns how many went."""
        files = []
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                except FileNotFoundError:
                    continue
                files.append((st.st_mtime_ns, p))
        files.sort()
        excess = len(files) - self.max_files
        removed = 0
        for _mtime, p in files:
            if removed >= excess:
                break
            try:
                os.unlink(p)
                removed += 1
            except FileNotFoundError:
                pass
        return removed
