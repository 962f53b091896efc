"""A bounded walker over ISO base media (MP4/MOV/M4V/HEIF) boxes.

Boxes are visited by seeking over their payloads, so walking a multi-GB video
reads a few kilobytes. Every count and size is capped: a hostile file can make
the walk stop early (recorded as a warning by the caller), never make it loop
or allocate its declared sizes.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_BOXES = 4096          # children of one box; real files have tens
MAX_TOP_LEVEL = 200_000   # fragmented MP4 has a moof+mdat pair per fragment at top level
MAX_DEPTH = 8


class BoxError(ValueError):
    """The box structure is damaged at a given offset."""


@dataclass(frozen=True)
class Box:
    type: str              # four characters, Latin-1 ("moov", "\xa9too")
    start: int             # offset of the box header
    payload: int           # offset of the payload (after size, type, largesize, usertype)
    end: int               # offset just past the box (clipped to the parent)
    usertype: bytes = b""  # 16 bytes for "uuid" boxes
    truncated: bool = False  # the box claims to run past its parent/file
    declared_size: int = 0   # what its header says, header included (more than end - start if truncated)

    @property
    def payload_size(self) -> int:
        return self.end - self.payload


def iter_boxes(f: BinaryIO, start: int, end: int, limit: int = MAX_BOXES) -> Iterator[Box]:
    """Boxes laid end to end in f[start:end]. Raises BoxError at a damaged header."""
    offset = start
    for _ in range(limit):
        if end - offset < 8:
            return
        f.seek(offset)
        header = f.read(8)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header)
        header_len = 8
        if size == 1:
            large = f.read(8)
            if len(large) < 8:
                raise BoxError(f"box header cut off at offset {offset}")
            size = struct.unpack(">Q", large)[0]
            header_len = 16
        elif size == 0:      # "extends to the end of the file"
            size = end - offset
        if size < header_len:
            raise BoxError(f"box at offset {offset} declares an impossible size {size}")
        usertype = b""
        name = kind.decode("latin-1")
        if name == "uuid":
            usertype = f.read(16)
            if len(usertype) < 16:
                raise BoxError(f"uuid box cut off at offset {offset}")
            header_len += 16
        box_end = offset + size
        truncated = box_end > end
        yield Box(name, offset, offset + min(header_len, end - offset), min(box_end, end), usertype, truncated,
                  size)
        if truncated:
            return
        offset = box_end
    raise BoxError(f"more than {limit} boxes in one container at offset {start}")


def find_child(f: BinaryIO, parent: Box, kind: str, skip: int = 0) -> Box | None:
    """The first child box of `kind` (payload starts `skip` bytes into parent's)."""
    for box in iter_boxes(f, parent.payload + skip, parent.end):
        if box.type == kind:
            return box
    return None


def read_payload(f: BinaryIO, box: Box, cap: int) -> bytes:
    """Up to `cap` bytes of a box's payload."""
    f.seek(box.payload)
    return f.read(min(box.payload_size, cap))


def file_size(f: BinaryIO) -> int:
    f.seek(0, 2)
    return f.tell()
