"""Hedra public API: models list, asset create + multipart upload, generation
create, and a status that walks queued -> processing -> finalizing -> complete."""
from __future__ import annotations

import uuid
from typing import Any

from .server import FakeService, Reply, Request, Steps

CHARACTER_2 = "c2000000-0000-4000-8000-000000000002"
CHARACTER_3 = "d1dd37a3-e39a-4854-a298-6510289f9cf2"


class FakeHedra(FakeService):
    def setup_routes(self) -> None:
        self.steps = ["queued", "processing", "finalizing", "complete"]
        self.job_error: str | None = None
        self.assets: dict[str, dict[str, Any]] = {}
        self.generations: dict[str, dict[str, Any]] = {}
        self.route("GET", r"/models", "models", self._models)
        self.route("POST", r"/assets", "create_asset", self._create_asset)
        self.route("POST", r"/assets/(?P<id>[^/]+)/upload", "upload", self._upload)
        self.route("POST", r"/generations", "create_generation", self._create_generation)
        self.route("GET", r"/generations/(?P<id>[^/]+)/status", "status", self._status)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return headers.get("x-api-key") == self.api_key

    def auth_error(self, headers: dict[str, str]) -> Reply:
        return Reply(401, {"detail": f"Invalid API key: {headers.get('x-api-key', '')}"})

    def _models(self, req: Request, m: Any) -> Reply:
        return Reply(200, [{"id": CHARACTER_2, "name": "Character-2", "type": "video"},
                           {"id": CHARACTER_3, "name": "Character 3", "type": "video"}])

    def _create_asset(self, req: Request, m: Any) -> Reply:
        body = req.json()
        if not isinstance(body, dict) or body.get("type") not in ("image", "audio", "video") or not body.get("name"):
            return Reply(422, {"detail": [{"loc": ["body", "type"], "msg": "invalid asset"}]})
        aid = str(uuid.uuid4())
        self.assets[aid] = {"type": body["type"], "name": body["name"], "data": None}
        return Reply(200, {"id": aid, "name": body["name"], "type": body["type"]})

    def _upload(self, req: Request, m: Any) -> Reply:
        asset = self.assets.get(m["id"])
        if asset is None:
            return Reply(404, {"detail": "asset not found"})
        if not req.headers.get("content-type", "").startswith("multipart/form-data") or b'name="file"' not in req.body:
            return Reply(422, {"detail": [{"loc": ["body", "file"], "msg": "file required"}]})
        asset["data"] = req.body
        return Reply(200, {"id": m["id"], "type": asset["type"]})

    def _create_generation(self, req: Request, m: Any) -> Reply:
        body = req.json()
        for key, kind in (("start_keyframe_id", "image"), ("audio_id", "audio")):
            asset = self.assets.get(body.get(key))
            if asset is None or asset["type"] != kind or asset["data"] is None:
                return Reply(422, {"detail": [{"loc": ["body", key], "msg": f"{kind} asset missing or not uploaded"}]})
        if body.get("ai_model_id") not in (CHARACTER_2, CHARACTER_3) or body.get("type") != "video":
            return Reply(422, {"detail": [{"loc": ["body", "ai_model_id"], "msg": "unknown model"}]})
        gid = str(uuid.uuid4())
        self.generations[gid] = {"body": body, "steps": Steps(self.steps)}
        return Reply(200, {"id": gid, "asset_id": str(uuid.uuid4()), "type": "video"})

    def _status(self, req: Request, m: Any) -> Reply:
        gen = self.generations.get(m["id"])
        if gen is None:
            return Reply(404, {"detail": "generation not found"})
        steps: Steps = gen["steps"]
        state = steps.states[-1] if steps.done else steps.next()
        if state == "complete" and self.job_error:
            return Reply(200, {"id": m["id"], "status": "error", "error_message": self.job_error})
        body: dict[str, Any] = {"id": m["id"], "status": state, "progress": 0.5}
        if state == "complete":
            url = self.add_file(f"{m['id']}.mp4", b"\x00\x00\x00\x18ftypmp42fake-avatar", "video/mp4")
            body.update(progress=1.0, url=url, download_url=url, asset_id=f"asset-{m['id'][:8]}")
        return Reply(200, body)
