"""Where an organized file goes: a folder from the layout template, a name that is free.

Every value that reaches a path (project folder names, tool slugs, file names)
passes `sanitize_segment`, so a hostile or unlucky name ("..", "a/b", "CON",
a 300-byte prompt used as a file name) always yields exactly one safe path
segment on Linux, macOS and Windows file systems. The plan never overwrites:
the same bytes already in place mean "already organized"; other bytes get a
suffix from the content id.
"""
from __future__ import annotations

import itertools

import re
import string
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path, PurePath, PurePosixPath

from alice.pipeline.record import AssetRecord

DEFAULT_LAYOUT = "{date}/{project}/{tool}"
MAX_SEGMENT_BYTES = 100
MAX_EXT_CHARS = 16
MAX_COUNTER = 10_000

PLACEHOLDERS = {
    "date": "generation date, YYYY-MM-DD",
    "year": "YYYY",
    "month": "MM",
    "day": "DD",
    "project": "the first folder under the inbox, else the default project",
    "tool": "the AI tool slug, or 'unknown'",
    "stars": "'3-star', or 'unrated'",
    "media": "image, video, audio or other",
    "format": "png, jpeg, mp4, ...",
}

# Reserved device names on Windows (also with any extension: "con.txt"). They
# matter here because organized trees get synced to and opened from Windows.
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"{p}{n}" for p in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"})
# Separators, characters Windows forbids in names, and everything invisible
# that breaks shells and listings: C0/C1 controls, line/paragraph separators,
# and lone surrogates (undecodable file-name bytes), which cannot be UTF-8.
_UNSAFE = re.compile('[/\\\\<>:"|?*\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]')
_EDGE_LEAD = re.compile(r"^[\s.]+")
_EDGE_TRAIL = re.compile(r"[\s.]+$")


class LayoutError(ValueError):
    """A layout template that cannot produce safe relative folders."""


class PlanError(RuntimeError):
    """No free destination name was found."""


def project_for(source: Path, inbox: Path, default_project: str) -> str:
    """The first folder between `inbox` and `source`, else `default_project` (not sanitized)."""
    try:
        parts = Path(source).relative_to(inbox).parts
    except ValueError:
        raise ValueError(f"{source} is not inside the inbox {inbox}") from None
    return parts[0] if len(parts) > 1 else default_project


def _truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:max(0, limit)].decode("utf-8", "ignore")


def sanitize_segment(name: str) -> str:
    """`name` as one safe path segment: never empty, ".", "..", hidden, a device name or over 100 UTF-8 bytes.

    Idempotent: sanitize_segment(sanitize_segment(x)) == sanitize_segment(x).
    """
    # Cutting can expose a trailing dot or space again; the first character
    # (never a dot or space) keeps the result non-empty.
    return _EDGE_TRAIL.sub("", _truncate_utf8(_clean(name), MAX_SEGMENT_BYTES))


def _clean(name: str) -> str:
    text = _UNSAFE.sub("_", unicodedata.normalize("NFC", str(name)))
    text = _EDGE_TRAIL.sub("", _EDGE_LEAD.sub("", text))
    if not text:
        return "_"
    if text.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        text = "_" + text
    return text


def sanitize_filename(name: str, suffix: str = "") -> str:
    """A safe file name that keeps its extension; `suffix` goes before it ("cat-3fa9c1.png").

    The stem is cut, never the extension or the suffix, to stay within 100 bytes.
    Idempotent for suffix "".
    """
    stem, ext = _split_ext(_clean(name))
    budget = MAX_SEGMENT_BYTES - len((suffix + ext).encode("utf-8"))
    if len(stem.encode("utf-8")) > budget:
        stem = _EDGE_TRAIL.sub("", _truncate_utf8(stem, budget)) or "_"
    return sanitize_segment(stem + suffix + ext)


