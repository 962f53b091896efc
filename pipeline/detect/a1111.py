"""AUTOMATIC1111 and the front ends that write its text unchanged: Forge, SD.Next.

The `Version:` value tells them apart (Forge writes "f2.0.1v1.10.1-...",
"neo" or "classic"; SD.Next adds "App: SD.Next"). ComfyUI save nodes that
imitate the format (SaveImageWithMetaData, Comfy Image Saver) write no
Version and leave ComfyUI's marks instead: snake_case sampler names, seeds
above 2**32, model file names, numbered LoRA keys (comfy_marks). The Extras tab writes
only a `postprocessing` chunk, which still marks the file as A1111 output.
"""
from __future__ import annotations

import re

from alice.pipeline.detect.a1111_text import A1111Text, key_form, parse_a1111
from alice.pipeline.detect.coerce import to_int
from alice.pipeline.detect.sources import parameter_texts, text_value
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_FORGE_VERSION = re.compile(r"^(f\d|neo\b|classic\b)|forge", re.IGNORECASE)
_COMFY_SAVER_KEY = re.compile(r"^lora\d+modelname$")
_SNAKE_CASE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
# ComfyUI scheduler names, which save nodes glue onto the sampler ("euler_ancestral_karras").
COMFY_SCHEDULERS = ("karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta", "normal",
                    "linear_quadratic", "kl_optimal", "align_your_steps", "gits", "polyexponential")
_MODEL_FILE = re.compile(r"\.(safetensors|ckpt|gguf|sft|pth?)$", re.IGNORECASE)


def comfy_marks(parsed: A1111Text) -> list[str]:
    """Why A1111-format text without a Version was written by a ComfyUI node, not by A1111.

    A1111 names samplers in words ("DPM++ 2M"), keeps seeds below 2**32 and writes
    the model without its file extension; ComfyUI save nodes (SaveImageWithMetaData,
    Comfy Image Saver) write snake_case samplers, 64-bit seeds and file names, and
    usually a `Hashes` JSON (which A1111's Civitai extension writes as well).
    """
    marks = []
    sampler = parsed.get("Sampler") or ""
    if sampler and _SNAKE_CASE.match(sampler) and ("_" in sampler or sampler in ("euler", "lcm", "ddim", "dpm_2")):
        marks.append(f"sampler={sampler}")
    seed = to_int(parsed.get("Seed"))
    if seed is not None and seed >= 2**32:
        marks.append("seed>=2^32")
    if _MODEL_FILE.search(parsed.get("Model") or ""):
        marks.append("model file name")
    if any(_COMFY_SAVER_KEY.match(key_form(key)) for key in parsed.params):
        marks.append("Lora_N Model name")
    # A1111's Civitai extension writes a Hashes JSON too: it only corroborates another mark.
    if marks and (parsed.get("Hashes") or "").lstrip().startswith("{"):
        marks.append("Hashes JSON")
    return marks


def split_comfy_sampler(generation: Generation) -> None:
    """"euler_ancestral_karras" -> sampler "euler_ancestral", scheduler "karras" (kept apart)."""
    if generation.scheduler or not generation.sampler:
        return
    for scheduler in COMFY_SCHEDULERS:
        suffix = "_" + scheduler
        if generation.sampler.endswith(suffix) and len(generation.sampler) > len(suffix):
            generation.sampler, generation.scheduler = generation.sampler[: -len(suffix)], scheduler
            return


def tool_for(parsed: A1111Text) -> tuple[str, str]:
    """(slug, evidence) for A1111-format text, from its Version/App keys."""
    version = parsed.get("Version") or ""
    app = parsed.get("App") or ""
    if app and re.search(r"sd\.?next", app, re.IGNORECASE):
        return "sdnext", f"a1111:App={app}"
    if version and _FORGE_VERSION.search(version):
        return "forge", f"a1111:Version={version}"
    if version.lower().startswith("comfyui"):
        return "comfyui", f"a1111:Version={version}"
    if version.lower().startswith("fooocus"):
        return "fooocus", f"a1111:Version={version}"
    if not version:
        marks = comfy_marks(parsed)
        if marks:
            return "comfyui", "a1111:written by a ComfyUI node (" + ", ".join(marks) + ")"
    if version:
        return "a1111", f"a1111:Version={version}"
    return "a1111", "a1111:Steps line"


def detect(meta: Metadata) -> Detection | None:
    for source, text in parameter_texts(meta):
        parsed = parse_a1111(text)
        if parsed is None:
            continue
        tool, why = tool_for(parsed)
        generation = parsed.generation()
        if tool == "comfyui":
            split_comfy_sampler(generation)
        return Detection(tool=tool, ai=True, evidence=[source, why], generation=generation, raw=parsed.raw())
    found = text_value(meta, "postprocessing", "extras")
    if found:
        source, text = found
        return Detection(tool="a1111", ai=True, evidence=[source], generation=Generation(),
                         raw={"postprocessing": text})
    return None
