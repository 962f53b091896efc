"""The EXIF tags detection needs, read with exifread.

The design card names exifread, and issue 12's rule was "if it costs under 2%
of a file's time, use it and own less untrusted-input parsing":
bench/exif_ingest_bench.py measures it on the whole ingest path (README,
"EXIF: measured on the whole ingest path"). exifread walks the TIFF structure
(byte order, IFD0, the Exif sub-IFD, entry types, inline and offset values);
this adapter keeps only what no library does for us:

- the ~25 tags detection and inspect use, under the names they use;
- UserComment decoding: the charset header (ASCII/UNICODE/JIS/undefined), the
  UTF-16 byte order that A1111/Civitai/ComfyUI savers get wrong, and comments
  in IFD0 without any header (third-party ComfyUI save nodes);
- bounds: each value cut to TEXT_CAP, and a budget of reads per block.

Why not exifread.process_file (exifread 3.5): with details=False it skips
UserComment and ApplicationNotes (XMP) altogether (its IGNORE_TAGS); with
details=True it reads a MakerNote of any count one byte per read (a count of
50 million took 36 s) and decodes maker notes (~3 ms on a Nikon or iPhone
photo). So the adapter drives exifread's ExifHeader over IFD0 and the Exif IFD
(extract/exif_header.py: only the tags in alice's table are read, and long byte
values are located, not read byte by byte), with a table that has no
MakerNote and no sub-IFD links (GPS and Interop are never followed).
"""
from __future__ import annotations

import io
import logging
from typing import Any

from alice.pipeline.extract.limits import MAX_EXIF_READS, MAX_EXIF_READS_PAST_END, TEXT_CAP

_IFD0, _EXIF = "Image", "EXIF"     # exifread's names for the two IFDs, the prefix of its tag keys
# (IFD, tag) -> the key callers read in Metadata.exif. The same tag in another IFD is not read.
WANTED = {
    (_IFD0, 0x0100): "ImageWidth",
    (_IFD0, 0x0101): "ImageLength",
    (_IFD0, 0x010E): "ImageDescription",
    (_IFD0, 0x010F): "Make",
    (_IFD0, 0x0110): "Model",
    (_IFD0, 0x0131): "Software",
    (_IFD0, 0x0132): "DateTime",
    (_IFD0, 0x013B): "Artist",
    (_IFD0, 0x02BC): "XMP",
    (_IFD0, 0x8298): "Copyright",
    # Not an IFD0 tag by the standard, but third-party ComfyUI save nodes (and
    # piexif users) put the workflow JSON here, without the charset header.
    (_IFD0, 0x9286): "UserComment",
    (_IFD0, 0x9C9B): "XPTitle",
    (_IFD0, 0x9C9C): "XPComment",
    (_IFD0, 0x9C9D): "XPAuthor",
    (_IFD0, 0x9C9E): "XPKeywords",
    (_IFD0, 0x9C9F): "XPSubject",
    (_EXIF, 0x9003): "DateTimeOriginal",
    (_EXIF, 0x9004): "DateTimeDigitized",
    (_EXIF, 0x9010): "OffsetTime",
    (_EXIF, 0x9011): "OffsetTimeOriginal",
    (_EXIF, 0x9286): "UserComment",
    (_EXIF, 0xA002): "PixelXDimension",
    (_EXIF, 0xA003): "PixelYDimension",
    (_EXIF, 0xA420): "ImageUniqueID",
    (_EXIF, 0xA430): "CameraOwnerName",
    (_EXIF, 0xA433): "LensMake",
    (_EXIF, 0xA434): "LensModel",
}
_EXIF_IFD_POINTER = 0x8769
_USER_COMMENT = 0x9286
_XMP = 0x02BC
_XP_TAGS = {0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F}
# exifread's field types (exifread.tags.fields.FieldType), by number so the import stays lazy.
_ASCII = 2
_BYTES = {1, 6, 7}             # BYTE, SIGNED_BYTE, UNDEFINED
_INTEGERS = {3, 4, 8, 9}       # SHORT, LONG, SIGNED_SHORT, SIGNED_LONG
_MAX_NUMBERS = 64              # numbers kept from one tag: detection wants one, a list is only shown


class _ReadsSpent(Exception):
    """exifread used up the block's read budget: the IFDs are damaged or built to keep a reader busy."""


class _RanOffTheEnd(Exception):
    """One IFD keeps reading past the end of the block: its entry count is damaged."""


