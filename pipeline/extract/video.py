"""Container-level tags and frame size of videos (and audio).

MP4/MOV/M4V/M4A are walked box by box (moov/udta, iTunes-style
meta/ilst, QuickTime meta/keys, QuickTime text atoms, tkhd); a few KB are
read however long the video. Everything else goes through ffmpeg
(ffmpeg_tags.py).

Tag names follow ffmpeg's so both paths agree and detectors need one
spelling: ©cmt -> "comment", ©too -> "encoder", ©nam -> "title", ©des ->
"description", ...; keys of a `keys` box (what `ffmpeg -movflags
use_metadata_tags -metadata NAME=...` and PyAV write, e.g. "AIGC", "prompt",
"workflow", "alice:generation") keep their own name. Matroska's upper-case
generic names ("COMMENT") are lower-cased to the same spelling.

XMP found in the container (uuid BE7ACFCB-..., QuickTime XMP_ atom) goes to
Metadata.xmp so provenance detectors read videos like images.
"""
from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from alice.pipeline.extract.isobmff import MAX_TOP_LEVEL, Box, BoxError, file_size, find_child, iter_boxes, read_payload
from alice.pipeline.metadata import Metadata

BMFF_FORMATS = {"mp4", "mov", "m4v", "m4a", "3gp", "3g2"}
XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
MAX_TAG = 16 * 1024 * 1024      # one tag (ComfyUI workflows run to several MB)
MAX_TAGS_TOTAL = 64 * 1024 * 1024
MAX_TAGS = 512
MAX_XMP = 8 * 1024 * 1024

FFMPEG_NAMES = {
    "\xa9nam": "title", "\xa9ART": "artist", "aART": "album_artist", "\xa9alb": "album",
    "\xa9cmt": "comment", "\xa9day": "date", "\xa9too": "encoder", "\xa9swr": "encoder",
    "\xa9des": "description", "desc": "description", "ldes": "synopsis", "\xa9gen": "genre",
    "cprt": "copyright", "\xa9cpy": "copyright", "\xa9wrt": "composer", "\xa9xyz": "location",
    "\xa9mak": "make", "\xa9mod": "model", "\xa9inf": "comment", "\xa9key": "keywords",
    "\xa9lyr": "lyrics", "\xa9grp": "grouping", "\xa9aut": "author", "\xa9req": "requirements",
}
GENERIC_NAMES = {name for name in FFMPEG_NAMES.values()} | {"encoded_by", "creation_time", "language"}


def extract_video(path: Path, meta: Metadata) -> None:
    """Fill meta.video_tags, width, height (and xmp, warnings). Never raises."""
    if meta.format in BMFF_FORMATS:
        try:
            with open(path, "rb") as f:
                _Walker(f, meta).walk()
        except OSError as exc:
            meta.warnings.append(f"could not read video container: {exc.strerror or exc}")
        return
    # Imported here: an MP4 never needs ffmpeg, nor the subprocess machinery behind it (~4 ms).
    from alice.pipeline.extract.ffmpeg_tags import read_ffmpeg_tags

    tags, width, height, warnings = read_ffmpeg_tags(path)
    for key, value in tags.items():
        name = key.lower() if key.lower() in GENERIC_NAMES else key
        meta.video_tags.setdefault(name, value[:MAX_TAG])
    meta.width = meta.width or width
    meta.height = meta.height or height
    meta.warnings.extend(warnings)


