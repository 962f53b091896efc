"""exifread's ExifHeader, reading only the tags alice asked for.

Only pipeline/extract/exif.py imports this, and only once a file has an EXIF
block, so `alice inspect` start-up does not load exifread. The two overrides
are of exifread 3.5's private methods (pyproject pins exifread <4); the EXIF
tests fail if their signatures change.
"""
from __future__ import annotations

from typing import Any

from exifread.core.exif_header import ExifHeader
from exifread.tags.fields import FieldType

_BYTE_TYPES = frozenset({FieldType.BYTE, FieldType.SIGNED_BYTE, FieldType.UNDEFINED})


class LocatingExifHeader(ExifHeader):
    """exifread's IFD walk, for the tags in the table dump_ifd is given; their byte values located, not read.

    exifread reads every entry's value, one read per number and one per byte
    of a BYTE/UNDEFINED value under 1000 bytes (a Canon photo's blank
    264-byte UserComment was half its reads), and any number of values for a
    tag named MakerNote. Here entries not in the table are skipped, and
    byte-typed values over 4 bytes keep only their field_offset and
    field_length: the adapter slices the bytes of the few it wants
    (UserComment, XMP, XP tags) from the block itself.
    """

    def _process_tag(self, ifd: int, ifd_name: str, tag_entry: Any, entry: int, tag: int, tag_name: str,
                     relative: bool, stop_tag: str) -> None:
        if tag_entry is None:       # not a tag alice reads
            return
        super()._process_tag(ifd, ifd_name, tag_entry, entry, tag, tag_name, relative, stop_tag)

    def _process_field(self, tag_name: str, count: int, field_type: int, type_length: int, offset: int) -> list:
        if field_type in _BYTE_TYPES and count > 4:      # inline ones: exifread formats values[0] of a count of 1
            return []
        return super()._process_field(tag_name, count, field_type, type_length, offset)
