"""Anthropic's Messages API, for rating images (https://docs.anthropic.com/en/api/messages).

POST {base}/v1/messages with `x-api-key` and `anthropic-version: 2023-06-01`;
the image goes as a content block {type: image, source: {type: base64,
media_type, data}}; the answer's `content` holds text blocks and `usage` the
input/output token counts we price.
"""
from __future__ import annotations

import base64
from decimal import Decimal

from .base import ModelInfo
from .capabilities import Capability
from .pricing import Price, Unit
from .vision import VisionProvider, usage_int

API_VERSION = "2023-06-01"


class AnthropicProvider(VisionProvider):
    name = "anthropic"
    CAPABILITIES = frozenset({Capability.VISION})
    MODELS = (
        ModelInfo("claude-sonnet-4-5", "vision", "Claude Sonnet 4.5: careful ratings"),
        ModelInfo("claude-haiku-4-5", "vision", "Claude Haiku 4.5: fast, cheap ratings"),
    )
    DEFAULT_PRICES = {   # USD per million tokens, input / output
        "claude-sonnet-4-5": Price(Unit.MILLION_TOKENS, Decimal("3"), output_usd=Decimal("15")),
        "claude-haiku-4-5": Price(Unit.MILLION_TOKENS, Decimal("1"), output_usd=Decimal("5")),
    }
    DEFAULT_VISION_MODEL = "claude-haiku-4-5"
    QUALITY_STAGES = {"vision": DEFAULT_VISION_MODEL}
    DEFAULT_FOR_STAGES = frozenset({"vision"})      # a bare `vision` stage rates with Claude

    def _auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self._key(), "anthropic-version": API_VERSION}

    async def _vision_call(self, model: str, blob: bytes, media_type: str, prompt: str) -> tuple[str, int, int]:
        body = {
            "model": model,
            "max_tokens": self.MAX_OUTPUT_TOKENS,
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                                 "data": base64.b64encode(blob).decode("ascii")}},
                    {"type": "text", "text": prompt},
                ],
            }],
        }
        # A repeated rating costs a few tenths of a cent, so timeouts may be retried.
        data = await self._request("POST", "v1/messages", json_body=body, idempotent=True, what="rate image")
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise self._malformed("messages answer", "no content list")
        text = "".join(block.get("text", "") for block in data["content"]
                       if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str))
        usage = data.get("usage")
        return text, usage_int(self, usage, "input_tokens"), usage_int(self, usage, "output_tokens")
