"""One forward pass over a file, hashing every byte exactly once as it is read.

The whole-file hash and the payload walk share this pass, so a 4 GB file is
read once with a bounded buffer instead of once per hash.
"""
from __future__ import annotations

import io
from typing import BinaryIO, Protocol

BLOCK = 1 << 20


class Sink(Protocol):
    def update(self, data: bytes | memoryview, /) -> object: ...


class Truncated(EOFError):
    """The file ended inside a structure that said it was longer."""

    def __init__(self, offset: int, wanted: int) -> None:
        super().__init__(f"file ends at byte {offset}, {wanted} more bytes were expected")
        self.offset = offset
        self.wanted = wanted


class HashingReader:
    """Sequential reads from `fh`, every byte fed to `whole` (if given) as it enters the buffer.

    The buffer holds at most one block plus an unread tail, whatever the
    sizes the walkers ask to skip or copy.
    """

    def __init__(self, fh: BinaryIO, whole: Sink | None = None, block: int = BLOCK) -> None:
        self._fh = fh
        self._whole = whole
        self._block = block
        self.buf = b""
        self.pos = 0
        self._base = 0          # file offset of buf[0]
        self.eof = False
        if type(fh) is io.BytesIO and fh.tell() == 0:
            # Bytes the caller holds already (filing reads a file once): walk them where they
            # are. getvalue() of an unwritten BytesIO is the caller's bytes object, not a copy,
            # and slices below are memoryviews: no block is copied, the hash sees one buffer.
            self.buf = fh.getvalue()
            fh.seek(len(self.buf))
            self.eof = True
            if whole is not None:
                whole.update(self.buf)

    @property
    def offset(self) -> int:
        return self._base + self.pos

    def more(self) -> bool:
        """Append one block, dropping what was consumed. False at end of file."""
        if self.eof:
            return False
        data = self._fh.read(self._block)
        if not data:
            self.eof = True
            return False
        if self._whole is not None:
            self._whole.update(data)
        self._base += self.pos
        self.buf = self.buf[self.pos:] + data
        self.pos = 0
        return True

    def read(self, n: int) -> bytes:
        """Exactly n bytes (n is small: a header), else Truncated."""
        while len(self.buf) - self.pos < n:
            if not self.more():
                raise Truncated(self.offset + len(self.buf) - self.pos, n - (len(self.buf) - self.pos))
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def at_end(self) -> bool:
        return self.pos >= len(self.buf) and not self.more()

    def copy(self, n: int, sink: Sink | None) -> None:
        """Pass n bytes to sink (or drop them) in bounded pieces, else Truncated."""
        while n > 0:
            if self.pos >= len(self.buf) and not self.more():
                raise Truncated(self.offset, n)
            take = min(n, len(self.buf) - self.pos)
            if sink is not None:
                sink.update(memoryview(self.buf)[self.pos:self.pos + take])
            self.pos += take
            n -= take

    def skip(self, n: int) -> None:
        self.copy(n, None)

    def drain(self) -> int:
        """Read to end of file so the whole-file hash is complete; returns the file size."""
        self.pos = len(self.buf)
        while self.more():
            self.pos = len(self.buf)
        return self.offset
