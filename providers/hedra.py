"""Hedra's public API for talking avatars (Character-2/3): image + audio -> video.

Shape from Hedra's own starter (hedra-labs/hedra-api-starter) and their
OpenAPI: base https://api.hedra.com/web-app/public, header `X-API-Key`.
  POST /assets {name, type: image|audio} -> {id}; POST /assets/{id}/upload (multipart "file")
  POST /generations {type: video, ai_model_id, start_keyframe_id, audio_id,
                     generated_video_inputs: {text_prompt, resolution, aspect_ratio}} -> {id}
  GET /generations/{id}/status -> {status: queued|processing|finalizing|complete|error,
                                   url, download_url, error_message}
Models are addressed by UUID; we find the UUID by name via GET /models unless
the params give `ai_model_id`.
"""
from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from .base import ModelInfo, Provider
from .capabilities import Capability
from .errors import ProviderRequestError
from .inputs import InputFile, ProviderInputError, by_media
from .pricing import Price, Unit
from .results import GenerationResult, Job, JobState, JobStatus, OutputFile

_MAX_INPUT_BYTES = 100 * 1024 * 1024
_STATES = {"queued": JobState.QUEUED, "pending": JobState.QUEUED, "processing": JobState.RUNNING,
           "finalizing": JobState.RUNNING, "complete": JobState.COMPLETED, "error": JobState.FAILED}
_VIDEO_INPUTS = ("text_prompt", "resolution", "aspect_ratio", "duration_ms", "seed")


