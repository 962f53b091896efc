"""Easy Diffusion: one text chunk per field (`prompt`, `seed`, `use_stable_diffusion_model`, ...).

Older versions used `Prompt`, `Negative Prompt`, `Seed`, `Stable Diffusion model`.
JPEG/WebP carry the same fields as a JSON object in EXIF UserComment. A bare
`prompt` chunk is not enough (ComfyUI uses that name too): at least one of the
Easy Diffusion-only keys must be present.
"""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_float, to_int, to_str
from alice.pipeline.detect.sources import load_json_object, text_evidence
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_MARKERS = ("use_stable_diffusion_model", "num_inference_steps", "guidance_scale", "sampler_name",
            "Stable Diffusion model", "use_vae_model", "Guidance Scale")


def _get(record: dict, *keys: str) -> object:
    for key in keys:
        if key in record:
            return record[key]
    return None


def from_fields(record: dict) -> Generation:
    model = _get(record, "use_stable_diffusion_model", "Stable Diffusion model")
    if isinstance(model, str):
        model = model.replace("\\", "/").rsplit("/", 1)[-1]
    loras = _get(record, "use_lora_model", "LoRA model")
    if isinstance(loras, str):
        loras = [name.strip() for name in loras.split(",")]
    return Generation(
        prompt=to_str(_get(record, "prompt", "Prompt")),
        negative_prompt=to_str(_get(record, "negative_prompt", "Negative Prompt")),
        seed=to_int(_get(record, "seed", "Seed")),
        steps=to_int(_get(record, "num_inference_steps", "Steps")),
        cfg=to_float(_get(record, "guidance_scale", "Guidance Scale")),
        sampler=to_str(_get(record, "sampler_name", "Sampler")),
        model=to_str(model),
        width=to_int(_get(record, "width", "Width")),
        height=to_int(_get(record, "height", "Height")),
        loras=[name for name in loras if isinstance(name, str) and name and name != "None"]
        if isinstance(loras, list) else [],
    )


def detect(meta: Metadata) -> Detection | None:
    markers = [key for key in _MARKERS if key in meta.text]
    if markers and ("prompt" in meta.text or "Prompt" in meta.text):
        chunks = dict(meta.text)
        return Detection(tool="easydiffusion", ai=True,
                         evidence=[text_evidence(meta, key) for key in markers[:3]],
                         generation=from_fields(chunks),
                         raw={k: v for k, v in chunks.items() if k not in ("XML:com.adobe.xmp",)})
    record = load_json_object(meta.exif.get("UserComment"))
    if record and any(key in record for key in _MARKERS) and ("prompt" in record or "Prompt" in record):
        return Detection(tool="easydiffusion", ai=True, evidence=["exif:UserComment:use_stable_diffusion_model"
                         if "use_stable_diffusion_model" in record else "exif:UserComment:easydiffusion keys"],
                         generation=from_fields(record), raw=record)
    return None