class _BoundedReader(io.BytesIO):
    """The EXIF block as exifread's file, with a budget of reads.

    exifread reads one number per read; an IFD of 65535 entries with 999
    values each, all pointing at the same bytes, would keep it busy for a
    minute while the block stays under a megabyte: `reads` ends that (a camera
    photo needs under 100). An
    entry count damaged into the thousands sends it past the end of the block
    for every missing entry: `past_end` reads there end that IFD only.
    """

    def __init__(self, data: bytes, reads: int, past_end: int) -> None:
        super().__init__(data)
        self.size = len(data)
        self.reads_left = reads
        self.past_end = past_end
        self.past_end_left = past_end

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads_left -= 1
        if self.reads_left < 0:
            raise _ReadsSpent(f"gave up after {MAX_EXIF_READS} reads (damaged or hostile IFDs)")
        data = io.BytesIO.read(self, size)      # not super(): this runs for every number exifread reads
        if not data:
            self.past_end_left -= 1
            if self.past_end_left < 0:
                raise _RanOffTheEnd
        return data


def quiet_exifread_logger() -> None:
    """Keep exifread's own log lines ("PNG file does not have exif data.", "Possibly corrupted
    field Make") out of the output: alice reports damage in Metadata.warnings, and `alice
    inspect` configures no logging, so Python's last-resort handler would print them to stderr."""
    logger = logging.getLogger("exifread")
    if logger.level < logging.ERROR:
        logger.setLevel(logging.ERROR)


def _find_tiff_start(data: bytes) -> int | None:
    if data.startswith(b"Exif\x00\x00"):
        return 6
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return 0
    # Some writers put "Exif\0" with one NUL, or junk before the header.
    for marker in (b"II*\x00", b"MM\x00*"):
        index = data.find(marker, 0, 16)
        if index >= 0:
            return index
    return None


def decode_text_bytes(raw: bytes) -> str:
    """ASCII-typed EXIF values are often UTF-8 in practice; Latin-1 is the last resort."""
    raw = raw.rstrip(b"\x00")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\x00", "").rstrip()


def _utf16_score(text: str) -> int:
    """How much a decoding looks like human text rather than mojibake."""
    score = 0
    for char in text[:1000]:
        code = ord(char)
        if 0x20 <= code < 0x7F or char in "\n\r\t":
            score += 2
        elif 0x3000 <= code < 0xA000 or 0xAC00 <= code < 0xD7A4 or 0xA0 <= code < 0x250 or 0x400 <= code < 0x530:
            score += 1
        elif 0xD800 <= code < 0xE000 or code == 0xFFFD or code < 0x20:
            score -= 3
    return score


def decode_user_comment(raw: bytes) -> str | None:
    """Decode EXIF UserComment (0x9286): 8-byte charset header, then the text.

    UNICODE is meant to follow the EXIF byte order, but A1111/Forge/ComfyUI
    savers write big-endian UTF-16 inside little-endian EXIF (and vice versa),
    Civitai writes it without a BOM, and some put UTF-8 after the header. Try
    each and keep what reads as text. exifread's own decoding (make_string_uc)
    trusts the header, so this stays ours.
    """
    header, body = raw[:8], raw[8:]
    if header.startswith(b"UNICODE"):
        if body.startswith((b"\xfe\xff", b"\xff\xfe")):
            text = body.decode("utf-16", "replace")
        else:
            even = body[: len(body) - len(body) % 2]
            candidates = [even.decode(codec, "replace") for codec in ("utf-16-be", "utf-16-le")]
            if b"\x00" not in body:
                try:
                    candidates.append(body.decode("utf-8"))
                except UnicodeDecodeError:
                    pass
            text = max(candidates, key=_utf16_score)
    elif header.startswith(b"ASCII") or header.startswith(b"JIS"):
        text = decode_text_bytes(body) if header.startswith(b"ASCII") else body.decode("shift_jis", "replace")
    elif header == b"\x00" * 8:
        text = decode_text_bytes(body)
    else:
        # No charset header at all: some savers write the JSON/text directly.
        text = decode_text_bytes(raw)
    text = text.replace("\x00", "").strip()
    return text or None


def _value_bytes(data: bytes, base: int, tag: Any, name: str, warnings: list[str]) -> bytes:
    """The bytes exifread located for `tag`, capped (it keeps no values for 1000+ bytes)."""
    start, size = base + tag.field_offset, tag.field_length
    if size > TEXT_CAP:
        warnings.append(f"EXIF {name}: {size} bytes, cut to {TEXT_CAP}")
        size = TEXT_CAP
    return data[start:start + size]


