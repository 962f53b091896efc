"""Detect files generated through alice's own providers (pipeline/alice_record.py).

First in the registry: we wrote the record ourselves, so it beats whatever
else the provider left in the file. The tool is the provider slug as given
("fal", "bfl", "openai", ...). Provider parameter names differ (fal's
num_inference_steps, OpenAI's size "1024x1536", BFL's guidance), so the
common spellings are all read.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from alice.pipeline.alice_record import KEY, InvalidRecord, parse_record
from alice.pipeline.detect.coerce import json_safe, to_float, to_int, to_iso, to_size, to_str
from alice.pipeline.extract.xmp import packet_of, read_xmp
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def _record_text(meta: Metadata) -> tuple[str, str] | None:
    if meta.text.get(KEY):
        return f"{meta.format}:text:{KEY}", meta.text[KEY]
    value = read_xmp(packet_of(meta)).get(KEY)
    if value:
        return f"xmp:{KEY}", value
    if meta.video_tags.get(KEY):
        return f"{meta.format}:{KEY}", meta.video_tags[KEY]
    return None


def detect(meta: Metadata) -> Detection | None:
    found = _record_text(meta)
    if found is None:
        return None
    source, text = found
    try:
        record = parse_record(text)
    except InvalidRecord as exc:
        meta.warnings.append(f"{source}: {exc}")
        return None
    return Detection(
        tool=record["provider"],
        ai=True,
        evidence=[source, f"alice:provider={record['provider']}"],
        generation=_generation(record, meta),
        raw=json_safe(record),
    )


def _first(params: dict[str, Any], *names: str) -> Any:
    for name in names:
        if params.get(name) is not None:
            return params[name]
    return None


def _prompt(value: Any) -> str | None:
    if isinstance(value, str) or value is None:
        return to_str(value)
    return to_str(json.dumps(json_safe(value), ensure_ascii=False))   # structured prompts (messages, weights)


def _loras(value: Any) -> list[str]:
    names = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict):
            item = item.get("path") or item.get("name") or item.get("model")
        name = to_str(item, cap=500)
        if name:
            names.append(name)
    return names[:100]


def _generation(record: dict[str, Any], meta: Metadata) -> Generation:
    params = record.get("params") or {}
    if isinstance(params.get("graph"), dict):
        # A ComfyUI run: the graph alice sent is the whole truth about it (seed, sampler, model).
        from alice.pipeline.detect.comfy_graph import read_graph

        found, _facts = read_graph(params["graph"], meta.format)
        prompt = _prompt(record.get("prompt")) if record.get("prompt") is not None else found.prompt
        return replace(found, prompt=prompt, created_at=to_iso(record.get("created_at")),
                       width=found.width or meta.width, height=found.height or meta.height)
    width, height = to_size(_first(params, "size", "image_size"))
    return Generation(
        prompt=_prompt(record.get("prompt") if record.get("prompt") is not None else params.get("prompt")),
        negative_prompt=to_str(_first(params, "negative_prompt", "negative")),
        seed=to_int(params.get("seed")),
        steps=to_int(_first(params, "steps", "num_inference_steps")),
        cfg=to_float(_first(params, "cfg", "guidance_scale", "guidance", "cfg_scale")),
        sampler=to_str(_first(params, "sampler", "sampler_name"), cap=200),
        scheduler=to_str(params.get("scheduler"), cap=200),
        model=to_str(record.get("model"), cap=500),
        width=to_int(params.get("width")) or width or meta.width,
        height=to_int(params.get("height")) or height or meta.height,
        loras=_loras(params.get("loras")),
        created_at=to_iso(record.get("created_at")),
    )
