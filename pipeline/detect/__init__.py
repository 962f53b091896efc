"""detect(meta) -> Detection: ask each tool's detector in turn, first answer wins.

The order is the one place that decides between formats that overlap:
 - alice first: our own generation record is the strongest evidence.
 - swarmui, tensorart, stabilitymatrix and civitai before comfyui: all four
   run ComfyUI underneath and may also carry a ComfyUI `prompt` chunk, but
   their own record names the tool.
 - invokeai .. drawthings have markers of their own and never collide.
 - fooocus before a1111: Fooocus can write A1111-style text with its Version.
 - a1111 (which tells Forge and SD.Next apart by Version/App) after every
   tool that reuses its text format.
 - the hosted/provenance detectors (midjourney .. iptc) read C2PA/XMP/EXIF
   markers that SD front ends do not write.
 - stealth last: it is the only one that decodes pixels.
A detector that raises is recorded as a warning and the next one runs.
"""
from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable, Iterator
from dataclasses import fields
from types import ModuleType

from alice.pipeline.detect.coerce import json_safe, to_float, to_int, to_iso, to_str
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

ORDER = (
    "alice", "swarmui", "tensorart", "stabilitymatrix", "civitai", "comfyui", "invokeai", "novelai",
    "fooocus", "easydiffusion", "drawthings", "huggingface", "a1111", "midjourney", "c2pa", "grok",
    "ideogram", "aigc_cn", "iptc", "stealth",
)

# (name, the detector's module or None if it failed to import, that failure)
Detector = tuple[str, ModuleType | None, str | None]


@functools.cache
def _import(name: str) -> tuple[ModuleType | None, str | None]:
    # Cached, failures included: a broken detector costs one import attempt per process.
    try:
        return importlib.import_module(f"{__name__}.{name}"), None
    except Exception as exc:  # noqa: BLE001 - one broken detector must not stop the others
        return None, f"{type(exc).__name__}: {exc}"


def detectors() -> Iterator[Detector]:
    """Detectors in ORDER, each imported when first reached: a file the first few detectors
    recognise never pays for importing the rest (start-up of `alice inspect FILE`)."""
    for name in ORDER:
        yield (name, *_import(name))


_INT_FIELDS = {"seed", "steps", "width", "height"}
_PASS_INTS = {"seed", "steps", "start_at_step", "end_at_step"}
_PASS_FLOATS = {"cfg", "denoise"}
MAX_PASSES = 16
_MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".gguf", ".pt", ".pth", ".sft", ".bin")


def model_stem(model: str | None) -> str | None:
    """"SDXL/x_v1.safetensors" -> "x_v1": the name without folders or a weights extension."""
    if not model:
        return None
    stem = model.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = stem.lower()
    for ext in _MODEL_EXTENSIONS:
        if lowered.endswith(ext):
            stem = stem[: -len(ext)]
            break
    return stem.strip() or None


def _clean_passes(value: object) -> list[dict]:
    passes = []
    for item in (value if isinstance(value, list) else [])[:MAX_PASSES]:
        if not isinstance(item, dict):
            continue
        clean = {}
        for key, field_value in item.items():
            if key in _PASS_INTS:
                field_value = to_int(field_value)
            elif key in _PASS_FLOATS:
                field_value = to_float(field_value)
            else:
                field_value = to_str(field_value, 1024)
            if key == "seed" and field_value is not None and field_value < 0:
                field_value = None          # "random", not a seed
            if field_value is not None:
                clean[str(key)] = field_value
        if clean:
            passes.append(clean)
    return passes


def _clean_generation(generation: Generation) -> Generation:
    """Force every field to its declared type, whatever a detector put there."""
    clean = Generation()
    for f in fields(Generation):
        value = getattr(generation, f.name, None)
        if f.name in _INT_FIELDS:
            value = to_int(value)
        elif f.name == "cfg":
            value = to_float(value)
        elif f.name == "loras":
            value = [s for s in (to_str(v, 1024) for v in (value if isinstance(value, list) else [])) if s]
        elif f.name == "created_at":
            value = to_iso(value)
        elif f.name == "passes":
            value = _clean_passes(value)
        else:
            value = to_str(value)
        setattr(clean, f.name, value)
    if clean.seed is not None and clean.seed < 0:
        clean.seed = None        # -1 means "random" in every tool: never a real seed
    if clean.model_name is None:
        clean.model_name = model_stem(clean.model)
    return clean


def _finish(result: Detection, name: str) -> Detection:
    tool = to_str(result.tool, 64)
    evidence = [s for s in (to_str(e, 512) for e in (result.evidence or [])) if s]
    if not evidence:
        evidence = [f"{name}:matched"]
    generation = result.generation if isinstance(result.generation, Generation) else Generation()
    raw = json_safe(result.raw) if isinstance(result.raw, dict) else {}
    return Detection(tool=tool, ai=bool(result.ai), evidence=evidence,
                     generation=_clean_generation(generation), raw=raw)


def detect(meta: Metadata, among: Iterable[Detector] | None = None) -> Detection:
    """The first detector's answer, cleaned; Detection.none() if nothing matched. Never raises.
    `among` replaces the registered detectors (tests)."""
    for name, module, load_error in (detectors() if among is None else among):
        if module is None:
            meta.warnings.append(f"detector {name} could not be loaded: {load_error}")
            continue
        try:
            result = module.detect(meta)
        except Exception as exc:  # noqa: BLE001 - one broken detector must not stop the others
            meta.warnings.append(f"detector {name} failed: {type(exc).__name__}: {exc}")
            continue
        if result is None:
            continue
        if not isinstance(result, Detection):
            meta.warnings.append(f"detector {name} returned {type(result).__name__}, not a Detection")
            continue
        return _finish(result, name)
    return Detection.none()
