"""WebP payload: the bitstream chunks, not EXIF, XMP or ICCP.

Counted: VP8, VP8L, ALPH, ANIM and ANMF (each as fourcc + data + 8-byte
length). VP8X is not counted as such: its flags change whenever EXIF or XMP
is added, and a still image gains or loses a VP8X wrapper when metadata comes
and goes. Only for animations, whose frames are placed on it, does its canvas
size count, fed after the frames. The RIFF size field is not counted either.
"""
from __future__ import annotations

from alice.pipeline.payload.reader import HashingReader, Sink, Truncated
from alice.pipeline.unreadable import UnreadableMedia

IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF"})
BITSTREAMS = frozenset({b"VP8 ", b"VP8L", b"ANMF"})
MAX_VP8X = 64


def walk(r: HashingReader, sink: Sink) -> None:
    try:
        head = r.read(12)
    except Truncated:
        raise UnreadableMedia("not a WebP: the file is shorter than a RIFF header") from None
    if head[:4] != b"RIFF" or head[8:] != b"WEBP":
        raise UnreadableMedia("not a WebP: the RIFF/WEBP header is missing")
    end = 8 + int.from_bytes(head[4:8], "little")
    canvas = b""
    animated = False
    found = False
    while r.offset < end:
        at = r.offset
        try:
            chunk = r.read(8)
        except Truncated:
            if r.offset == at and found:
                break   # the RIFF size overstates the file; the frames are all there
            raise UnreadableMedia(f"truncated WebP: file ends inside a chunk header at byte {at}") from None
        fourcc, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        try:
            if fourcc in IMAGE_CHUNKS:
                sink.update(fourcc)
                r.copy(size, sink)
                sink.update(size.to_bytes(8, "big"))
                found = found or fourcc in BITSTREAMS
                animated = animated or fourcc in (b"ANIM", b"ANMF")
            elif fourcc == b"VP8X":
                if size > MAX_VP8X:
                    raise UnreadableMedia(f"damaged WebP: VP8X chunk of {size} bytes at byte {at}")
                canvas = r.read(size)[4:10]
            else:
                r.skip(size)
        except Truncated:
            name = fourcc.decode("latin-1").strip()
            raise UnreadableMedia(f"truncated WebP: chunk {name} at byte {at} runs past the end of the file") from None
        if size & 1:
            try:
                r.skip(1)
            except Truncated:
                break   # a missing pad byte at the very end: a common writer slip, not damage
    if animated and canvas:
        sink.update(b"VP8X" + canvas + (6).to_bytes(8, "big"))
    if not found:
        raise UnreadableMedia("WebP has no image data (no VP8, VP8L or ANMF chunk)")
