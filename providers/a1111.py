"""AUTOMATIC1111's web UI API, which Forge and SD.Next serve unchanged (modules/api/api.py).

POST /sdapi/v1/txt2img | /sdapi/v1/img2img with the payload -> {images: [base64 PNG],
parameters: <the request echoed>, info: <a JSON *string*: seed, all_seeds, infotexts,
index_of_first_image, sd_model_name, ...>}. The call returns only once the images
exist, so this provider is synchronous (one generate() call, like OpenAI images).
The checkpoint is chosen with override_settings.sd_model_checkpoint; A1111 quietly
keeps the loaded model when that name matches nothing, so the name is checked
against GET /sdapi/v1/sd-models first. Errors: 422 {detail: [...]} (validation),
404 {detail} (unknown sampler), 500 {error, detail, body, errors} (the run failed).
No key and no cost; budgets still see each request (at $0).
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from .base import ModelInfo, Provider
from .capabilities import Capability
from .errors import ProviderRequestError
from .inputs import InputFile, ProviderInputError, by_media
from .pricing import CostEstimate, Price, Unit
from .results import GenerationResult, Job, JobState, OutputFile

TXT2IMG = "txt2img"
IMG2IMG = "img2img"
_MAX_INPUT_BYTES = 100 * 1024 * 1024
_SHOWN_MODELS = 10


class A1111Provider(Provider):
    name = "a1111"
    CAPABILITIES = frozenset({Capability.GENERATE, Capability.SYNCHRONOUS, Capability.A1111_PAYLOAD,
                              Capability.INPUT_IMAGES, Capability.LOCAL})
    REQUIRES_KEY = False
    MODELS = (
        ModelInfo(TXT2IMG, "image", "text to image; the checkpoint is override_settings.sd_model_checkpoint"),
        ModelInfo(IMG2IMG, "image", "image to image from init_images; denoising_strength sets how far"),
    )
    DEFAULT_PRICES = {TXT2IMG: Price(Unit.IMAGE, Decimal(0)), IMG2IMG: Price(Unit.IMAGE, Decimal(0))}

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def inputs_for(self, prompt: str | None, params: Mapping[str, Any],
                   refs: Sequence[InputFile]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The payload as given, the prompt under `prompt`; image references are img2img's
        init images."""
        send = self._with_prompt(prompt, params)
        media = by_media(self.name, refs)
        if media["video"] or media["audio"]:
            raise ProviderInputError(self.name, "A1111 takes image references only (img2img init images)")
        return send, ({"init_images": [r.path for r in media["image"]]} if refs else {})

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        batch, iterations = params.get("batch_size", 1), params.get("n_iter", 1)
        if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (batch, iterations)):
            return {"num_images": batch * iterations}
        return {"num_images": 1}

    async def checkpoints(self) -> list[dict[str, Any]]:
        """The server's checkpoints (GET /sdapi/v1/sd-models): title, model_name, hash, sha256, filename."""
        data = await self._request("GET", "sdapi/v1/sd-models", what="list checkpoints")
        if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
            raise self._malformed("sd-models answer", "not a list of checkpoints")
        return data

    async def resolve_checkpoint(self, wanted: str) -> str:
        """The server's title for a checkpoint named as a record names it (title, name with or
        without extension, short hash or sha256); ProviderRequestError listing some if none fits."""
        models = await self.checkpoints()
        key = wanted.strip().lower()
        for model in models:
            if _names(model) & {key, _stem(key)}:
                return str(model.get("title") or model.get("model_name"))
        for model in models:     # a hash: A1111's short hash or a sha256 prefix
            digests = [str(model.get(k) or "").lower() for k in ("hash", "sha256")]
            if len(key) >= 8 and any(d and (d.startswith(key) or key.startswith(d)) for d in digests):
                return str(model.get("title") or model.get("model_name"))
        shown = ", ".join(str(m.get("title") or m.get("model_name")) for m in models[:_SHOWN_MODELS])
        more = f" (and {len(models) - _SHOWN_MODELS} more)" if len(models) > _SHOWN_MODELS else ""
        raise ProviderRequestError(
            self.name, f"this server ({self.settings.base_url}) has no checkpoint {wanted!r}; it has: "
            f"{shown or 'none'}{more}. Put the checkpoint in its models/Stable-diffusion folder or pick one "
            "of these (A1111 would otherwise quietly use whichever model is loaded)",
        )

    async def generate(self, model: str, params: Mapping[str, Any], *,
                       init_images: Sequence[bytes | Path] = (), admitted: CostEstimate | None = None,
                       **inputs: Any) -> GenerationResult:
        """One txt2img/img2img call; returns once the images exist. `params` is the API payload
        (see pipeline/rerun/a1111.py); img2img takes its source images as `init_images`."""
        self.model(model)
        if inputs:
            raise ProviderRequestError(self.name, f"unexpected inputs {sorted(inputs)}; give init_images=")
        if model == IMG2IMG and not init_images and not params.get("init_images"):
            raise ProviderRequestError(self.name, "img2img needs at least one init image")
        if model == TXT2IMG and init_images:
            raise ProviderRequestError(self.name, "txt2img takes no init images; use img2img")
        estimate = self.admit(model, params, admitted)
        body = dict(params)
        settings = body.get("override_settings")
        if isinstance(settings, Mapping) and isinstance(settings.get("sd_model_checkpoint"), str):
            title = await self.resolve_checkpoint(settings["sd_model_checkpoint"])
            body["override_settings"] = {**settings, "sd_model_checkpoint": title}
        if init_images:
            body["init_images"] = [base64.b64encode(_read_input(self, source)).decode("ascii")
                                   for source in init_images]
        data = await self._request("POST", f"sdapi/v1/{model}", json_body=body, what=model)
        if not isinstance(data, dict) or not isinstance(data.get("images"), list):
            raise self._malformed(f"{model} answer", "no images list")
        info = _info(self, data.get("info"))
        first = info.get("index_of_first_image", 0)
        first = first if isinstance(first, int) and not isinstance(first, bool) and first >= 0 else 0
        seeds_raw = info.get("all_seeds")
        seeds = seeds_raw if isinstance(seeds_raw, list) else []
        outputs = []
        for index, item in enumerate(data["images"][first:]):
            blob = _decode(self, item, model)
            seed = seeds[index] if index < len(seeds) else info.get("seed")
            outputs.append(OutputFile(_media_type(blob), data=blob,
                                      filename=f"{model}-{seed}" if seed is not None else None))
        if not outputs:
            raise self._malformed(f"{model} answer", "no images (only a grid, or none at all)")
        parameters_raw = data.get("parameters")
        parameters = parameters_raw if isinstance(parameters_raw, dict) else {}
        raw = {"info": info, "parameters": {k: v for k, v in parameters.items() if k not in ("init_images", "mask")}}
        request_id = f"a1111-{uuid.uuid4().hex[:12]}"
        return GenerationResult(self.name, model, request_id, JobState.COMPLETED, outputs, estimate.usd, raw)

    async def _submit(self, model: str, params: Mapping[str, Any], **inputs: Any) -> Job:
        raise ProviderRequestError(self.name, "A1111 answers txt2img/img2img synchronously; call generate()")

    def _detail(self, message: str, data: Any) -> str:
        """A1111's 500s carry the exception text in `errors` (the `error` key is only its type)."""
        if isinstance(data, dict) and isinstance(data.get("errors"), str) and data["errors"] not in message:
            message = f"{message}: {data['errors']}"
        return self._redact(message)[:600]