class HedraProvider(Provider):
    name = "hedra"
    CAPABILITIES = frozenset({Capability.GENERATE, Capability.INPUT_IMAGES})
    MODELS = (
        ModelInfo("character-2", "avatar_video", "Character-2 talking avatar from a portrait and audio"),
        ModelInfo("character-3", "avatar_video", "Character-3 talking avatar from a portrait and audio"),
    )
    # Hedra bills in credits; this is the USD equivalent on the creator plan, an approximation.
    DEFAULT_PRICES = {
        "character-2": Price(Unit.VIDEO_SECOND, Decimal("0.05"), default_quantity=Decimal(10)),
        "character-3": Price(Unit.VIDEO_SECOND, Decimal("0.05"), default_quantity=Decimal(10)),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._model_ids: dict[str, str] = {}

    def _auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self._key()}

    PROMPT_PARAM = "text_prompt"

    def inputs_for(self, prompt: str | None, params: Mapping[str, Any],
                   refs: Sequence[InputFile]) -> tuple[dict[str, Any], dict[str, Any]]:
        """A talking avatar: the first image and the first audio reference are uploaded."""
        send = self._with_prompt(prompt, params)
        media = by_media(self.name, refs)
        if not media["image"] or not media["audio"]:
            raise ProviderInputError(self.name, "a Hedra talking avatar needs one image and one audio reference "
                                                "(--reference portrait.png --reference voice.mp3)")
        return send, {"image": media["image"][0].path, "audio": media["audio"][0].path}

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if "duration_ms" in params:
            ms = params["duration_ms"]
            return {"duration_s": ms / 1000 if isinstance(ms, (int, float)) and not isinstance(ms, bool) else ms}
        return {"duration_s": params["duration_s"]} if "duration_s" in params else {}

    async def _submit(self, model: str, params: Mapping[str, Any], *, image: bytes | Path | None = None,
                      audio: bytes | Path | None = None, **inputs: Any) -> Job:
        if inputs:
            raise ProviderRequestError(self.name, f"unexpected inputs {sorted(inputs)}; give image= and audio=")
        if image is None or audio is None:
            raise ProviderRequestError(self.name, "a talking avatar needs both image= and audio=")
        model_id = params.get("ai_model_id") or await self._model_uuid(model)
        image_id = await self._upload(image, "image")
        audio_id = await self._upload(audio, "audio")
        video: dict[str, Any] = {k: params[k] for k in _VIDEO_INPUTS if k in params}
        video.setdefault("resolution", "540p")
        video.setdefault("aspect_ratio", "1:1")
        video.setdefault("text_prompt", "")
        body = {
            "type": "video",
            "ai_model_id": model_id,
            "start_keyframe_id": image_id,
            "audio_id": audio_id,
            "generated_video_inputs": video,
        }
        data = await self._request("POST", "generations", json_body=body, what="create generation")
        return Job(self.name, model, _id(self, data, "create generation answer"))

    async def _model_uuid(self, model: str) -> str:
        if model in self._model_ids:
            return self._model_ids[model]
        data = await self._request("GET", "models", what="list models")
        entries = data.get("data", data) if isinstance(data, dict) else data
        if not isinstance(entries, list):
            raise self._malformed("models answer", "not a list of models")
        want = _norm(model)
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str) and _norm(str(entry.get("name", ""))) == want:
                self._model_ids[model] = entry["id"]
                return entry["id"]
        raise ProviderRequestError(
            self.name, f"Hedra lists no model named {model!r}; pass params['ai_model_id'] explicitly",
        )

    async def _upload(self, source: bytes | Path, kind: str) -> str:
        blob, filename = _read_input(self, source, kind)
        created = await self._request("POST", "assets", json_body={"name": filename, "type": kind},
                                      idempotent=True, what=f"create {kind} asset")
        asset_id = _id(self, created, f"create {kind} asset answer")
        media = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        # Re-uploading to the same asset id is harmless, so the upload may be retried.
        await self._request("POST", f"assets/{asset_id}/upload", files={"file": (filename, blob, media)},
                            idempotent=True, what=f"upload {kind}")
        return asset_id

    async def _status_answer(self, job: Job) -> dict[str, Any]:
        data = await self._request("GET", f"generations/{job.request_id}/status", what="status")
        if not isinstance(data, dict) or data.get("status") not in _STATES:
            raise self._malformed("status answer", f"unknown status in {str(data)[:200]}")
        return data

    async def status(self, job: Job) -> JobStatus:
        data = await self._status_answer(job)
        state = _STATES[data["status"]]
        if state is JobState.FAILED:
            return JobStatus(state, str(data.get("error_message") or data.get("error") or "error"), data)
        progress = data.get("progress")
        return JobStatus(state, None if progress is None else f"progress {progress}", data)

    async def result(self, job: Job) -> GenerationResult:
        data = await self._status_answer(job)
        url = data.get("download_url") or data.get("url")
        if data["status"] != "complete" or not isinstance(url, str) or not url:
            raise self._malformed("result answer", f"status {data['status']!r} without a video URL")
        name = f"{data['asset_id']}.mp4" if isinstance(data.get("asset_id"), str) else None
        return GenerationResult(self.name, job.model, job.request_id, JobState.COMPLETED,
                                [OutputFile("video/mp4", url=url, filename=name)], job.cost_usd, data)


def _id(provider: Provider, data: Any, what: str) -> str:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise provider._malformed(what, f"no id in {str(data)[:200]}")
    return data["id"]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _read_input(provider: Provider, source: bytes | Path, kind: str) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray)):
        if len(source) > _MAX_INPUT_BYTES:
            raise ProviderRequestError(provider.name, f"{kind} is over {_MAX_INPUT_BYTES} bytes")
        ext = {"image": ".png", "audio": ".wav"}[kind]
        return bytes(source), f"{kind}{ext}"
    if not isinstance(source, (str, Path)):
        raise ProviderRequestError(provider.name, f"{kind} must be bytes or a path, not {type(source).__name__}")
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > _MAX_INPUT_BYTES:
            raise ProviderRequestError(provider.name, f"{path} is {size} bytes, over {_MAX_INPUT_BYTES}")
        return path.read_bytes(), path.name
    except OSError as exc:
        raise ProviderRequestError(provider.name, f"cannot read {kind} {path}: {exc.strerror}") from None
