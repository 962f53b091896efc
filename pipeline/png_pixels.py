"""A PNG as Pillow should see it for a decode check: only the chunks that make pixels.

Pillow refuses a PNG whose zTXt/iTXt inflates past 1 MB or whose text chunks
total more than 64 MB, and ComfyUI workflows get that big; those are limits on
metadata, not damage to the image. The view splices the file's IHDR, PLTE,
tRNS, IDAT, APNG and IEND chunks (CRCs included, so Pillow still verifies
them) into a seekable stream that reads from the file on demand: nothing is
copied into memory.
"""
from __future__ import annotations

import io
from bisect import bisect_right
from pathlib import Path
from typing import BinaryIO

from alice.pipeline.payload.png import MAX_CHUNK, PIXEL_CHUNKS, SIGNATURE
from alice.pipeline.unreadable import UnreadableMedia

KEPT = PIXEL_CHUNKS | {b"IEND"}


def _spans(fh: BinaryIO, size: int) -> list[tuple[int, int]]:
    """(file offset, length) of the signature and every kept chunk, adjacent ones merged."""
    if fh.read(8) != SIGNATURE:
        raise UnreadableMedia("not a PNG: the PNG signature is missing")
    spans = [(0, 8)]
    pos = 8
    while pos + 8 <= size:
        fh.seek(pos)
        head = fh.read(8)
        length, ctype = int.from_bytes(head[:4], "big"), head[4:]
        if length > MAX_CHUNK or not ctype.isalpha():
            raise UnreadableMedia(f"damaged PNG: invalid chunk header at byte {pos}")
        end = pos + 12 + length
        if end > size:
            raise UnreadableMedia(f"truncated PNG: chunk {ctype.decode()} at byte {pos} runs past the end of the file")
        if ctype in KEPT:
            last_off, last_len = spans[-1]
            if last_off + last_len == pos:
                spans[-1] = (last_off, last_len + end - pos)
            else:
                spans.append((pos, end - pos))
        pos = end
        if ctype == b"IEND":
            break
    return spans


class _SplicedFile(io.RawIOBase):
    def __init__(self, fh: BinaryIO, spans: list[tuple[int, int]]) -> None:
        self._fh = fh
        self._spans = spans
        self._starts: list[int] = []
        total = 0
        for _, length in spans:
            self._starts.append(total)
            total += length
        self._size = total
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        i = bisect_right(self._starts, self._pos) - 1
        file_off, length = self._spans[i]
        inside = self._pos - self._starts[i]
        n = min(len(buffer), length - inside)
        self._fh.seek(file_off + inside)
        data = self._fh.read(n)
        buffer[:len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_pixels(path: Path) -> BinaryIO:
    """A read-only, seekable stream of `path` with every non-pixel chunk left out."""
    fh = open(path, "rb")
    try:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
        return io.BufferedReader(_SplicedFile(fh, _spans(fh, size)))
    except BaseException:
        fh.close()
        raise
