"""SwarmUI: `parameters` (or EXIF UserComment) holding JSON {"sui_image_params": {...}}.

SwarmUI also writes a ComfyUI `prompt` chunk, so it must be asked first.
"""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_mapping, to_str
from alice.pipeline.detect.sources import load_json_object, parameter_texts
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def _loras(params: dict) -> list[str]:
    loras = params.get("loras")
    if isinstance(loras, str):
        loras = [part.strip() for part in loras.split(",")]
    return [name for name in (to_str(v) for v in loras) if name] if isinstance(loras, list) else []


def detect(meta: Metadata) -> Detection | None:
    for source, text in parameter_texts(meta):
        if "sui_image_params" not in text:
            continue
        record = load_json_object(text)
        params = record.get("sui_image_params") if record else None
        if record is None or not isinstance(params, dict):
            continue
        extra = to_mapping(record.get("sui_extra_data"))
        generation = Generation(
            prompt=params.get("prompt"),
            negative_prompt=params.get("negativeprompt"),
            seed=params.get("seed"),
            steps=params.get("steps"),
            cfg=params.get("cfgscale"),
            sampler=params.get("sampler"),
            scheduler=params.get("scheduler"),
            model=params.get("model"),
            width=params.get("width"),
            height=params.get("height"),
            loras=_loras(params),
            created_at=extra.get("date"),
        )
        evidence = [source, "swarmui:sui_image_params"]
        version = to_str(params.get("swarm_version"))
        if version:
            evidence.append(f"swarmui:swarm_version={version}")
        return Detection(tool="swarmui", ai=True, evidence=evidence, generation=generation, raw=record)
    return None
