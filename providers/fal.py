"""fal.ai through its queue API (https://docs.fal.ai/model-endpoints/queue).

POST {base}/{model_id} with the model's input JSON -> {request_id, status_url,
response_url}; GET status_url -> {status: IN_QUEUE | IN_PROGRESS | COMPLETED};
GET response_url -> the model's output ({"images": [...]} or {"video": {...}}).
Auth: `Authorization: Key $FAL_KEY`. The status and result paths drop a
model's subpath (fal-ai/flux/dev -> fal-ai/flux/requests/...), so we use the
URLs fal returns and only build them ourselves if an answer lacks them.

Image quality (issue 6, the "aesthetics API" stage): fal-ai/arbiter/image
runs no-reference quality metrics through the same queue. Input
{measurements: [name], inputs: [{hypothesis: <image URL or data URI>}]},
output {values: [{name: number}, ...]} (one object per input), billed per
compute second (about $0.0011/s; one image takes a second or two, so the
default price is $0.0025 an image, overridable in config).
"""
from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from .base import Context, ModelInfo, Provider
from .capabilities import Capability
from .errors import ProviderRequestError
from .inputs import InputFile, by_media, data_uri
from .pricing import CostEstimate, Price, Unit
from .results import (
    GenerationResult,
    Job,
    JobState,
    JobStatus,
    OutputFile,
    QualityMeasurement,
    StageAnswer,
)
from .vision import prepare_image

