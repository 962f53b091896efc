"""HEIF/HEIC/AVIF still images: EXIF and XMP items, primary image size.

Only the top-level 'meta' box is read (capped); item data is fetched through
'iloc' extents. No decoder is needed, so this works whether or not
pillow-heif is installed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.extract.isobmff import BoxError, iter_boxes, read_payload
from alice.pipeline.extract.limits import HEIF_META_CAP, MAX_BOXES, TextBudget
from alice.pipeline.metadata import Metadata


class HeifError(ValueError):
    """The ISOBMFF structure is broken where we needed it."""


@dataclass
class _Item:
    kind: str = ""
    content_type: str = ""
    extents: list[tuple[int, int]] = field(default_factory=list)
    construction: int = 0


def _boxes(data: bytes, start: int, end: int):
    """(type, payload_start, payload_end) of each box in data[start:end]."""
    position = start
    for _ in range(MAX_BOXES):
        if position + 8 > end:
            return
        size, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if size == 1:
            if position + 16 > end:
                raise HeifError("box header truncated")
            size = struct.unpack_from(">Q", data, position + 8)[0]
            header = 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            raise HeifError(f"box {kind.decode('latin-1')!r} runs past its parent")
        yield kind.decode("latin-1"), position + header, position + size
        position += size


def _read_uint(data: bytes, offset: int, size: int) -> tuple[int, int]:
    if size == 0:
        return 0, offset
    if offset + size > len(data):
        raise HeifError("iloc entry truncated")
    return int.from_bytes(data[offset:offset + size], "big"), offset + size


def _parse_iinf(data: bytes, start: int, end: int, items: dict[int, _Item]) -> None:
    version = data[start]
    offset = start + 4 + (2 if version == 0 else 4)
    for kind, box_start, box_end in _boxes(data, offset, end):
        if kind != "infe" or box_end - box_start < 8:
            continue
        infe_version = data[box_start]
        if infe_version < 2:
            continue
        pos = box_start + 4
        if infe_version == 2:
            item_id = struct.unpack_from(">H", data, pos)[0]
            pos += 2
        else:
            item_id = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        pos += 2                                    # protection index
        item_type = data[pos:pos + 4].decode("latin-1")
        pos += 4
        name_end = data.find(b"\x00", pos, box_end)
        content_type = ""
        if item_type == "mime" and name_end >= 0:
            type_end = data.find(b"\x00", name_end + 1, box_end)
            content_type = data[name_end + 1:type_end if type_end >= 0 else box_end].decode("latin-1")
        item = items.setdefault(item_id, _Item())
        item.kind, item.content_type = item_type, content_type


def _uint(data: bytes, pos: int, *, wide: bool) -> tuple[int, int]:
    """A big-endian 32-bit (wide) or 16-bit count or id at pos, and the position after it:
    box versions choose the width."""
    if wide:
        return struct.unpack_from(">I", data, pos)[0], pos + 4
    return struct.unpack_from(">H", data, pos)[0], pos + 2


def _parse_iloc(data: bytes, start: int, end: int, items: dict[int, _Item]) -> None:
    version = data[start]
    pos = start + 4
    sizes = struct.unpack_from(">H", data, pos)[0]
    pos += 2
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
    base_offset_size, index_size = (sizes >> 4) & 0xF, sizes & 0xF
    count, pos = _uint(data, pos, wide=version >= 2)
    for _ in range(min(count, MAX_BOXES)):
        item_id, pos = _read_uint(data, pos, 2 if version < 2 else 4)
        construction = 0
        if version in (1, 2):
            construction, pos = _read_uint(data, pos, 2)
            construction &= 0xF
        pos += 2                                    # data reference index
        base, pos = _read_uint(data, pos, base_offset_size)
        extent_count, pos = _read_uint(data, pos, 2)
        item = items.setdefault(item_id, _Item())
        item.construction = construction
        for _ in range(min(extent_count, 1024)):
            if version in (1, 2) and index_size:
                _, pos = _read_uint(data, pos, index_size)
            extent_offset, pos = _read_uint(data, pos, offset_size)
            extent_length, pos = _read_uint(data, pos, length_size)
            item.extents.append((base + extent_offset, extent_length))
        if pos > end:
            raise HeifError("iloc box truncated")


def _property(kind: str, data: bytes, start: int, end: int) -> tuple[str, tuple] | None:
    """The few item properties that decide the displayed size: ispe, clap (crop), irot."""
    if kind == "ispe" and end - start >= 12:
        return kind, struct.unpack_from(">II", data, start + 4)
    if kind == "clap" and end - start >= 16:
        width_n, width_d, height_n, height_d = struct.unpack_from(">IIII", data, start)
        if width_d and height_d:
            return kind, (width_n // width_d, height_n // height_d)
    if kind == "irot" and end - start >= 1:
        return kind, (data[start] & 0x3,)
    return None


def _displayed_size(props: list[tuple[str, tuple]]) -> tuple[int, int] | None:
    sizes = [value for kind, value in props if kind == "ispe"]
    if not sizes:
        return None
    width, height = sizes[0]
    for kind, value in props:
        if kind == "clap" and value[0] and value[1]:
            width, height = value
        elif kind == "irot" and value[0] in (1, 3):
            width, height = height, width
    return width, height


def _parse_iprp(data: bytes, start: int, end: int) -> tuple[list[tuple[str, tuple] | None], dict[int, list[int]]]:
    """Property list (None for properties we ignore) and item -> property indices (1-based)."""
    properties: list[tuple[str, tuple] | None] = []
    associations: dict[int, list[int]] = {}
    for kind, box_start, box_end in _boxes(data, start, end):
        if kind == "ipco":
            for prop, prop_start, prop_end in _boxes(data, box_start, box_end):
                properties.append(_property(prop, data, prop_start, prop_end))
        elif kind == "ipma":
            version, flags = data[box_start], int.from_bytes(data[box_start + 1:box_start + 4], "big")
            pos = box_start + 4
            count = struct.unpack_from(">I", data, pos)[0]
            pos += 4
            for _ in range(min(count, MAX_BOXES)):
                item_id, pos = _uint(data, pos, wide=version >= 1)
                n = data[pos]
                pos += 1
                indices = []
                for _ in range(n):
                    if flags & 1:
                        value = struct.unpack_from(">H", data, pos)[0] & 0x7FFF
                        pos += 2
                    else:
                        value = data[pos] & 0x7F
                        pos += 1
                    indices.append(value)
                associations[item_id] = indices
                if pos > box_end:
                    raise HeifError("ipma box truncated")
    return properties, associations


def _item_bytes(f: BinaryIO, size: int, item: _Item, idat: bytes, cap: int) -> bytes:
    out = bytearray()
    for offset, length in item.extents:
        length = length or (size - offset)
        length = min(length, cap - len(out))
        if length <= 0:
            break
        if item.construction == 1:
            out += idat[offset:offset + length]
        else:
            if offset + length > size:
                raise HeifError("item data runs past end of file")
            f.seek(offset)
            out += f.read(length)
    return bytes(out)


def _find_meta(f: BinaryIO, size: int) -> bytes | None:
    try:
        for box in iter_boxes(f, 0, size, MAX_BOXES):
            if box.type != "meta":
                continue
            length = box.declared_size - (box.payload - box.start)
            if length > HEIF_META_CAP:
                raise HeifError(f"meta box of {length} bytes is larger than {HEIF_META_CAP}")
            if box.truncated:
                raise HeifError("truncated HEIF: meta box runs past end of file")
            return read_payload(f, box, length)
    except BoxError as exc:
        raise HeifError(str(exc)) from None
    return None


def read_heif(f: BinaryIO, size: int, meta: Metadata, budget: TextBudget) -> None:
    """Fill `meta` from a HEIF/HEIC/AVIF file. Damage goes to meta.error/warnings."""
    try:
        data = _find_meta(f, size)
        if data is None:
            meta.warnings.append("HEIF file has no meta box; nothing to read")
            return
        items: dict[int, _Item] = {}
        primary = None
        idat = b""
        properties: list[tuple[str, tuple] | None] = []
        associations: dict[int, list[int]] = {}
        for kind, start, end in _boxes(data, 4, len(data)):    # meta is a full box
            if kind == "pitm":
                primary = struct.unpack_from(">H" if data[start] == 0 else ">I", data, start + 4)[0]
            elif kind == "iinf":
                _parse_iinf(data, start, end, items)
            elif kind == "iloc":
                _parse_iloc(data, start, end, items)
            elif kind == "idat":
                idat = data[start:end]
            elif kind == "iprp":
                properties, associations = _parse_iprp(data, start, end)
        linked = associations.get(primary, []) if primary is not None else []
        primary_props = [properties[i - 1] for i in linked if 0 < i <= len(properties)]
        shown = _displayed_size([p for p in primary_props if p])
        if shown is None:      # no usable association: the largest image in the file
            sizes = [p[1] for p in properties if p and p[0] == "ispe"]
            shown = max(sizes, key=lambda s: s[0] * s[1]) if sizes else None
        if shown:
            meta.width, meta.height = shown
        for item in items.values():
            if item.kind == "Exif" and not meta.exif:
                blob = _item_bytes(f, size, item, idat, budget.grant(1 << 24))
                if len(blob) >= 4:
                    skip = int.from_bytes(blob[:4], "big")
                    body = blob[4 + skip:] if 4 + skip < len(blob) else blob[4:]
                    meta.exif = parse_exif(body, meta.warnings)
            elif item.kind == "mime" and "rdf+xml" in item.content_type and meta.xmp is None:
                blob = _item_bytes(f, size, item, idat, budget.grant(1 << 24))
                meta.xmp = blob.decode("utf-8", "replace")
    except (HeifError, struct.error, IndexError) as exc:
        message = str(exc) or "structure damaged"
        if "truncated" in message or "past end" in message:
            meta.error = message if message.startswith("truncated") else f"truncated HEIF: {message}"
        else:
            meta.warnings.append(f"HEIF metadata unreadable: {message}")
