"""OpenAI: image generation and image rating.

Images: POST {base}/v1/images/generations -> {data: [{b64_json}]}; GPT image
models always answer in base64 (dall-e-3 needs response_format=b64_json).
Vision: POST {base}/v1/chat/completions with a user message holding an
`image_url` part (a base64 data URL) and response_format json_object; the
newest docs use `max_completion_tokens` in place of the deprecated `max_tokens`.
Auth: `Authorization: Bearer $OPENAI_API_KEY`.
"""
from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .base import ModelInfo
from .capabilities import Capability
from .errors import ProviderRequestError
from .pricing import CostEstimate, Price, Unit
from .results import GenerationResult, Job, JobState, OutputFile
from .vision import VisionProvider, usage_int

_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


class OpenAIProvider(VisionProvider):
    name = "openai"
    CAPABILITIES = frozenset({Capability.GENERATE, Capability.SYNCHRONOUS, Capability.VISION})
    MODELS = (
        ModelInfo("gpt-image-1", "image", "GPT Image 1 text-to-image"),
        ModelInfo("dall-e-3", "image", "DALL-E 3 text-to-image"),
        ModelInfo("gpt-4o", "vision", "GPT-4o image rating"),
        ModelInfo("gpt-4o-mini", "vision", "GPT-4o mini: cheap image rating"),
    )
    DEFAULT_PRICES = {
        "gpt-image-1": Price(Unit.IMAGE, Decimal("0.042")),    # medium quality, 1024x1024
        "dall-e-3": Price(Unit.IMAGE, Decimal("0.04")),
        "gpt-4o": Price(Unit.MILLION_TOKENS, Decimal("2.5"), output_usd=Decimal("10")),
        "gpt-4o-mini": Price(Unit.MILLION_TOKENS, Decimal("0.15"), output_usd=Decimal("0.6")),
    }
    DEFAULT_VISION_MODEL = "gpt-4o-mini"
    QUALITY_STAGES = {"vision": DEFAULT_VISION_MODEL}

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key()}"}

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if self.model(model).kind == "vision":
            return dict(params)
        return {"num_images": params.get("n", 1)}

    async def generate(self, model: str, params: Mapping[str, Any], *, admitted: CostEstimate | None = None,
                       **inputs: Any) -> GenerationResult:
        """Synchronous on OpenAI's side: one POST returns the images."""
        if self.model(model).kind != "image":
            raise ProviderRequestError(self.name, f"{model} does not generate images")
        if inputs:
            raise ProviderRequestError(self.name, f"unexpected inputs {sorted(inputs)}")
        estimate = self.admit(model, params, admitted)
        body = {"model": model, **params}
        if model == "dall-e-3":
            body.setdefault("response_format", "b64_json")
        data = await self._request("POST", "v1/images/generations", json_body=body, what="generate image")
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise self._malformed("images answer", "no data list")
        media = _FORMATS.get(str(params.get("output_format", "png")), "image/png")
        outputs = []
        for item in items:
            b64 = item.get("b64_json") if isinstance(item, dict) else None
            if not isinstance(b64, str):
                raise self._malformed("images answer", "an image without b64_json")
            try:
                outputs.append(OutputFile(media, data=base64.b64decode(b64, validate=True)))
            except (binascii.Error, ValueError):
                raise self._malformed("images answer", "b64_json is not valid base64") from None
        raw = {k: v for k, v in data.items() if k != "data"}
        raw["data"] = [{k: v for k, v in i.items() if k != "b64_json"} for i in items]
        request_id = f"openai-{data.get('created', '')}-{uuid.uuid4().hex[:8]}"
        return GenerationResult(self.name, model, request_id, JobState.COMPLETED, outputs, estimate.usd, raw)

    async def _submit(self, model: str, params: Mapping[str, Any], **inputs: Any) -> Job:
        raise ProviderRequestError(self.name, "OpenAI image generation is synchronous; call generate()")

    async def _vision_call(self, model: str, blob: bytes, media_type: str, prompt: str) -> tuple[str, int, int]:
        data_url = f"data:{media_type};base64,{base64.b64encode(blob).decode('ascii')}"
        body = {
            "model": model,
            "max_completion_tokens": self.MAX_OUTPUT_TOKENS,
            "response_format": {"type": "json_object"},
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": data_url}},
                ],
            }],
        }
        data = await self._request("POST", "v1/chat/completions", json_body=body, idempotent=True,
                                   what="rate image")
        choices = data.get("choices") if isinstance(data, dict) else None
        message = choices[0].get("message") if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        if not isinstance(message, dict):
            raise self._malformed("chat answer", "no choices[0].message")
        if message.get("refusal"):
            raise self._malformed("chat answer", f"the model refused: {str(message['refusal'])[:200]}")
        text = message.get("content")
        if not isinstance(text, str):
            raise self._malformed("chat answer", "message content is not text")
        usage = data.get("usage")
        return text, usage_int(self, usage, "prompt_tokens"), usage_int(self, usage, "completion_tokens")
