"""An A1111 (Forge, SD.Next) txt2img/img2img payload from a Generation record.

Field names are those of /sdapi/v1/txt2img and /sdapi/v1/img2img. The
checkpoint goes through `override_settings.sd_model_checkpoint` (the API has
no model field), with `override_settings_restore_afterwards` so a re-run does
not leave the user's UI on another model. A few settings A1111 writes into
its parameters text (Clip skip, Hires fix, variation seed, ENSD) come from
the record's raw key/value pairs, so a recreate matches the original.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from alice.pipeline.detect.coerce import to_float, to_int, to_str
from alice.pipeline.generation import Generation

from .overrides import Overrides, RerunError, per_seed


def payload(generation: Generation, raw: Mapping[str, Any] | None = None,
            overrides: Overrides | None = None, *, img2img: bool = False) -> dict[str, Any]:
    """The JSON body for txt2img (or img2img, without its init_images: the provider adds them)."""
    o = overrides or Overrides()
    raw = raw or {}
    body: dict[str, Any] = {"prompt": _pick(o.prompt, generation.prompt) or "",
                            "negative_prompt": _pick(o.negative_prompt, generation.negative_prompt) or ""}
    for key, value in (("seed", _pick(o.seed, generation.seed)), ("steps", _pick(o.steps, generation.steps)),
                       ("cfg_scale", _pick(o.cfg, generation.cfg)),
                       ("sampler_name", _pick(o.sampler, generation.sampler)),
                       ("scheduler", _pick(o.scheduler, generation.scheduler)),
                       ("width", _pick(o.width, generation.width)),
                       ("height", _pick(o.height, generation.height))):
        if value is not None:
            body[key] = value
    settings: dict[str, Any] = {}
    model = _pick(o.model, generation.model) or (generation.model_hash if o.model is None else None)
    if model:
        settings["sd_model_checkpoint"] = model
    clip_skip = to_int(raw.get("Clip skip"))
    if clip_skip:
        settings["CLIP_stop_at_last_layers"] = clip_skip
    ensd = to_int(raw.get("ENSD") or raw.get("Eta noise seed delta"))
    if ensd:
        settings["eta_noise_seed_delta"] = ensd
    if settings:
        body["override_settings"] = settings
        body["override_settings_restore_afterwards"] = True
    variation = to_int(raw.get("Variation seed"))
    strength = to_float(raw.get("Variation seed strength"))
    if variation is not None and strength:
        body["subseed"], body["subseed_strength"] = variation, strength
    denoise = o.denoise if o.denoise is not None else to_float(raw.get("Denoising strength"))
    if img2img:
        if denoise is not None:
            body["denoising_strength"] = denoise
    elif raw.get("Hires upscale") is not None or raw.get("Hires resize") is not None:
        _hires(body, raw, denoise)
    elif o.denoise is not None:
        raise RerunError("denoise applies to img2img or a Hires fix pass; this txt2img record has neither")
    return body


def payloads(generation: Generation, raw: Mapping[str, Any] | None = None, overrides: Overrides | None = None,
             seeds: Sequence[int] | None = None, *, img2img: bool = False) -> list[dict[str, Any]]:
    """One payload per seed of a `--seeds N..M` range, else one."""
    return [payload(generation, raw, o, img2img=img2img) for o in per_seed(overrides or Overrides(), list(seeds or []))]


_PAYLOAD_KEYS = {"seed": "seed", "steps": "steps", "cfg": "cfg_scale", "sampler": "sampler_name",
                 "scheduler": "scheduler", "prompt": "prompt", "negative_prompt": "negative_prompt",
                 "width": "width", "height": "height", "denoise": "denoising_strength"}


def vary(body: Mapping[str, Any], overrides: Overrides) -> dict[str, Any]:
    """A copy of a payload as sent (alice's record of an A1111 run) with the overrides in place."""
    out = copy.deepcopy(dict(body))
    for name, value in overrides.given().items():
        if name == "model":
            settings = dict(out.get("override_settings") or {})
            settings["sd_model_checkpoint"] = value
            out["override_settings"] = settings
            out["override_settings_restore_afterwards"] = True
        elif name == "denoise" and "denoising_strength" not in out and not out.get("enable_hr"):
            raise RerunError("denoise applies to img2img or a Hires fix pass; this txt2img payload has neither")
        else:
            out[_PAYLOAD_KEYS[name]] = value
    return out


def vary_payloads(body: Mapping[str, Any], overrides: Overrides | None = None,
                  seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One varied payload per seed of a range, else one."""
    return [vary(body, o) for o in per_seed(overrides or Overrides(), list(seeds or []))]


def _hires(body: dict[str, Any], raw: Mapping[str, Any], denoise: float | None) -> None:
    """The Hires fix second pass, when the record ran one (its denoise belongs to that pass)."""
    scale = to_float(raw.get("Hires upscale"))
    resize = to_str(raw.get("Hires resize"))
    body["enable_hr"] = True
    if scale is not None:
        body["hr_scale"] = scale
    if resize and "x" in resize:
        width, _, height = resize.partition("x")
        if to_int(width) and to_int(height):
            body["hr_resize_x"], body["hr_resize_y"] = to_int(width), to_int(height)
    upscaler = to_str(raw.get("Hires upscaler"))
    if upscaler:
        body["hr_upscaler"] = upscaler
    steps = to_int(raw.get("Hires steps"))
    if steps:
        body["hr_second_pass_steps"] = steps
    if denoise is not None:
        body["denoising_strength"] = denoise


def _pick(override: Any, recorded: Any) -> Any:
    return recorded if override is None else override