def _convert(data: bytes, base: int, code: int, tag: Any, name: str, warnings: list[str]) -> Any:
    """An exifread IfdTag as the value callers expect: text as str, numbers as int (or a list)."""
    if base + tag.field_offset + tag.field_length > len(data):
        # exifread reads what is there (numbers past the end as 0): a cut-off value is skipped, not guessed.
        warnings.append(f"EXIF {name}: value points past the end of the EXIF block; skipped")
        return None
    if tag.field_length > 4 and tag.field_offset < 8:
        # Values live after the 8-byte TIFF header; exifread reads a cut-off offset as 0.
        warnings.append(f"EXIF {name}: value points into the TIFF header; skipped")
        return None
    field_type = int(tag.field_type)
    if field_type in _BYTES or field_type == _ASCII:
        # Text from the bytes, not exifread's string: it drops everything after the first NUL,
        # and NovelAI's WebP ImageDescription starts with four of them.
        raw = _value_bytes(data, base, tag, name, warnings)
        if code == _USER_COMMENT:
            return decode_user_comment(raw)
        if code in _XP_TAGS and field_type != _ASCII:
            return raw.decode("utf-16-le", "replace").replace("\x00", "").strip()
        if code == _XMP:
            return raw.decode("utf-8", "replace")
        return decode_text_bytes(raw)
    if field_type in _INTEGERS:
        numbers = [v for v in tag.values[:_MAX_NUMBERS] if isinstance(v, int)]
        if not numbers:
            return None
        return numbers[0] if len(numbers) == 1 else numbers
    return None          # rationals, floats: no tag read here has them


def _dump_ifd(header: Any, reader: _BoundedReader, ifd: int, ifd_name: str, label: str,
              names: dict[int, tuple[str, None]], warnings: list[str]) -> None:
    """Let exifread read one IFD into header.tags; damage is a warning and keeps what was read."""
    reader.past_end_left = reader.past_end
    size = reader.size - header.offset
    if ifd <= 0 or ifd + 2 > size:
        warnings.append(f"EXIF {label} IFD offset points past the end of the block")
        return
    entries = header.s2n(ifd, 2)
    fits = (size - ifd - 2) // 12
    if entries > fits:
        warnings.append(f"EXIF {label} IFD claims {entries} entries; the block holds {fits}")
    try:
        header.dump_ifd(ifd, ifd_name, tag_dict=names)
    except _RanOffTheEnd:
        warnings.append(f"EXIF {label} IFD runs past the end of the block; kept the entries inside it")


def parse_exif(data: bytes, warnings: list[str]) -> dict[str, Any]:
    """Tags by name from an EXIF block ("Exif\\0\\0" + TIFF, or bare TIFF), read with exifread.

    {"Make": "...", "UserComment": "...", "ImageWidth": 1024, ...}: keys are the
    values of WANTED; a UserComment in both IFD0 and the Exif IFD gives
    "UserComment" (the Exif one) and "IFD0UserComment". Never raises for bad
    data: damage is reported in `warnings` and whatever was readable is returned.
    """
    base = _find_tiff_start(data)
    if base is None:
        warnings.append("EXIF unreadable: no TIFF header (II*/MM*) at the start of the EXIF block")
        return {}
    if len(data) - base < 8:
        warnings.append("EXIF unreadable: EXIF block shorter than a TIFF header")
        return {}
    # Imported here: `alice inspect` start-up need not pay for exifread when no file has EXIF.
    from exifread.tags.exif import EXIF_TAGS

    from alice.pipeline.extract.exif_header import LocatingExifHeader

    quiet_exifread_logger()
    # The tags LocatingExifHeader reads, by exifread's names. Names only (None: no printable
    # conversion, no sub-IFD to follow), and no MakerNote: exifread reads one whatever its count.
    names = {code: (EXIF_TAGS[code][0], None) for _, code in WANTED if code in EXIF_TAGS}
    names[_EXIF_IFD_POINTER] = (EXIF_TAGS[_EXIF_IFD_POINTER][0], None)
    reader = _BoundedReader(data, MAX_EXIF_READS, MAX_EXIF_READS_PAST_END)
    header = LocatingExifHeader(reader, chr(data[base]), base, 0, False, detailed=True)
    try:
        ifd0 = header.s2n(4, 4)
        _dump_ifd(header, reader, ifd0, _IFD0, "IFD0", names, warnings)
        pointer = header.tags.get(f"{_IFD0} {names[_EXIF_IFD_POINTER][0]}")
        exif_ifd = pointer.values[0] if pointer is not None and pointer.values else None
        if isinstance(exif_ifd, int) and exif_ifd != ifd0:
            _dump_ifd(header, reader, exif_ifd, _EXIF, "Exif", names, warnings)
    except _ReadsSpent as exc:
        warnings.append(f"EXIF: {exc}; kept the tags read before")
    except Exception as exc:     # exifread raises assorted types on damaged blocks; keep what it read
        warnings.append(f"EXIF damaged ({type(exc).__name__}: {exc}); kept the tags read before")
    out: dict[str, Any] = {}
    for (ifd, code), key in WANTED.items():
        entry = names.get(code)
        tag = header.tags.get(f"{ifd} {entry[0]}") if entry else None
        if tag is None:
            continue
        try:
            value = _convert(data, base, code, tag, key, warnings)
        except Exception as exc:   # a value exifread typed oddly (a list where bytes were expected ...)
            warnings.append(f"EXIF {key}: unreadable value ({type(exc).__name__}); skipped")
            continue
        if value is None or value == "":
            continue
        if key in out:             # UserComment in both IFDs: the standard place wins
            out["IFD0UserComment"] = out[key]
        out[key] = value
    return out