class _Walker:
    def __init__(self, f: BinaryIO, meta: Metadata) -> None:
        self.f = f
        self.meta = meta
        self.total = 0
        self.capped = False

    def walk(self) -> None:
        try:
            for box in iter_boxes(self.f, 0, file_size(self.f), MAX_TOP_LEVEL):
                if box.type == "moov":
                    self._moov(box)
                elif box.type == "uuid" and box.usertype == XMP_UUID:
                    self._xmp(box)
                if box.truncated:
                    self.meta.warnings.append(f"video truncated: {box.type} box runs past end of file")
        except BoxError as exc:
            self.meta.warnings.append(f"damaged video container: {exc}")
        if self.capped:
            self.meta.warnings.append("video tags over the size limit were skipped")

    def _moov(self, moov: Box) -> None:
        for box in iter_boxes(self.f, moov.payload, moov.end):
            if box.type == "trak" and not self.meta.width:
                self._trak(box)
            elif box.type == "udta":
                self._udta(box)
            elif box.type == "meta":
                self._meta(box)

    def _trak(self, trak: Box) -> None:
        tkhd = find_child(self.f, trak, "tkhd")
        if tkhd is None or tkhd.payload_size < 84:
            return
        data = read_payload(self.f, tkhd, 96)
        body = data[:96] if data[0] == 1 else data[:84]
        width, height = struct.unpack(">II", body[-8:])
        width, height = width >> 16, height >> 16        # 16.16 fixed point
        if width and height:                             # audio tracks say 0x0
            self.meta.width, self.meta.height = width, height

    def _udta(self, udta: Box) -> None:
        for box in iter_boxes(self.f, udta.payload, udta.end):
            if box.type == "meta":
                self._meta(box)
            elif box.type == "XMP_":
                self._xmp(box)
            elif box.type.startswith("\xa9") or box.type.isalnum():
                self._text_atom(box)

    def _text_atom(self, box: Box) -> None:
        """QuickTime user data: [u16 length][u16 language][text]; or a raw text payload."""
        data = self._read(box)
        if data is None or len(data) < 4:
            return
        if data[4:8] == b"data":
            value = self._data_value(data)
        else:
            length = struct.unpack(">H", data[:2])[0]
            if box.type.startswith("\xa9") and length <= len(data) - 4:
                value = data[4:4 + length].decode("utf-8", "replace")
            else:
                # Non-standard atoms (e.g. an "AIGC" label) carry bare text.
                try:
                    value = data.decode("utf-8").strip("\x00")
                except UnicodeDecodeError:
                    return
                if not value.replace("\n", " ").replace("\t", " ").isprintable():
                    return
        if value:
            self._put(FFMPEG_NAMES.get(box.type, box.type), value)

    def _meta(self, meta_box: Box) -> None:
        # ISO "meta" is a FullBox (4 bytes of version/flags); QuickTime's is not.
        self.f.seek(meta_box.payload + 4)
        skip = 0 if self.f.read(4) == b"hdlr" else 4
        keys: list[str] = []
        ilst: Box | None = None
        for box in iter_boxes(self.f, meta_box.payload + skip, meta_box.end):
            if box.type == "keys":
                keys = self._keys(box)
            elif box.type == "ilst":
                ilst = box
        if ilst is not None:
            self._ilst(ilst, keys)

    def _keys(self, box: Box) -> list[str]:
        data = read_payload(self.f, box, 1024 * 1024)
        if len(data) < 8:
            return []
        count = struct.unpack(">I", data[4:8])[0]
        keys, offset = [], 8
        for _ in range(min(count, MAX_TAGS)):
            if offset + 8 > len(data):
                break
            size = struct.unpack(">I", data[offset:offset + 4])[0]
            if size < 8:
                break
            keys.append(data[offset + 8:offset + size].decode("utf-8", "replace"))
            offset += size
        return keys

    def _ilst(self, ilst: Box, keys: list[str]) -> None:
        for item in iter_boxes(self.f, ilst.payload, ilst.end):
            raw = item.type.encode("latin-1")
            index = struct.unpack(">I", raw)[0]
            if 1 <= index <= len(keys):
                name = keys[index - 1]
            else:
                name = FFMPEG_NAMES.get(item.type, item.type)
            data = self._read(item)
            if data is not None:
                value = self._data_value(data)
                if value:
                    self._put(name, value)

    @staticmethod
    def _data_value(data: bytes) -> str | None:
        """The value of the first "data" box: [size]["data"][type u32][locale u32][value]."""
        if len(data) < 16 or data[4:8] != b"data":
            return None
        size = struct.unpack(">I", data[:4])[0]
        kind = struct.unpack(">I", data[8:12])[0] & 0xFFFFFF
        value = data[16:max(size, 16)]
        if kind == 1:
            return value.decode("utf-8", "replace")
        if kind == 2:
            return value.decode("utf-16-be", "replace")
        if kind in (21, 22) and 1 <= len(value) <= 8:
            return str(int.from_bytes(value, "big", signed=kind == 21))
        return None  # images (cover art) and other binary payloads are not tags

    def _read(self, box: Box) -> bytes | None:
        if box.payload_size > MAX_TAG or self.total + box.payload_size > MAX_TAGS_TOTAL \
                or len(self.meta.video_tags) >= MAX_TAGS:
            self.capped = True
            return None
        self.total += box.payload_size
        return read_payload(self.f, box, MAX_TAG)

    def _put(self, name: str, value: str) -> None:
        self.meta.video_tags.setdefault(name, value)

    def _xmp(self, box: Box) -> None:
        if self.meta.xmp or box.payload_size > MAX_XMP:
            return
        self.meta.xmp = read_payload(self.f, box, MAX_XMP).decode("utf-8", "replace")
