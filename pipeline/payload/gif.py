"""GIF payload: screen, colour tables, frames and their timing, not comments or app data.

Counted: the logical screen descriptor and global colour table, every image
descriptor with its local colour table and LZW data, graphic control
extensions (delay, disposal, transparency: they change what is shown) and
plain-text extensions (they draw). Not counted: the GIF87a/89a version,
comment extensions, and application extensions, including NETSCAPE2.0: its
loop count is a playback hint that converters rewrite freely, and no frame
changes with it. LZW data is fed without its sub-block framing, so
re-blocking the same data keeps the id.
"""
from __future__ import annotations

from alice.pipeline.payload.reader import HashingReader, Sink, Truncated
from alice.pipeline.unreadable import UnreadableMedia

COUNTED_EXTENSIONS = frozenset({0xF9, 0x01})


def walk(r: HashingReader, sink: Sink) -> None:
    try:
        head = r.read(13)
    except Truncated:
        raise UnreadableMedia("not a GIF: the file is shorter than a GIF header") from None
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        raise UnreadableMedia("not a GIF: the GIF signature is missing")
    frames = 0
    try:
        sink.update(b"LSD" + head[6:13])
        if head[10] & 0x80:
            r.copy(3 << ((head[10] & 7) + 1), sink)
        while True:
            at = r.offset
            try:
                block = r.read(1)[0]
            except Truncated:
                if frames:
                    break   # no trailer after complete frames: viewers show them all
                raise
            if block == 0x3B:
                break
            if block == 0x2C:
                desc = r.read(9)
                sink.update(b"IMG" + desc)
                if desc[8] & 0x80:
                    r.copy(3 << ((desc[8] & 7) + 1), sink)
                sink.update(r.read(1))   # LZW minimum code size
                _sub_blocks(r, sink)
                frames += 1
            elif block == 0x21:
                label = r.read(1)
                if label[0] in COUNTED_EXTENSIONS:
                    sink.update(b"EXT" + label)
                    _sub_blocks(r, sink)
                else:
                    _sub_blocks(r, None)
            elif frames:
                break   # junk after the last frame: decoders stop here too
            else:
                raise UnreadableMedia(f"damaged GIF: unknown block 0x{block:02X} at byte {at}")
    except Truncated:
        raise UnreadableMedia(f"truncated GIF: the file ends at byte {r.offset} inside a block") from None
    if not frames:
        raise UnreadableMedia("GIF has no image data (no image descriptor)")


def _sub_blocks(r: HashingReader, sink: Sink | None) -> None:
    total = 0
    while True:
        n = r.read(1)[0]
        if n == 0:
            break
        r.copy(n, sink)
        total += n
    if sink is not None:
        sink.update(total.to_bytes(8, "big"))
