"""How much of a file the extractors will read, inflate or keep.

Metadata can be hostile: multi-megabyte ComfyUI workflows are normal, but a
zTXt chunk that inflates to gigabytes, or a million tiny chunks, is an attack
or a broken writer. Every cap lives here so they are tuned in one place.
"""
from __future__ import annotations

TEXT_CAP = 32 * 1024 * 1024        # one text value (PNG chunk, EXIF tag, XMP packet) after inflating
TOTAL_TEXT_CAP = 96 * 1024 * 1024  # all text kept from one file
MAX_CHUNKS = 200_000               # PNG/WebP chunks or JPEG segments walked before giving up
MAX_EXIF_READS = 10_000            # reads exifread may make on one EXIF block (a camera photo needs under 100)
MAX_EXIF_READS_PAST_END = 2_000     # reads past the block's end before one IFD is given up (a damaged count)
MAX_BOXES = 50_000                 # ISOBMFF boxes walked
HEIF_META_CAP = 16 * 1024 * 1024   # a HEIF 'meta' box larger than this is not metadata we want
GIF_BLOCKS_CAP = 100_000           # GIF extension/image blocks walked


class TextBudget:
    """Bytes of text one file may still contribute, shared by all its chunks."""

    def __init__(self, total: int = TOTAL_TEXT_CAP) -> None:
        self.left = total

    def grant(self, wanted: int) -> int:
        """How many of `wanted` bytes may be kept (0 once the budget is spent)."""
        granted = max(0, min(wanted, self.left, TEXT_CAP))
        self.left -= granted
        return granted
