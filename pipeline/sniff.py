"""Name a file's format from its first bytes, never from its extension.

Real files lie about their extension (PNGs saved as .jpeg, JPEGs as .png),
so every later stage keys off the format sniffed here. 64 bytes of head are
enough for every signature below; WebP animation needs the VP8X flags that
sit in the first 32 bytes.
"""
from __future__ import annotations

HEAD_SIZE = 64

# ISOBMFF major/compatible brands -> (format, media). Image brands first: an
# AVIF or HEIC also lists generic brands like "mif1" or "iso8".
_IMAGE_BRANDS = {
    b"avif": "avif", b"avis": "avif",
    b"heic": "heic", b"heix": "heic", b"heim": "heic", b"heis": "heic",
    b"hevc": "heic", b"hevx": "heic",
    b"mif1": "heif", b"msf1": "heif", b"heif": "heif",
}
_VIDEO_BRANDS = {
    b"qt  ": ("mov", "video"),
    b"M4V ": ("m4v", "video"), b"M4VH": ("m4v", "video"), b"M4VP": ("m4v", "video"),
    b"M4A ": ("m4a", "audio"), b"M4B ": ("m4a", "audio"), b"M4P ": ("m4a", "audio"),
    b"3gp4": ("3gp", "video"), b"3gp5": ("3gp", "video"), b"3gp6": ("3gp", "video"),
    b"3g2a": ("3gp", "video"),
    b"crx ": ("cr3", "image"),
}


def _sniff_isobmff(head: bytes) -> tuple[str, str]:
    major = head[8:12]
    if major in (b"avis", b"msf1", b"hevs"):       # image sequences: animated AVIF/HEIF
        return ("avif" if major == b"avis" else "heif"), "video"
    compatible = [head[i:i + 4] for i in range(16, min(len(head), 64) - 3, 4)]
    found = [_IMAGE_BRANDS[b] for b in [major, *compatible] if b in _IMAGE_BRANDS]
    for specific in ("avif", "heic", "heif"):    # "mif1" alone only says "some HEIF"
        if specific in found:
            return specific, "image"
    if major in _VIDEO_BRANDS:
        return _VIDEO_BRANDS[major]
    return "mp4", "video"


def _sniff_riff(head: bytes) -> tuple[str, str]:
    kind = head[8:12]
    if kind == b"WEBP":
        # VP8X flag bit 1 = animation; a plain VP8/VP8L is always a still.
        if head[12:16] == b"VP8X" and len(head) > 20 and head[20] & 0x02:
            return "webp", "video"
        return "webp", "image"
    if kind == b"WAVE":
        return "wav", "audio"
    if kind == b"AVI ":
        return "avi", "video"
    return "unknown", "other"


def _sniff_matroska(head: bytes) -> tuple[str, str]:
    # The EBML DocType string sits in the header: "webm" or "matroska".
    if b"webm" in head:
        return "webm", "video"
    return "mkv", "video"


def sniff(head: bytes) -> tuple[str, str]:
    """(format, media) from a file's first bytes; ("unknown", "other") if unrecognised.

    media is one of image | video | audio | other. An animated WebP is "video"
    media already here, since its animation flag is in the header; the
    extractor does the same for animated GIF/PNG once it has seen the frames.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", "image"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg", "image"
    if head.startswith(b"RIFF") and len(head) >= 12:
        return _sniff_riff(head)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif", "image"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _sniff_isobmff(head)
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return "jp2", "image"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff", "image"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \r\n\x87\n"):
        return "jxl", "image"
    if head.startswith(b"BM") and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return "bmp", "image"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return _sniff_matroska(head)
    if head.startswith(b"OggS"):
        return "ogg", "audio"
    if head.startswith(b"fLaC"):
        return "flac", "audio"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06):
        return "mp3", "audio"
    if head.startswith(b"8BPS"):
        return "psd", "image"
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov", "video"   # old QuickTime without an ftyp box
    return "unknown", "other"
