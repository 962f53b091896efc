"""Civitai's on-site generator: A1111 text plus "Civitai resources"/"Civitai metadata".

The resources list names the checkpoint and LoRAs by their Civitai model
names, which fill in what the text leaves out.
"""
from __future__ import annotations

from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.detect.coerce import to_str
from alice.pipeline.detect.sources import load_json, parameter_texts
from alice.pipeline.generation import Detection
from alice.pipeline.metadata import Metadata

_MARKERS = ("Civitai resources", "Civitai metadata")


def detect(meta: Metadata) -> Detection | None:
    for source, text in parameter_texts(meta):
        parsed = parse_a1111(text)
        if parsed is None:
            continue
        marker = next((m for m in _MARKERS if m in parsed.params), None)
        if marker is None:
            continue
        generation = parsed.generation()
        resources = load_json(parsed.params.get("Civitai resources"))
        for resource in resources if isinstance(resources, list) else []:
            if not isinstance(resource, dict):
                continue
            kind = str(resource.get("type", "")).lower()
            name = to_str(resource.get("modelName"))
            if kind == "checkpoint" and name and generation.model is None:
                generation.model = name
            elif kind in ("lora", "lycoris", "locon") and name and name not in generation.loras:
                generation.loras.append(name)
        raw = parsed.raw()
        if isinstance(resources, list):
            raw["Civitai resources"] = resources
        return Detection(tool="civitai", ai=True, evidence=[source, f"civitai:{marker}"],
                         generation=generation, raw=raw)
    return None
