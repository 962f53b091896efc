"""Stamp alice's generation record into a provider's output bytes.

Pure byte surgery: the record goes into a metadata chunk/segment, every other
byte of the file (image data included) is copied unchanged, so the content id
(a hash of the media payload) is the same before and after stamping. A record
already present is replaced, never duplicated.

- PNG: iTXt chunk `alice:generation`, placed right after IHDR.
- JPEG: XMP (APP1) property alice:generation; merged into an existing XMP
  packet as its own rdf:Description, or a new APP1 after JFIF/EXIF.
- WebP: XMP chunk; a simple (VP8/VP8L) file is converted to the extended
  (VP8X) layout, which is how WebP declares that metadata follows.
"""
from __future__ import annotations

import re
import struct
import zlib
from typing import Any
from xml.sax.saxutils import escape

from alice.pipeline.alice_record import KEY, NAMESPACE, dump_record

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_APP1_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_APP1_PAYLOAD = 65533 - len(XMP_APP1_HEADER)
MAX_CHUNKS = 100_000

_OUR_DESCRIPTION_RE = re.compile(
    r"<rdf:Description\b[^>]*" + re.escape(NAMESPACE) + r"[^>]*>.*?</rdf:Description>\s*", re.DOTALL)


class EmbedError(ValueError):
    """The image bytes cannot carry the record (not this format, damaged, or no room)."""


# --- PNG -----------------------------------------------------------------------

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _is_our_text_chunk(kind: bytes, data: bytes) -> bool:
    return kind in (b"iTXt", b"tEXt", b"zTXt") and data.split(b"\x00", 1)[0] == KEY.encode("latin-1")


def embed_png(data: bytes, record: dict[str, Any]) -> bytes:
    """PNG bytes with the record in an iTXt chunk. Raises EmbedError / InvalidRecord."""
    text = dump_record(record)
    if not data.startswith(PNG_SIGNATURE):
        raise EmbedError("not a PNG file (signature missing)")
    parts = [PNG_SIGNATURE]
    offset = len(PNG_SIGNATURE)
    seen_ihdr = seen_iend = False
    for _ in range(MAX_CHUNKS):
        if offset + 12 > len(data):
            raise EmbedError("truncated PNG: the file ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        end = offset + 12 + length
        if end > len(data):
            raise EmbedError(f"truncated PNG: chunk {kind!r} runs past the end of the file")
        body = data[offset + 8:offset + 8 + length]
        if not _is_our_text_chunk(kind, body):
            parts.append(data[offset:end])
        if kind == b"IHDR" and not seen_ihdr:
            seen_ihdr = True
            itxt = KEY.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
            parts.append(_png_chunk(b"iTXt", itxt))
        offset = end
        if kind == b"IEND":
            seen_iend = True
            break
    if not seen_ihdr or not seen_iend:
        raise EmbedError("damaged PNG: IHDR or IEND chunk missing")
    parts.append(data[offset:])     # bytes after IEND are not ours to drop
    return b"".join(parts)


# --- XMP (JPEG, WebP) ----------------------------------------------------------

def _description(text: str) -> str:
    return (f'<rdf:Description rdf:about="" xmlns:alice="{NAMESPACE}">'
            f"<alice:generation>{escape(text)}</alice:generation></rdf:Description>")


def _xmp_packet(text: str, existing: str | None) -> str:
    """A packet carrying the record: the existing one with ours (re)placed, or a new one."""
    if existing is None:
        return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
                '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                f"{_description(text)}</rdf:RDF></x:xmpmeta>"
                '<?xpacket end="w"?>')
    cleaned = _OUR_DESCRIPTION_RE.sub("", existing)
    index = cleaned.rfind("</rdf:RDF>")
    if index < 0:
        raise EmbedError("the file's XMP packet has no rdf:RDF element to add the record to")
    return cleaned[:index] + _description(text) + cleaned[index:]


# --- JPEG ----------------------------------------------------------------------

