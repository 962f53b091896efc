"""Turning alice's (prompt, params, references) into what each provider's API takes.

The request alice records keeps the user's own params and the references'
content ids; the big inline forms (data URIs, base64) are built only here,
just before sending, so the catalog and the embedded record stay small.

- fal: the prompt is `prompt`; image references become `image_url` (one) or
  `image_urls` (several) as data URIs, which fal accepts in place of URLs; a
  video reference `video_url`, an audio one `audio_url`.
- bfl: `prompt`; the first image is `input_image` (base64, as Kontext takes it).
- hedra: `text_prompt`; the first image and first audio are uploaded (image=, audio=).
- openai: `prompt`; its image endpoint here takes no references.
A param the user gave explicitly always wins over one derived from references.
"""
from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

from alice.daemon import errors
from alice.daemon.generation.references import Reference

MAX_INLINE_BYTES = 30 * 1024 * 1024     # fal and BFL reject request bodies far smaller than this anyway
_MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
                "mp4": "video/mp4", "mov": "video/quicktime", "mp3": "audio/mpeg", "wav": "audio/wav"}


class InputError(errors.InvalidRequest):
    """The references or params do not fit what this provider accepts."""


def _bytes(ref: Reference) -> bytes:
    size = ref.path.stat().st_size
    if size > MAX_INLINE_BYTES:
        raise InputError(f"reference {ref.path} is {size} bytes; at most {MAX_INLINE_BYTES} can be sent inline")
    return ref.path.read_bytes()


def _data_uri(ref: Reference) -> str:
    media = _MEDIA_TYPES.get(ref.format) or mimetypes.guess_type(ref.path.name)[0] or "application/octet-stream"
    return f"data:{media};base64,{base64.b64encode(_bytes(ref)).decode('ascii')}"


def _by_media(refs: Sequence[Reference], media: str) -> list[Reference]:
    return [r for r in refs if r.media == media]


def build(provider: str, prompt: str | None, params: Mapping[str, Any],
          refs: Sequence[Reference]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params to send, keyword inputs for Provider.submit)."""
    send = dict(params)
    inputs: dict[str, Any] = {}
    prompt_key = "text_prompt" if provider == "hedra" else "prompt"
    if prompt is not None:
        send.setdefault(prompt_key, prompt)
    images, videos, audios = (_by_media(refs, m) for m in ("image", "video", "audio"))
    unused = [r for r in refs if r.media not in ("image", "video", "audio")]
    if unused:
        raise InputError(f"reference {unused[0].path} is not an image, video or audio file ({unused[0].format})")
    if provider == "fal":
        if len(images) == 1 and "image_url" not in send and "image_urls" not in send:
            send["image_url"] = _data_uri(images[0])
        elif len(images) > 1 and "image_urls" not in send:
            send["image_urls"] = [_data_uri(r) for r in images]
        if videos and "video_url" not in send:
            send["video_url"] = _data_uri(videos[0])
        if audios and "audio_url" not in send:
            send["audio_url"] = _data_uri(audios[0])
    elif provider == "bfl":
        if videos or audios:
            raise InputError("BFL takes image references only")
        if images and "input_image" not in send:
            send["input_image"] = base64.b64encode(_bytes(images[0])).decode("ascii")
    elif provider == "hedra":
        if not images or not audios:
            raise InputError("a Hedra talking avatar needs one image and one audio reference "
                             "(--reference portrait.png --reference voice.mp3)")
        inputs["image"], inputs["audio"] = images[0].path, audios[0].path
    elif refs:
        raise InputError(f"{provider} image generation takes no reference files here")
    return send, inputs
