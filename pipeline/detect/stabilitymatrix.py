"""Stability Matrix Inference: `parameters` (A1111 text), `parameters-json`, `smproj`.

Its ComfyUI backend may add a `prompt` graph, so it is asked before comfyui.
"""
from __future__ import annotations

from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.detect.comfy_graph import read_graph
from alice.pipeline.detect.graph_precedence import merge_summary_and_graph
from alice.pipeline.detect.sources import load_json_object, text_evidence
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def from_json(record: dict) -> Generation:
    return Generation(
        prompt=record.get("PositivePrompt"), negative_prompt=record.get("NegativePrompt"),
        seed=record.get("Seed"), steps=record.get("Steps"), cfg=record.get("CfgScale"),
        sampler=record.get("Sampler"), scheduler=record.get("Scheduler"),
        model=record.get("ModelName"), model_hash=record.get("ModelHash"),
        width=record.get("Width"), height=record.get("Height"),
    )


def detect(meta: Metadata) -> Detection | None:
    keys = [key for key in ("parameters-json", "smproj") if key in meta.text]
    if not keys:
        return None
    evidence = [text_evidence(meta, key) for key in keys]
    record = load_json_object(meta.text.get("parameters-json"))
    generation = from_json(record) if record else Generation()
    parsed = parse_a1111(meta.text.get("parameters", ""))
    if parsed is not None:
        fallback = parsed.generation()
        for name, value in vars(fallback).items():
            if getattr(generation, name) in (None, []):
                setattr(generation, name, value)
    raw = {"parameters-json": record} if record else {}
    if parsed is not None:
        raw["parameters"] = parsed.raw()
    graph = load_json_object(meta.text.get("prompt"))
    if graph:
        # Its summary renames (sampler + scheduler in one label); the graph holds what ran.
        merge_summary_and_graph(generation, read_graph(graph, meta.format)[0])
        evidence.append(text_evidence(meta, "prompt"))
        raw["prompt"] = graph
    return Detection(tool="stabilitymatrix", ai=True, evidence=evidence, generation=generation, raw=raw)
