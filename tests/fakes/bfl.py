"""BFL FLUX API: POST /v1/{model} -> {id, polling_url}; polling walks
Pending -> Ready with result.sample, or ends in a moderation/error status."""
from __future__ import annotations

import uuid
from typing import Any

from .server import FakeService, Reply, Request, Steps, png_bytes


class FakeBfl(FakeService):
    def setup_routes(self) -> None:
        self.steps = ["Pending", "Pending", "Ready"]
        self.polling_base: str | None = None     # override to hand out a foreign polling host
        self.jobs: dict[str, dict[str, Any]] = {}
        self.route("GET", r"/v1/get_result", "poll", self._poll)
        self.route("POST", r"/v1/(?P<model>[a-z0-9.\-]+)", "submit", self._submit)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return headers.get("x-key") == self.api_key

    def auth_error(self, headers: dict[str, str]) -> Reply:
        return Reply(403, {"detail": f"Not authenticated - Invalid key {headers.get('x-key', '')}"})

    def _submit(self, req: Request, m: Any) -> Reply:
        params = req.json()
        if not isinstance(params, dict) or not params.get("prompt"):
            return Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": "Field required"}]})
        rid = str(uuid.uuid4())
        self.jobs[rid] = {"model": m["model"], "params": params, "steps": Steps(self.steps)}
        base = self.polling_base or self.url
        return Reply(200, {"id": rid, "polling_url": f"{base}/v1/get_result?id={rid}"})

    def _poll(self, req: Request, m: Any) -> Reply:
        rid = (req.query.get("id") or [""])[0]
        job = self.jobs.get(rid)
        if job is None:
            return Reply(200, {"id": rid, "status": "Task not found"})
        state = job["steps"].states[-1] if job["steps"].done else job["steps"].next()
        body: dict[str, Any] = {"id": rid, "status": state, "result": None}
        if state == "Pending":
            body["progress"] = 0.5
        if state == "Ready":
            url = self.add_file(f"{rid}.png", png_bytes(), "image/png")
            body["result"] = {"sample": f"{url}?se=2026-01-01&sig=secret-signature",
                              "prompt": job["params"]["prompt"], "seed": 7}
        return Reply(200, body)