def _names(model: Mapping[str, Any]) -> set[str]:
    names = set()
    for key in ("title", "model_name", "filename"):
        value = model.get(key)
        if isinstance(value, str) and value:
            value = value.strip().lower().replace("\\", "/")
            names |= {value, value.rsplit("/", 1)[-1], _stem(value.rsplit("/", 1)[-1])}
            if " [" in value:                       # "name.safetensors [6ce0161689]"
                bare = value.split(" [", 1)[0]
                names |= {bare, _stem(bare), _stem(bare.rsplit("/", 1)[-1])}
    return names


def _stem(name: str) -> str:
    for ext in (".safetensors", ".ckpt", ".gguf", ".pt", ".pth", ".bin"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _info(provider: Provider, info: Any) -> dict[str, Any]:
    if isinstance(info, dict):                     # some forks send it as an object already
        return info
    if not isinstance(info, str):
        raise provider._malformed("answer", "info is missing")
    try:
        parsed = json.loads(info)
    except ValueError:
        raise provider._malformed("answer", f"info is not JSON: {info[:100]!r}") from None
    if not isinstance(parsed, dict):
        raise provider._malformed("answer", "info is not a JSON object")
    return parsed


def _decode(provider: Provider, item: Any, model: str) -> bytes:
    if not isinstance(item, str) or not item:
        raise provider._malformed(f"{model} answer", "an image that is not a base64 string")
    if item.startswith("data:"):
        item = item.partition(",")[2]
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError):
        raise provider._malformed(f"{model} answer", "an image that is not valid base64") from None


def _media_type(blob: bytes) -> str:
    if blob.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if blob[:4] == b"RIFF" and blob[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"          # A1111's API encodes PNG unless samples_format says otherwise


def _read_input(provider: Provider, source: bytes | Path) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        blob = bytes(source)
    elif isinstance(source, (str, Path)):
        try:
            blob = Path(source).read_bytes()
        except OSError as exc:
            raise ProviderRequestError(provider.name, f"cannot read init image {source}: {exc.strerror or exc}") from None
    else:
        raise ProviderRequestError(provider.name, f"an init image must be bytes or a path, not {type(source).__name__}")
    if not blob or len(blob) > _MAX_INPUT_BYTES:
        raise ProviderRequestError(provider.name, f"init image is empty or over {_MAX_INPUT_BYTES} bytes")
    return blob
