"""AUTOMATIC1111's API (modules/api/api.py), as Forge and SD.Next also serve it:
txt2img/img2img answer once the images exist, with base64 PNGs, the request
echoed as `parameters` and `info` as a JSON string; an unknown
sd_model_checkpoint is quietly ignored (the loaded model is used), as A1111 does."""
from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .server import FakeService, Reply, Request

CHECKPOINTS = [
    {"title": "v1-5-pruned-emaonly.safetensors [6ce0161689]", "model_name": "v1-5-pruned-emaonly",
     "hash": "6ce0161689", "sha256": "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
     "filename": "/models/Stable-diffusion/v1-5-pruned-emaonly.safetensors", "config": None},
    {"title": "sdxl/juggernautXL_v9.safetensors [c9e3e68f89]", "model_name": "sdxl_juggernautXL_v9",
     "hash": "c9e3e68f89", "sha256": None,
     "filename": "/models/Stable-diffusion/sdxl/juggernautXL_v9.safetensors", "config": None},
]
SAMPLERS = ["Euler a", "Euler", "DPM++ 2M", "DPM++ 2M Karras", "DPM++ SDE"]


def infotext(body: dict[str, Any], seed: int, model: str) -> str:
    params = [f"Steps: {body.get('steps', 20)}", f"Sampler: {body.get('sampler_name', 'Euler')}",
              f"CFG scale: {body.get('cfg_scale', 7.0)}", f"Seed: {seed}",
              f"Size: {body.get('width', 512)}x{body.get('height', 512)}", f"Model: {model}", "Version: v1.10.1"]
    return f"{body.get('prompt', '')}\nNegative prompt: {body.get('negative_prompt', '')}\n{', '.join(params)}"


def png_with(text: str, seed: int) -> bytes:
    info = PngInfo()
    info.add_text("parameters", text)
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (seed % 256, 40, 90)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


class FakeA1111(FakeService):
    def setup_routes(self) -> None:
        self.checkpoints = [dict(c) for c in CHECKPOINTS]
        self.loaded = CHECKPOINTS[0]["title"]
        self.return_grid = True                 # A1111's default: a grid first when a batch has several images
        self.requests: list[dict[str, Any]] = []
        self.route("POST", r"/sdapi/v1/(?P<mode>txt2img|img2img)", "generate", self._generate)
        self.route("GET", r"/sdapi/v1/sd-models", "sd_models", self._sd_models)

    def auth_ok(self, headers: dict[str, str]) -> bool:
        return True

    def _sd_models(self, req: Request, m: Any) -> Reply:
        return Reply(200, self.checkpoints)

    def _generate(self, req: Request, m: Any) -> Reply:
        try:
            body = req.json()
        except ValueError:
            return Reply(422, {"detail": [{"loc": ["body"], "msg": "Expecting value", "type": "value_error.jsondecode"}]})
        if not isinstance(body, dict):
            return Reply(422, {"detail": [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]})
        self.requests.append(body)
        for key, kind in (("steps", int), ("seed", int), ("width", int), ("height", int), ("batch_size", int)):
            if key in body and (not isinstance(body[key], kind) or isinstance(body[key], bool)):
                return Reply(422, {"detail": [{"loc": ["body", key], "msg": "value is not a valid integer",
                                               "type": "type_error.integer"}]})
        if "sampler_name" in body and body["sampler_name"] not in SAMPLERS:
            return Reply(404, {"detail": "Sampler not found"})
        if m["mode"] == "img2img":
            images = body.get("init_images")
            if not isinstance(images, list) or not images:
                return Reply(500, {"error": "IndexError", "detail": "", "body": "", "errors": "list index out of range"})
            for item in images:
                base64.b64decode(item, validate=True)
        wanted = (body.get("override_settings") or {}).get("sd_model_checkpoint")
        model = next((c for c in self.checkpoints if wanted in (c["title"], c["model_name"])), None)
        if model is not None:
            self.loaded = model["title"]
        used = next(c for c in self.checkpoints if c["title"] == self.loaded)
        count = int(body.get("batch_size", 1)) * int(body.get("n_iter", 1))
        first_seed = body.get("seed", -1)
        first_seed = 1234567 if first_seed in (-1, None) else first_seed
        seeds = [first_seed + i for i in range(count)]
        texts = [infotext(body, s, used["model_name"]) for s in seeds]
        images = [base64.b64encode(png_with(t, s)).decode() for t, s in zip(texts, seeds, strict=False)]
        grid = self.return_grid and count > 1
        if grid:
            images.insert(0, base64.b64encode(png_with(texts[0], 0)).decode())
            texts.insert(0, texts[0])
        info = {"prompt": body.get("prompt", ""), "all_prompts": [body.get("prompt", "")] * count,
                "negative_prompt": body.get("negative_prompt", ""), "seed": seeds[0], "all_seeds": seeds,
                "subseed": 42, "all_subseeds": [42] * count, "width": body.get("width", 512),
                "height": body.get("height", 512), "sampler_name": body.get("sampler_name", "Euler"),
                "cfg_scale": body.get("cfg_scale", 7.0), "steps": body.get("steps", 20),
                "batch_size": body.get("batch_size", 1), "sd_model_name": used["model_name"],
                "sd_model_hash": used["hash"], "infotexts": texts, "index_of_first_image": 1 if grid else 0,
                "job_timestamp": "20261204120000"}
        return Reply(200, {"images": images, "parameters": body, "info": json.dumps(info)})
