"""Anthropic Messages API: x-api-key + anthropic-version, image content blocks."""
from __future__ import annotations

import base64
from typing import Any

from .server import FakeService, Reply, Request

GOOD_RATING = ('Here is my assessment:\n```json\n{"score": 64, "defects": ["extra fingers", "garbled text"], '
               '"tags": ["portrait", "neon"], "summary": "Striking but flawed."}\n```\nLet me know!')


class FakeAnthropic(FakeService):
    def setup_routes(self) -> None:
        self.vision_text = GOOD_RATING
        self.usage = {"input_tokens": 1200, "output_tokens": 80}
        self.route("POST", r"/v1/messages", "messages", self._messages)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return headers.get("x-api-key") == self.api_key

    def auth_error(self, headers: dict[str, str]) -> Reply:
        return Reply(401, {"type": "error", "error": {"type": "authentication_error",
                                                      "message": f"invalid x-api-key {headers.get('x-api-key')}"}})

    def _messages(self, req: Request, m: Any) -> Reply:
        if req.headers.get("anthropic-version") != "2023-06-01":
            return Reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "anthropic-version header is required"}})
        body = req.json()
        blocks = body["messages"][0]["content"]
        image = next((b for b in blocks if b.get("type") == "image"), None)
        source = (image or {}).get("source", {})
        if source.get("type") != "base64" or source.get("media_type") not in (
                "image/png", "image/jpeg", "image/gif", "image/webp"):
            return Reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "image source invalid"}})
        base64.b64decode(source["data"], validate=True)
        if not isinstance(body.get("max_tokens"), int):
            return Reply(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": "max_tokens: Field required"}})
        return Reply(200, {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": self.vision_text}],
            "stop_reason": "end_turn", "usage": self.usage,
        })
