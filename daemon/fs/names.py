"""File names that are not valid UTF-8: any bytes are a legal Linux file name.

Python hands such names around as str with lone surrogates (surrogateescape),
which PostgreSQL, JSON output and terminals refuse. alice keeps the real name
for opening the file and uses, everywhere text is stored or shown, an escaped
form: valid UTF-8 with each undecodable byte written as \\xNN
("bad\\xff.png"). The filed copy gets a safe name ("bad_.png"); the original
bytes stay, escaped, in the sidecar's source_path and warnings and in the catalog.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")


def is_clean(text: str) -> bool:
    """Whether text encodes as UTF-8 as it is (no lone surrogates)."""
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def escape(text: str) -> str:
    """text as valid UTF-8: bytes that were not UTF-8 (surrogateescape) become \\xNN."""
    if is_clean(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:          # a surrogate that did not come from bytes (e.g. JSON "\ud800")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def unescape_path(text: str) -> Path:
    """The real path for a path stored escaped (a job row); the text itself when that exists."""
    if "\\x" not in text or os.path.lexists(text):
        return Path(text)
    raw = _ESCAPED_BYTE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
    return Path(os.fsdecode(raw))


def safe_name(name: str) -> str:
    """A valid UTF-8 name for the filed copy: each undecodable byte becomes '_'."""
    if is_clean(name):
        return name
    try:
        raw = os.fsencode(name)
    except UnicodeEncodeError:
        return name.encode("utf-8", "replace").decode("utf-8").replace("?", "_")
    return raw.decode("utf-8", "replace").replace("\ufffd", "_")