def embed_jpeg(data: bytes, record: dict[str, Any]) -> bytes:
    """JPEG bytes with the record in the XMP APP1 segment. Raises EmbedError / InvalidRecord."""
    text = dump_record(record)
    if not data.startswith(b"\xff\xd8"):
        raise EmbedError("not a JPEG file (SOI marker missing)")
    offset, insert_at = 2, 2
    existing: tuple[int, int, str] | None = None
    for _ in range(MAX_CHUNKS):
        if offset + 4 > len(data) or data[offset] != 0xFF:
            raise EmbedError("damaged JPEG: metadata segments end before the image data")
        marker = data[offset + 1]
        if marker == 0xDA or marker == 0xD9 or not (0xE0 <= marker <= 0xEF or marker == 0xFE
                                                    or 0xC0 <= marker <= 0xDF):
            break
        length = struct.unpack(">H", data[offset + 2:offset + 4])[0]
        end = offset + 2 + length
        if length < 2 or end > len(data):
            raise EmbedError("truncated JPEG: a metadata segment runs past the end of the file")
        payload = data[offset + 4:end]
        if marker == 0xE1 and payload.startswith(XMP_APP1_HEADER) and existing is None:
            existing = (offset, end, payload[len(XMP_APP1_HEADER):].decode("utf-8", "replace"))
        if marker in (0xE0, 0xE1):      # keep JFIF and EXIF first, as readers expect
            insert_at = end
        offset = end
    packet = _xmp_packet(text, existing[2] if existing else None).encode("utf-8")
    if len(packet) > MAX_APP1_PAYLOAD:
        raise EmbedError(f"record too large for a JPEG XMP segment ({len(packet)} > {MAX_APP1_PAYLOAD} bytes)")
    segment = b"\xff\xe1" + struct.pack(">H", 2 + len(XMP_APP1_HEADER) + len(packet)) + XMP_APP1_HEADER + packet
    if existing:
        return data[:existing[0]] + segment + data[existing[1]:]
    return data[:insert_at] + segment + data[insert_at:]


# --- WebP ----------------------------------------------------------------------

def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise EmbedError("not a WebP file (RIFF/WEBP header missing)")
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    chunks, offset = [], 12
    for _ in range(MAX_CHUNKS):
        if offset + 8 > end:
            break
        kind, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if offset + 8 + size > end:
            raise EmbedError(f"truncated WebP: chunk {kind!r} runs past the end of the file")
        chunks.append((kind, data[offset + 8:offset + 8 + size]))
        offset += 8 + size + (size & 1)
    if not chunks:
        raise EmbedError("WebP file has no chunks")
    return chunks


def _canvas(kind: bytes, body: bytes) -> tuple[int, int, bool]:
    """(width, height, has_alpha) of a simple-format WebP bitstream."""
    if kind == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF, False
    if kind == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        bits = int.from_bytes(body[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise EmbedError("damaged WebP: cannot read the image size from its bitstream")


def embed_webp(data: bytes, record: dict[str, Any]) -> bytes:
    """WebP bytes with the record in an XMP chunk. Raises EmbedError / InvalidRecord."""
    text = dump_record(record)
    chunks = _riff_chunks(data)
    existing = next((body.decode("utf-8", "replace") for kind, body in chunks if kind == b"XMP "), None)
    packet = _xmp_packet(text, existing).encode("utf-8")
    chunks = [(k, b) for k, b in chunks if k != b"XMP "]
    if chunks[0][0] == b"VP8X":
        header = bytearray(chunks[0][1])
        if len(header) < 10:
            raise EmbedError("damaged WebP: VP8X header too short")
        header[0] |= 0x04                                     # XMP metadata present
        chunks[0] = (b"VP8X", bytes(header))
    else:
        width, height, alpha = _canvas(*chunks[0])
        flags = 0x04 | (0x10 if alpha else 0)
        vp8x = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    chunks.append((b"XMP ", packet))                          # the spec puts XMP last
    body = b"".join(kind + struct.pack("<I", len(b)) + b + (b"\x00" if len(b) & 1 else b"") for kind, b in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
