"""Fetching a generated file's bytes, bounded, into a file the caller opened.

A provider knows what an output is called and how to fetch it; where the
bytes land on disk is the daemon's business (daemon/fs: temp name, fsync, a
free name that never overwrites), so this module writes only into the
stream it is given. Output URLs point at CDNs, not the API, so no API key is
sent with them.
"""
from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import httpx

from .errors import DownloadError
from .results import OutputFile

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 256 * 1024
_EXTRA_TYPES = {"image/webp": ".webp", "video/mp4": ".mp4", "audio/mpeg": ".mp3", "audio/wav": ".wav",
                "image/jpeg": ".jpg", "image/png": ".png"}
DEFAULT_MAX_BYTES = 2 * 1024 * 1024 * 1024


def output_name(output: OutputFile, stem: str | None = None) -> str:
    """A safe file name for `output`: `stem` (else the provider's name for it), with the
    extension its content type calls for."""
    return _file_name(output, stem)


async def fetch(
    output: OutputFile,
    out: BinaryIO,
    *,
    client: httpx.AsyncClient | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout_s: float = 300.0,
) -> int:
    """Write `output`'s bytes into `out`; returns how many. DownloadError when it cannot
    be fetched whole within `max_bytes` (what was written is then the caller's to drop)."""
    if output.data is not None:
        if len(output.data) > max_bytes:
            raise DownloadError("download", f"output is {len(output.data)} bytes, over the {max_bytes} byte limit")
        out.write(output.data)
        return len(output.data)
    return await _fetch(str(output.url), out, client, max_bytes, timeout_s)


async def _fetch(url: str, out: BinaryIO, client: httpx.AsyncClient | None, max_bytes: int,
                 timeout_s: float) -> int:
    if urlsplit(url).scheme not in ("http", "https"):
        raise DownloadError("download", f"refusing to fetch a non-http URL: {url[:100]!r}")
    own = client is None
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10.0))
    try:
        async with http.stream("GET", url, follow_redirects=True) as resp:
            if resp.status_code != 200:
                raise DownloadError("download", f"GET {_short(url)} answered HTTP {resp.status_code}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError("download", f"{_short(url)} is {declared} bytes, over the {max_bytes} byte limit")
            total = 0
            async for chunk in resp.aiter_bytes(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise DownloadError("download", f"{_short(url)} is over the {max_bytes} byte limit")
                out.write(chunk)
            if declared and declared.isdigit() and total != int(declared):
                raise DownloadError("download", f"{_short(url)} ended after {total} of {declared} bytes")
            return total
    except httpx.HTTPError as exc:
        raise DownloadError("download", f"GET {_short(url)} failed: {type(exc).__name__}") from None
    finally:
        if own:
            await http.aclose()


def _file_name(output: OutputFile, stem: str | None) -> str:
    base = stem or output.filename or (unquote(Path(urlsplit(output.url).path).name) if output.url else "")
    base = (_SAFE.sub("_", base).strip("._") or "output")[:120]
    media = output.media_type.split(";")[0].strip().lower()
    ext = _EXTRA_TYPES.get(media) or mimetypes.guess_extension(media)
    if not ext:
        return base
    fitting = {ext, *mimetypes.guess_all_extensions(media)}
    path = Path(base)
    if path.suffix.lower() in fitting:
        return base
    # The suffix is what later stages sniff first; make it agree with the content type.
    return f"{path.stem if path.suffix else base}{ext}"


def _short(url: str) -> str:
    # Signed CDN URLs carry credentials in the query; never echo it.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:200]
