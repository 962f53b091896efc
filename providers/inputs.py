"""Reference files (images, video, audio) in the forms providers' APIs take them.

The request alice records keeps the user's own params and the references'
content ids; the big inline forms (data URIs, base64) are built only when a
provider turns a request into what it sends (`Provider.inputs_for`), so the
catalog and the embedded record stay small. A param the user gave explicitly
always wins over one derived from references.
"""
from __future__ import annotations

import base64
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from .errors import ProviderRequestError

MAX_INLINE_BYTES = 30 * 1024 * 1024     # fal and BFL reject request bodies far smaller than this anyway
MEDIA = ("image", "video", "audio")
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
                "mp4": "video/mp4", "mov": "video/quicktime", "mp3": "audio/mpeg", "wav": "audio/wav"}


class InputFile(Protocol):
    """A reference file as the caller resolved it (the daemon's Reference is one)."""

    @property
    def path(self) -> Path: ...
    @property
    def media(self) -> str: ...
    @property
    def format(self) -> str: ...


class ProviderInputError(ProviderRequestError):
    """The references or params do not fit what this provider accepts; nothing was sent."""


def inline_bytes(provider: str, ref: InputFile) -> bytes:
    size = ref.path.stat().st_size
    if size > MAX_INLINE_BYTES:
        raise ProviderInputError(provider, f"reference {ref.path} is {size} bytes; at most {MAX_INLINE_BYTES} "
                                           "can be sent inline")
    return ref.path.read_bytes()


def data_uri(provider: str, ref: InputFile) -> str:
    media = _MEDIA_TYPES.get(ref.format) or mimetypes.guess_type(ref.path.name)[0] or "application/octet-stream"
    return f"data:{media};base64,{base64.b64encode(inline_bytes(provider, ref)).decode('ascii')}"


def by_media(provider: str, refs: Sequence[InputFile]) -> dict[str, list[InputFile]]:
    """{"image": [...], "video": [...], "audio": [...]}; anything else is an error."""
    other = [r for r in refs if r.media not in MEDIA]
    if other:
        raise ProviderInputError(provider, f"reference {other[0].path} is not an image, video or audio file "
                                           f"({other[0].format})")
    return {m: [r for r in refs if r.media == m] for m in MEDIA}
