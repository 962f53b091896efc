"""JPEG payload: the stream with its APPn and COM segments left out.

Counted: frame, Huffman, quantisation, arithmetic-coding and restart-interval
headers (SOFn, DHT, DQT, DAC, DRI, DNL, EXP), each SOS header and its
entropy-coded scan data, byte for byte; together they decode to the same
pixels whatever EXIF, XMP, ICC, IPTC, C2PA (APP11) or comments say. Fill bytes
before a marker are padding and are not counted. Anything after EOI (MPF
secondary images, gain maps, trailing junk) is outside the primary image.

While walking the scans it notes damage that decoders paper over silently
(see `JpegReport`): restart markers out of their cyclic order RST0..RST7
(scan data lost) and reserved marker codes inside scan data (bytes
overwritten). Such bytes stay part of the scan, so the walk reaches EOI.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from alice.pipeline.payload.reader import HashingReader, Sink, Truncated
from alice.pipeline.unreadable import UnreadableMedia

SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
MAX_DAMAGE = 16


def _skipped(marker: int) -> bool:
    return 0xE0 <= marker <= 0xEF or marker == 0xFE


def _standalone(marker: int) -> bool:
    return 0xD0 <= marker <= 0xD7 or marker == 0x01


@dataclass
class JpegReport:
    scans: int = 0
    ended: bool = False                     # EOI reached
    damage: list[str] = field(default_factory=list)   # what looks overwritten or lost, and where (capped)


class _NullSink:
    def update(self, data: bytes | memoryview, /) -> None:
        pass


def walk(r: HashingReader, sink: Sink | None = None) -> JpegReport:
    sink = sink or _NullSink()
    report = JpegReport()
    try:
        if r.read(2) != b"\xff\xd8":
            raise UnreadableMedia("not a JPEG: the start-of-image marker is missing")
    except Truncated:
        raise UnreadableMedia("not a JPEG: the file is shorter than a JPEG header") from None
    marker: int | None = None
    while True:
        if marker is None:
            marker = _next_marker(r, report)
            if marker is None:
                break
        if marker == EOI:
            report.ended = True
            break
        if marker == SOI:
            raise UnreadableMedia(f"damaged JPEG: a second start-of-image marker at byte {r.offset - 2}")
        if _standalone(marker):
            marker = None
            continue
        at = r.offset - 2
        try:
            size = int.from_bytes(r.read(2), "big")
            if size < 2:
                raise UnreadableMedia(f"damaged JPEG: segment 0xFF{marker:02X} at byte {at} has length {size}")
            if _skipped(marker):
                r.skip(size - 2)
                marker = None
                continue
            sink.update(bytes((0xFF, marker)) + size.to_bytes(2, "big"))
            r.copy(size - 2, sink)
        except Truncated:
            raise UnreadableMedia(
                f"truncated JPEG: segment 0xFF{marker:02X} at byte {at} runs past the end of the file") from None
        if marker == SOS:
            report.scans += 1
            marker = _scan(r, sink, report)
            if marker is None:
                break   # the scan ran to end of file: truncated, which integrity reports
        else:
            marker = None
    if report.scans == 0:
        raise UnreadableMedia("JPEG has no image data (no start-of-scan segment)")
    return report


def _next_marker(r: HashingReader, report: JpegReport) -> int | None:
    """The next marker code between segments, skipping fill bytes; None at end of file."""
    while True:
        try:
            b = r.read(1)[0]
        except Truncated:
            return None
        if b != 0xFF:
            if report.scans:
                return None     # junk after the last scan without EOI: stop, like decoders do
            raise UnreadableMedia(f"damaged JPEG: expected a marker at byte {r.offset - 1}")
        while True:
            try:
                m = r.read(1)[0]
            except Truncated:
                return None
            if m != 0xFF:
                break
        if m != 0x00:
            return m


# A byte pair that ends the entropy-coded data or needs a look: 0xFF followed
# by anything but a stuffed zero or a restart marker. Searched for in C, since
# stuffed 0xFF00 pairs come every few hundred bytes.
_STOP = re.compile(rb"\xff[^\x00\xd0-\xd7]")
_RST = re.compile(rb"\xff[\xd0-\xd7]")


def _scan(r: HashingReader, sink: Sink, report: JpegReport) -> int | None:
    """Feed entropy-coded data up to the next real marker and return its code (None at EOF).

    Stuffed 0xFF00 and RSTn belong to the scan; 0xFF fill bytes before a marker do not.
    """
    expected = 0
    start = r.pos          # first byte of buf not yet fed to sink
    look = r.pos           # where the next search starts
    while True:
        buf = r.buf
        # The last byte is held back: a 0xFF there needs the next block to be judged.
        m = _STOP.search(buf, look, len(buf))
        stop = m.start() if m else max(look, len(buf) - 1)
        # A restart marker may end on the held-back last byte: look one past stop.
        for rst in _RST.finditer(buf, look, stop if m else min(stop + 1, len(buf))):
            code = buf[rst.start() + 1] - 0xD0
            if code != expected:
                _note(report, f"restart marker RST{code} where RST{expected} belongs at byte "
                              f"{r.offset + rst.start() - r.pos}")
            expected = (code + 1) % 8
        if m is None:
            if stop > start:
                sink.update(memoryview(buf)[start:stop])
            r.pos = stop
            if not r.more():
                if r.pos < len(r.buf) and r.buf[r.pos] != 0xFF:
                    sink.update(r.buf[r.pos:])
                r.pos = len(r.buf)
                return None
            start = look = r.pos
            continue
        i = m.start()
        nxt = buf[i + 1]
        if 0x01 <= nxt <= 0xBF:
            _note(report, f"reserved marker 0xFF{nxt:02X} inside scan data at byte {r.offset + i - r.pos}")
            look = i + 2
            continue
        if i > start:
            sink.update(memoryview(buf)[start:i])
        if nxt == 0xFF:
            start = look = i + 1    # a fill byte: drop it and look again
            continue
        r.pos = i + 2
        return nxt


def _note(report: JpegReport, what: str) -> None:
    if len(report.damage) < MAX_DAMAGE:
        report.damage.append(what)