_IMAGE_SIZES = {   # fal's named sizes, for pricing by megapixel
    "square_hd": (1024, 1024), "square": (512, 512),
    "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}
QUALITY_MODEL = "fal-ai/arbiter/image"
# Each metric's native range, mapped linearly onto 0..100 (MUSIQ is already on it).
MEASUREMENT_RANGES: dict[str, tuple[float, float]] = {
    "musiq": (0.0, 100.0), "nima": (1.0, 10.0), "arniqa": (0.0, 1.0), "clip_iqa": (0.0, 1.0),
}
_STATES = {"IN_QUEUE": JobState.QUEUED, "IN_PROGRESS": JobState.RUNNING, "COMPLETED": JobState.COMPLETED,
           "FAILED": JobState.FAILED, "CANCELED": JobState.FAILED, "CANCELLED": JobState.FAILED}


class FalProvider(Provider):
    name = "fal"
    CAPABILITIES = frozenset({Capability.GENERATE, Capability.QUALITY})
    QUALITY_STAGES = {"aesthetic": QUALITY_MODEL}
    DEFAULT_FOR_STAGES = frozenset({"aesthetic"})
    MODELS = (
        ModelInfo("fal-ai/flux/dev", "image", "FLUX.1 [dev] text-to-image"),
        ModelInfo("fal-ai/flux-pro/v1.1", "image", "FLUX1.1 [pro] text-to-image"),
        ModelInfo("fal-ai/flux-pro/kontext", "image", "FLUX.1 Kontext [pro] image editing"),
        ModelInfo("fal-ai/kling-video/v2.1/master/text-to-video", "video", "Kling 2.1 Master text-to-video"),
        ModelInfo("fal-ai/kling-video/v2.1/master/image-to-video", "video", "Kling 2.1 Master image-to-video"),
        ModelInfo("fal-ai/mmaudio-v2", "audio", "MMAudio v2: a soundtrack for a video"),
        ModelInfo(QUALITY_MODEL, "quality", "Arbiter: no-reference image quality (MUSIQ, NIMA, ARNIQA, CLIP-IQA)"),
    )
    DEFAULT_PRICES = {
        "fal-ai/flux/dev": Price(Unit.MEGAPIXEL, Decimal("0.025")),
        "fal-ai/flux-pro/v1.1": Price(Unit.MEGAPIXEL, Decimal("0.04")),
        "fal-ai/flux-pro/kontext": Price(Unit.IMAGE, Decimal("0.04")),
        "fal-ai/kling-video/v2.1/master/text-to-video": Price(Unit.VIDEO_SECOND, Decimal("0.28"), default_quantity=Decimal(5)),
        "fal-ai/kling-video/v2.1/master/image-to-video": Price(Unit.VIDEO_SECOND, Decimal("0.28"), default_quantity=Decimal(5)),
        "fal-ai/mmaudio-v2": Price(Unit.VIDEO_SECOND, Decimal("0.001"), default_quantity=Decimal(8)),
        QUALITY_MODEL: Price(Unit.IMAGE, Decimal("0.0025")),
    }

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self._key()}"}

    def inputs_for(self, prompt: str | None, params: Mapping[str, Any],
                   refs: Sequence[InputFile]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Image references become `image_url` (one) or `image_urls` (several) as data URIs,
        which fal accepts in place of URLs; a video reference `video_url`, an audio one `audio_url`."""
        send = self._with_prompt(prompt, params)
        media = by_media(self.name, refs)
        images = media["image"]
        if len(images) == 1 and "image_url" not in send and "image_urls" not in send:
            send["image_url"] = data_uri(self.name, images[0])
        elif len(images) > 1 and "image_urls" not in send:
            send["image_urls"] = [data_uri(self.name, r) for r in images]
        if media["video"] and "video_url" not in send:
            send["video_url"] = data_uri(self.name, media["video"][0])
        if media["audio"] and "audio_url" not in send:
            send["audio_url"] = data_uri(self.name, media["audio"][0])
        return send, {}

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if self.model(model).kind == "quality":
            inputs = params.get("inputs")
            return {"num_images": len(inputs) if isinstance(inputs, list) and inputs else 1}
        out: dict[str, Any] = {"num_images": params.get("num_images", 1)}
        size = params.get("image_size", "landscape_4_3")
        if isinstance(size, Mapping):
            out["width"], out["height"] = size.get("width", 1024), size.get("height", 1024)
        elif isinstance(size, str) and size in _IMAGE_SIZES:
            out["width"], out["height"] = _IMAGE_SIZES[size]
        if "duration" in params:      # Kling takes "5"/"10" as strings, MMAudio a number
            out["duration_s"] = params["duration"]
        return out

    async def _submit(self, model: str, params: Mapping[str, Any], **inputs: Any) -> Job:
        data = await self._request("POST", model, json_body=dict(params), what="submit")
        if not isinstance(data, dict) or not isinstance(data.get("request_id"), str) or not data["request_id"]:
            raise self._malformed("submit answer", f"no request_id in {str(data)[:200]}")
        rid = data["request_id"]
        app = "/".join(model.split("/")[:2])
        urls = {
            "status": _str_or(data.get("status_url"), f"{self.settings.base_url}/{app}/requests/{rid}/status"),
            "result": _str_or(data.get("response_url"), f"{self.settings.base_url}/{app}/requests/{rid}"),
        }
        return Job(self.name, model, rid, urls)

    async def status(self, job: Job) -> JobStatus:
        data = await self._request("GET", job.urls["status"], what="status")
        raw_state = data.get("status") if isinstance(data, dict) else None
        if raw_state not in _STATES:
            raise self._malformed("status answer", f"unknown status {raw_state!r}")
        state = _STATES[raw_state]
        if state is JobState.COMPLETED and data.get("error"):
            return JobStatus(JobState.FAILED, f"{data.get('error_type') or 'error'}: {data['error']}", data)
        detail = f"queue position {data['queue_position']}" if "queue_position" in data else None
        return JobStatus(state, detail, data)

    async def result(self, job: Job) -> GenerationResult:
        data = await self._request("GET", job.urls["result"], what="result")
        if not isinstance(data, dict):
            raise self._malformed("result answer", "not a JSON object")
        if self.model(job.model).kind == "quality":    # figures, not files
            return GenerationResult(self.name, job.model, job.request_id, JobState.COMPLETED, [],
                                    job.cost_usd, data)
        outputs = [self._output(item, job.model) for item in _output_items(data)]
        if not outputs:
            raise self._malformed("result answer", f"no images, video or audio in keys {sorted(data)[:10]}")
        return GenerationResult(self.name, job.model, job.request_id, JobState.COMPLETED, outputs,
                                job.cost_usd, data)

    def stage_estimate(self, kind: str, model: str) -> CostEstimate:
        if kind not in self.QUALITY_STAGES:
            raise self._no_stage(kind)
        return self.estimate(model, {"inputs": [{}]})

    async def run_stage(self, kind: str, image: bytes | Path, *, model: str,
                        context: Context = lambda: None) -> StageAnswer:
        if kind not in self.QUALITY_STAGES:
            raise self._no_stage(kind)
        return await self.measure_quality(image, model=model)

    async def measure_quality(self, image: bytes | Path | str, *, model: str = QUALITY_MODEL,
                              measurement: str = "musiq") -> QualityMeasurement:
        """One no-reference quality metric for one image, as a 0..100 score.

        The image goes inline as a data URI (fal accepts those wherever it takes
        a file URL), downscaled like a vision rating so upload stays small."""
        if self.model(model).kind != "quality":
            raise ProviderRequestError(self.name, f"{model} does not measure image quality; use {QUALITY_MODEL}")
        if measurement not in MEASUREMENT_RANGES:
            raise ProviderRequestError(
                self.name, f"unknown measurement {measurement!r}; known: {', '.join(MEASUREMENT_RANGES)}")
        blob, media_type, _w, _h = prepare_image(self.name, image)
        data_url = f"data:{media_type};base64,{base64.b64encode(blob).decode('ascii')}"
        result = await self.generate(model, {"measurements": [measurement], "inputs": [{"hypothesis": data_url}]})
        value = self._measured(result.raw, measurement)
        lo, hi = MEASUREMENT_RANGES[measurement]
        score = min(100.0, max(0.0, (value - lo) / (hi - lo) * 100.0))
        self._emit("info", "provider.measured", model=model, measurement=measurement, value=value)
        return QualityMeasurement(score=round(score, 2), measurement=measurement, value=value,
                                  raw=result.raw, cost_usd=result.cost_usd, provider=self.name, model=model)

    def _measured(self, data: Any, measurement: str) -> float:
        values = data.get("values") if isinstance(data, dict) else None
        first = values[0] if isinstance(values, list) and values else None
        if not isinstance(first, dict):
            raise self._malformed("quality answer", f"no values list of objects in {str(data)[:200]}")
        value = first.get(measurement)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._malformed("quality answer", f"{measurement} is not a number: {str(value)[:100]!r}")
        return float(value)

    def _output(self, item: Any, model: str) -> OutputFile:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"]:
            raise self._malformed("result answer", f"output without a url: {str(item)[:200]}")
        url: str = item["url"]
        media = item.get("content_type") if isinstance(item.get("content_type"), str) else None
        name = item.get("file_name") if isinstance(item.get("file_name"), str) else None
        if url.startswith("data:"):
            # sync_mode answers carry the file inline as a data URI.
            header, _, payload = url.partition(",")
            try:
                blob = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise self._malformed("result answer", "data URI is not valid base64") from None
            return OutputFile(media or header[5:].split(";")[0] or "application/octet-stream",
                              data=blob, filename=name)
        kind = self.model(model).kind
        fallback = {"image": "image/png", "video": "video/mp4", "audio": "video/mp4"}.get(kind, "application/octet-stream")
        return OutputFile(media or fallback, url=url, filename=name)


def _output_items(data: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    images = data.get("images")
    if isinstance(images, list):
        items.extend(images)
    for key in ("image", "video", "audio", "audio_file"):
        if isinstance(data.get(key), dict):
            items.append(data[key])
    return items


def _str_or(value: Any, default: str) -> str:
    return value if isinstance(value, str) and value else default
