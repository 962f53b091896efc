"""PNG payload: the chunks that define pixels and animation, not the ones tools rewrite.

Counted: IHDR, PLTE, tRNS, IDAT, and APNG's acTL/fcTL/fdAT. Not counted: text
(tEXt/iTXt/zTXt), eXIf, tIME, pHYs, bKGD, sBIT, C2PA (caBX), and the colour
metadata gAMA/cHRM/sRGB/iCCP/cICP/mDCv/cLLi: optimisers and metadata editors
add, drop and rewrite those without touching a pixel, and counting them would
make one image two assets. Chunk CRCs are not counted (they follow the data).

Each counted chunk is fed as type + data + 8-byte length, so the byte stream
decodes unambiguously. Consecutive IDAT chunks are one record: re-splitting
the zlib stream into other chunk sizes is a container change, not a new image.
"""
from __future__ import annotations

from alice.pipeline.payload.reader import HashingReader, Sink, Truncated
from alice.pipeline.unreadable import UnreadableMedia

SIGNATURE = b"\x89PNG\r\n\x1a\n"
PIXEL_CHUNKS = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"acTL", b"fcTL", b"fdAT"})
MAX_CHUNK = (1 << 31) - 1


def walk(r: HashingReader, sink: Sink) -> None:
    try:
        if r.read(8) != SIGNATURE:
            raise UnreadableMedia("not a PNG: the PNG signature is missing")
    except Truncated:
        raise UnreadableMedia("not a PNG: the file is shorter than the PNG signature") from None
    idat_run = -1       # bytes in the current IDAT record, -1 outside one
    seen_idat = False
    while True:
        at = r.offset
        try:
            head = r.read(8)
        except Truncated:
            if r.offset == at or seen_idat:
                break   # no IEND: the image data is complete, the end marker is not ours to judge
            raise UnreadableMedia(f"truncated PNG: file ends inside a chunk header at byte {at}") from None
        length = int.from_bytes(head[:4], "big")
        ctype = head[4:]
        if length > MAX_CHUNK or not ctype.isalpha():
            raise UnreadableMedia(f"damaged PNG: invalid chunk header at byte {at}")
        if ctype != b"IDAT" and idat_run >= 0:
            sink.update(idat_run.to_bytes(8, "big"))
            idat_run = -1
        try:
            if ctype == b"IDAT":
                if idat_run < 0:
                    sink.update(b"IDAT")
                    idat_run = 0
                idat_run += length
                seen_idat = True
                r.copy(length, sink)
            elif ctype in PIXEL_CHUNKS:
                sink.update(ctype)
                r.copy(length, sink)
                sink.update(length.to_bytes(8, "big"))
            else:
                r.skip(length)
            r.skip(4)   # CRC
        except Truncated:
            name = ctype.decode("ascii")
            raise UnreadableMedia(f"truncated PNG: chunk {name} at byte {at} runs past the end of the file") from None
        if ctype == b"IEND":
            break
    if idat_run >= 0:
        sink.update(idat_run.to_bytes(8, "big"))
    if not seen_idat:
        raise UnreadableMedia("PNG has no image data (no IDAT chunk)")
