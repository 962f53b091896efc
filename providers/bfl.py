"""Black Forest Labs' FLUX API (https://docs.bfl.ml/quick_start/generating_images).

POST {base}/v1/{model} with header `x-key` -> {id, polling_url}; GET polling_url
-> {status: Pending | Ready | Request Moderated | Content Moderated | Error |
Task not found, result: {sample: <signed URL>}}. The newest docs say to poll the
returned polling_url (it can be a regional host) rather than /v1/get_result;
we fall back to get_result only when an answer lacks it. Sample URLs expire
after about ten minutes, so download right after `wait()` returns.
"""
from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from .base import ModelInfo, Provider
from .capabilities import Capability
from .inputs import InputFile, ProviderInputError, by_media, inline_bytes
from .pricing import Price, Unit
from .results import GenerationResult, Job, JobState, JobStatus, OutputFile

_RUNNING = {"Pending", "Queued", "Processing"}
_FAILED = {"Request Moderated", "Content Moderated", "Error", "Failed", "Task not found"}


class BflProvider(Provider):
    name = "bfl"
    CAPABILITIES = frozenset({Capability.GENERATE})
    MODELS = (
        ModelInfo("flux-dev", "image", "FLUX.1 [dev]"),
        ModelInfo("flux-pro-1.1", "image", "FLUX1.1 [pro]"),
        ModelInfo("flux-pro-1.1-ultra", "image", "FLUX1.1 [pro] Ultra, up to 4 MP"),
        ModelInfo("flux-kontext-pro", "image", "FLUX.1 Kontext [pro] generation and editing"),
        ModelInfo("flux-kontext-max", "image", "FLUX.1 Kontext [max]"),
    )
    DEFAULT_PRICES = {
        "flux-dev": Price(Unit.IMAGE, Decimal("0.025")),
        "flux-pro-1.1": Price(Unit.IMAGE, Decimal("0.04")),
        "flux-pro-1.1-ultra": Price(Unit.IMAGE, Decimal("0.06")),
        "flux-kontext-pro": Price(Unit.IMAGE, Decimal("0.04")),
        "flux-kontext-max": Price(Unit.IMAGE, Decimal("0.08")),
    }

    def _auth_headers(self) -> dict[str, str]:
        return {"x-key": self._key(), "accept": "application/json"}

    def inputs_for(self, prompt: str | None, params: Mapping[str, Any],
                   refs: Sequence[InputFile]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The first image reference is `input_image`, base64, as Kontext takes it."""
        send = self._with_prompt(prompt, params)
        media = by_media(self.name, refs)
        if media["video"] or media["audio"]:
            raise ProviderInputError(self.name, "BFL takes image references only")
        if media["image"] and "input_image" not in send:
            send["input_image"] = base64.b64encode(inline_bytes(self.name, media["image"][0])).decode("ascii")
        return send, {}

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"num_images": 1}     # one request, one image

    async def _submit(self, model: str, params: Mapping[str, Any], **inputs: Any) -> Job:
        data = await self._request("POST", f"v1/{model}", json_body=dict(params), what="submit")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise self._malformed("submit answer", f"no id in {str(data)[:200]}")
        polling = data.get("polling_url")
        if not isinstance(polling, str) or not polling:
            polling = f"{self.settings.base_url}/v1/get_result?id={data['id']}"
        return Job(self.name, model, data["id"], {"polling": polling})

    async def _poll(self, job: Job) -> dict[str, Any]:
        data = await self._request("GET", job.urls["polling"], what="poll")
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise self._malformed("poll answer", f"no status in {str(data)[:200]}")
        return data

    async def status(self, job: Job) -> JobStatus:
        data = await self._poll(job)
        state = data["status"]
        if state == "Ready":
            return JobStatus(JobState.COMPLETED, None, data)
        if state in _RUNNING:
            progress = data.get("progress")
            return JobStatus(JobState.RUNNING, None if progress is None else f"progress {progress}", data)
        if state in _FAILED:
            details = data.get("details") or data.get("result")
            return JobStatus(JobState.FAILED, state if not details else f"{state}: {str(details)[:200]}", data)
        raise self._malformed("poll answer", f"unknown status {state!r}")

    async def result(self, job: Job) -> GenerationResult:
        data = await self._poll(job)
        result = data.get("result")
        sample = result.get("sample") if isinstance(result, dict) else None
        if data["status"] != "Ready" or not isinstance(sample, str) or not sample:
            raise self._malformed("result answer", f"status {data['status']!r} without result.sample")
        media = mimetypes.guess_type(urlsplit(sample).path)[0] or "image/jpeg"
        return GenerationResult(self.name, job.model, job.request_id, JobState.COMPLETED,
                                [OutputFile(media, url=sample)], job.cost_usd, data)
