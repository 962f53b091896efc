"""OpenAI: /v1/images/generations (b64_json images) and /v1/chat/completions
with an image_url data URL (vision)."""
from __future__ import annotations

import base64
import time
from typing import Any

from .server import FakeService, Reply, Request, png_bytes

GOOD_RATING = '{"score": 82, "defects": ["soft focus"], "tags": ["Cat", "portrait", "cat"], "summary": "A cat."}'


class FakeOpenAI(FakeService):
    def setup_routes(self) -> None:
        self.vision_text = GOOD_RATING
        self.usage = {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}
        self.route("POST", r"/v1/images/generations", "images", self._images)
        self.route("POST", r"/v1/chat/completions", "chat", self._chat)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def auth_error(self, headers: dict[str, str]) -> Reply:
        sent = headers.get("authorization", "").removeprefix("Bearer ")
        return Reply(401, {"error": {"message": f"Incorrect API key provided: {sent}.",
                                     "type": "invalid_request_error", "code": "invalid_api_key"}})

    def _images(self, req: Request, m: Any) -> Reply:
        body = req.json()
        if not body.get("prompt"):
            return Reply(400, {"error": {"message": "Missing required parameter: 'prompt'.",
                                         "type": "invalid_request_error"}})
        data = [{"b64_json": base64.b64encode(png_bytes()).decode()} for _ in range(int(body.get("n", 1)))]
        return Reply(200, {"created": int(time.time()), "data": data,
                           "usage": {"input_tokens": 10, "output_tokens": 4160, "total_tokens": 4170}})

    def _chat(self, req: Request, m: Any) -> Reply:
        body = req.json()
        parts = body["messages"][0]["content"]
        image = next((p for p in parts if p.get("type") == "image_url"), None)
        url = (image or {}).get("image_url", {}).get("url", "")
        if not url.startswith("data:image/") or ";base64," not in url:
            return Reply(400, {"error": {"message": "Invalid image_url.", "type": "invalid_request_error"}})
        base64.b64decode(url.split(",", 1)[1], validate=True)
        return Reply(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.vision_text, "refusal": None}}],
            "usage": self.usage,
        })
