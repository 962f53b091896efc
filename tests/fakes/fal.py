"""fal.ai queue API: submit -> request_id + status/response URLs; status walks
IN_QUEUE -> IN_PROGRESS -> COMPLETED; the result lists images or a video, or
for fal-ai/arbiter/* the quality figures {values: [{measurement: number}]}."""
from __future__ import annotations

import uuid
from typing import Any

from .server import FakeService, Reply, Request, Steps, png_bytes


class FakeFal(FakeService):
    def setup_routes(self) -> None:
        self.steps = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.job_error: str | None = None        # set: the job ends COMPLETED with this error
        self.jobs: dict[str, dict[str, Any]] = {}
        self.quality_value: float = 71.5         # what arbiter measures for every input
        self.quality_answer: Any = None          # set: the arbiter result body instead
        self.route("GET", r"/(?P<app>[^/]+/[^/]+)/requests/(?P<rid>[^/]+)/status", "status", self._status)
        self.route("GET", r"/(?P<app>[^/]+/[^/]+)/requests/(?P<rid>[^/]+)", "result", self._result)
        self.route("POST", r"/(?P<model>[^/]+/[^/]+(?:/.+)?)", "submit", self._submit)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Key {self.api_key}"

    def auth_error(self, headers: dict[str, str]) -> Reply:
        # Echo what was sent, as careless services do, so redaction is exercised.
        return Reply(401, {"detail": f"Invalid credentials: {headers.get('authorization', '')}"})

    def _submit(self, req: Request, m: Any) -> Reply:
        try:
            params = req.json()
        except ValueError:
            return Reply(422, {"detail": [{"msg": "body is not JSON"}]})
        model = m["model"]
        if model.startswith("fal-ai/arbiter/"):
            invalid = _arbiter_invalid(params)
            if invalid:
                return Reply(422, {"detail": [{"loc": ["body", "inputs"], "msg": invalid}]})
        elif not isinstance(params, dict) or "prompt" not in params and "video_url" not in params:
            return Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required"}]})
        app = "/".join(model.split("/")[:2])
        rid = str(uuid.uuid4())
        self.jobs[rid] = {"model": model, "params": params, "steps": Steps(self.steps)}
        base = f"{self.url}/{app}/requests/{rid}"
        return Reply(200, {"request_id": rid, "response_url": base, "status_url": f"{base}/status",
                           "cancel_url": f"{base}/cancel", "queue_position": 0})

    def _status(self, req: Request, m: Any) -> Reply:
        job = self.jobs.get(m["rid"])
        if job is None:
            return Reply(404, {"detail": "Request not found"})
        state = job["steps"].next()
        body: dict[str, Any] = {"status": state, "request_id": m["rid"]}
        if state == "IN_QUEUE":
            body["queue_position"] = 2
        if state == "COMPLETED" and self.job_error:
            body.update(error=self.job_error, error_type="runner_server_error")
        return Reply(200, body)

    def _result(self, req: Request, m: Any) -> Reply:
        job = self.jobs.get(m["rid"])
        if job is None:
            return Reply(404, {"detail": "Request not found"})
        if not job["steps"].done:
            return Reply(400, {"detail": "Request is still in progress"})
        if job["model"].startswith("fal-ai/arbiter/"):
            if self.quality_answer is not None:
                return Reply(200, self.quality_answer)
            names = job["params"]["measurements"]
            return Reply(200, {"values": [{n: self.quality_value for n in names} for _ in job["params"]["inputs"]]})
        if "video" in job["model"] or "mmaudio" in job["model"]:
            url = self.add_file(f"{m['rid']}.mp4", b"\x00\x00\x00\x18ftypmp42fake-video", "video/mp4")
            return Reply(200, {"video": {"url": url, "content_type": "video/mp4", "file_name": "output.mp4"}})
        n = int(job["params"].get("num_images", 1))
        images = []
        for i in range(n):
            url = self.add_file(f"{m['rid']}-{i}.png", png_bytes(), "image/png")
            images.append({"url": url, "width": 16, "height": 12, "content_type": "image/png"})
        return Reply(200, {"images": images, "seed": 42, "prompt": job["params"].get("prompt")})


def _arbiter_invalid(params: Any) -> str | None:
    if not isinstance(params, dict):
        return "body must be an object"
    names, inputs = params.get("measurements"), params.get("inputs")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "measurements must be a non-empty list of names"
    if not isinstance(inputs, list) or not inputs:
        return "inputs must be a non-empty list"
    for item in inputs:
        url = item.get("hypothesis") if isinstance(item, dict) else None
        if not isinstance(url, str) or not (url.startswith("data:image/") or url.startswith("http")):
            return "each input needs a hypothesis image URL"
    return None