def _split_ext(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip(" .") or not (ext.isascii() and ext.isalnum()) or len(ext) > MAX_EXT_CHARS:
        return name, ""
    return stem, "." + ext


class Layout:
    """A validated folder template such as "{date}/{project}/{tool}"."""

    def __init__(self, template: str) -> None:
        self.template = template
        self._segments = self._parse(template)

    def __repr__(self) -> str:
        return f"Layout({self.template!r})"

    @staticmethod
    def _parse(template: str) -> list[str]:
        if not isinstance(template, str):
            raise LayoutError(f"layout must be a string like {DEFAULT_LAYOUT!r}, not {type(template).__name__}")
        valid = ", ".join("{" + k + "}" for k in PLACEHOLDERS)
        if template.startswith(("/", "~")) or PurePath(template).is_absolute() or re.match(r"^[A-Za-z]:", template):
            raise LayoutError(f"layout {template!r} must be relative to the organized folder, not an absolute path")
        if "\\" in template:
            raise LayoutError(f"layout {template!r}: use '/' between folders, not '\\'")
        segments = template.rstrip("/").split("/") if template.rstrip("/") else []
        for seg in segments:
            if seg.strip() in ("", ".", ".."):
                raise LayoutError(f"layout {template!r}: empty, '.' and '..' folders are not allowed")
            try:
                parsed = list(string.Formatter().parse(seg))
            except ValueError as exc:
                raise LayoutError(f"layout {template!r}: {exc} (write '{{{{' or '}}}}' for a literal brace)") from None
            for _, field, spec, conversion in parsed:
                if field is None:
                    continue
                if field not in PLACEHOLDERS:
                    shown = "{" + field + "}"
                    raise LayoutError(f"layout {template!r}: unknown placeholder {shown}; valid ones are {valid}")
                if spec or conversion:
                    raise LayoutError(
                        f"layout {template!r}: placeholder {{{field}}} takes no format spec or conversion")
        return segments

    def render(self, record: AssetRecord) -> PurePosixPath:
        """The relative folder for `record`; each segment is sanitized after substitution."""
        when = record.created_at
        values = {
            "date": f"{when.year:04d}-{when.month:02d}-{when.day:02d}",
            "year": f"{when.year:04d}",
            "month": f"{when.month:02d}",
            "day": f"{when.day:02d}",
            "project": record.project,
            "tool": record.tool_folder,
            "stars": f"{record.stars}-star" if record.stars else "unrated",
            "media": record.media,
            "format": record.format,
        }
        # Values are substituted per segment, so a "/" inside a project name
        # cannot add a folder: it is sanitized away with the rest.
        return PurePosixPath(*(sanitize_segment(seg.format(**values)) for seg in self._segments))


def candidate_names(file_name: str, tag: str = "") -> Iterator[str]:
    """The names to try, in order, for a file that must never replace another.

    This is alice's one naming rule: `file_name` made safe, then with "-<tag>"
    before its extension, then "-<tag>-2", "-<tag>-3" ... (without a tag
    "-2", "-3" ...). The extension is what `_split_ext` finds (the last dot),
    so "a.tar.gz" becomes "a.tar-2.gz" wherever alice names a file.
    """
    lead = f"-{tag}" if tag else ""
    yield sanitize_filename(file_name)
    if tag:
        yield sanitize_filename(file_name, lead)
    for n in range(2, MAX_COUNTER):
        yield sanitize_filename(file_name, f"{lead}-{n}")


def free_path(folder: Path, file_name: str, tag: str, file_hash: str,
              occupied: Callable[[Path], str | None]) -> Path:
    """The first of `candidate_names` in `folder` that is free or already holds `file_hash`.

    `occupied(path)` returns the file_hash of what is at path, or None if it is
    free; injecting it keeps this rule pure.
    """
    for name in candidate_names(file_name, tag):
        path = folder / name
        there = occupied(path)
        if there is None or there == file_hash:
            return path
    raise PlanError(f"no free name for {file_name!r} in {folder} after {MAX_COUNTER} tries")


def plan_destination(record: AssetRecord, root: Path, layout: Layout, file_name: str,
                     occupied: Callable[[Path], str | None]) -> Path:
    """The path to file `record` at, under `root`.

    `occupied(path)` returns the file_hash of what is at path, or None if it is
    free. The same file_hash there already means the file is organized: that
    path is returned (idempotent). Different content is never overwritten:
    the name gets "-<6 hex of content_id>" before its extension, then a
    counter ("-2", "-3", ...) if that is taken too (`candidate_names`).
    """
    folder = Path(root) / layout.render(record)
    short = record.content_id.split(":", 1)[-1][:6]
    return free_path(folder, file_name, short, record.file_hash, occupied)
