"""Saving a generated file to disk without ever leaving half a file behind.

Bytes stream into a hidden temp file in the destination folder, are fsynced,
then hard-linked to a name that did not exist (so nothing is overwritten,
even by a concurrent download) and the temp name removed. A failed or
oversized download leaves nothing but an error. Output URLs point at CDNs,
not the API, so no API key is sent with them.
"""
from __future__ import annotations

import mimetypes
import os
import re
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from .errors import DownloadError
from .results import OutputFile

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CHUNK = 256 * 1024
_EXTRA_TYPES = {"image/webp": ".webp", "video/mp4": ".mp4", "audio/mpeg": ".mp3", "audio/wav": ".wav",
                "image/jpeg": ".jpg", "image/png": ".png"}


async def download(
    output: OutputFile,
    dest_dir: Path | str,
    *,
    client: httpx.AsyncClient | None = None,
    max_bytes: int = 2 * 1024 * 1024 * 1024,
    timeout_s: float = 300.0,
    stem: str | None = None,
) -> Path:
    """Writes `output` into `dest_dir` and returns the new file's path."""
    dest = Path(dest_dir)
    if not dest.is_dir():
        raise DownloadError("download", f"destination {dest} is not an existing directory")
    name = _file_name(output, stem)
    tmp = dest / f".{name}.{secrets.token_hex(4)}.part"
    try:
        if output.data is not None:
            if len(output.data) > max_bytes:
                raise DownloadError("download", f"{name} is {len(output.data)} bytes, over the {max_bytes} byte limit")
            with open(tmp, "xb") as fh:
                fh.write(output.data)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            await _fetch(str(output.url), tmp, client, max_bytes, timeout_s)
        return _publish(tmp, dest / name)
    finally:
        tmp.unlink(missing_ok=True)


async def _fetch(url: str, tmp: Path, client: httpx.AsyncClient | None, max_bytes: int, timeout_s: float) -> None:
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
            with open(tmp, "xb") as fh:
                async for chunk in resp.aiter_bytes(_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise DownloadError("download", f"{_short(url)} is over the {max_bytes} byte limit")
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            if declared and declared.isdigit() and total != int(declared):
                raise DownloadError("download", f"{_short(url)} ended after {total} of {declared} bytes")
    except httpx.HTTPError as exc:
        raise DownloadError("download", f"GET {_short(url)} failed: {type(exc).__name__}") from None
    finally:
        if own:
            await http.aclose()


def _publish(tmp: Path, wanted: Path) -> Path:
    stem, suffix = wanted.stem, wanted.suffix
    for n in range(1000):
        target = wanted if n == 0 else wanted.with_name(f"{stem}-{n}{suffix}")
        try:
            os.link(tmp, target)       # fails if target exists: never overwrite
            return target
        except FileExistsError:
            continue
    raise DownloadError("download", f"could not find a free name for {wanted.name} in {wanted.parent}")


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
