"""TensorArt: `generation_data` JSON next to a ComfyUI `prompt` graph.

The JSON names the model and LoRAs by their TensorArt names; its seed is -1
whenever the user asked for a random one, so the seed (and whatever else the
JSON leaves out) is read from the graph (graph_precedence.py). Its tEXt holds UTF-8 bytes, which
extract/png.py already decodes UTF-8 first.
"""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_str
from alice.pipeline.detect.comfy_graph import read_graph
from alice.pipeline.detect.graph_precedence import merge_summary_and_graph
from alice.pipeline.detect.sources import load_json_object, text_evidence
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def _model(record: dict) -> tuple[str | None, str | None]:
    base = record.get("baseModel")
    if isinstance(base, dict):
        return to_str(base.get("modelFileName") or base.get("modelName")), to_str(base.get("hash"))
    return to_str(base), None


def _loras(record: dict) -> list[str]:
    names = []
    for model in record.get("models") or []:
        if isinstance(model, dict) and str(model.get("type", "")).upper() in ("LORA", "LYCORIS", ""):
            name = to_str(model.get("modelFileName") or model.get("modelName"))
            if name:
                names.append(name)
    return names


def detect(meta: Metadata) -> Detection | None:
    text = meta.text.get("generation_data")
    if text is None:
        return None
    record = load_json_object(text.rstrip("\x00")) or {}
    model, model_hash = _model(record)
    generation = Generation(
        prompt=record.get("prompt"), negative_prompt=record.get("negativePrompt"),
        seed=record.get("seed"), steps=record.get("steps"), cfg=record.get("cfgScale"),
        sampler=record.get("samplerName") or record.get("sampler"), model=model, model_hash=model_hash,
        width=record.get("width"), height=record.get("height"), loras=_loras(record),
    )
    evidence = [text_evidence(meta, "generation_data")]
    graph = load_json_object(meta.text.get("prompt"))
    raw: dict = {"generation_data": record or text}
    if graph:
        from_graph, _ = read_graph(graph, meta.format)
        merge_summary_and_graph(generation, from_graph)
        evidence.append(text_evidence(meta, "prompt"))
        raw["prompt"] = graph
    return Detection(tool="tensorart", ai=True, evidence=evidence, generation=generation, raw=raw)
