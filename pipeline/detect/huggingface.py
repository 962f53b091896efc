"""Hugging Face Spaces (Gradio + Diffusers): `parameters` holding a diffusers-style JSON.

{"prompt", "negative_prompt", "resolution": "832 x 1216", "guidance_scale",
 "num_inference_steps", "seed", "sampler", "Model", "Model hash", "style_preset"}.
"""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_size
from alice.pipeline.detect.sources import load_json_object, text_value
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_MARKERS = ("num_inference_steps", "guidance_scale")


def detect(meta: Metadata) -> Detection | None:
    found = text_value(meta, "parameters")
    if found is None:
        return None
    source, text = found
    record = load_json_object(text)
    if not record or "prompt" not in record or not all(key in record for key in _MARKERS):
        return None
    width, height = to_size(record.get("resolution"))
    generation = Generation(
        prompt=record.get("prompt"), negative_prompt=record.get("negative_prompt"),
        seed=record.get("seed"), steps=record.get("num_inference_steps"), cfg=record.get("guidance_scale"),
        sampler=record.get("sampler"), model=record.get("Model") or record.get("model"),
        model_hash=record.get("Model hash"), width=width, height=height,
    )
    return Detection(tool="huggingface", ai=True, evidence=[source, "huggingface:diffusers JSON"],
                     generation=generation, raw=record)
