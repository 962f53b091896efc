"""Civitai's on-site generator, in either of the two forms it writes.

 - A1111 text plus "Civitai resources"/"Civitai metadata": the resources list
   names the checkpoint and LoRAs by their Civitai model names, which fill in
   what the text leaves out.
 - A ComfyUI API graph (its orchestrator runs ComfyUI) in a UTF-16 EXIF
   UserComment, with a top-level `extraMetadata` key: a JSON string holding the
   request (prompt, negativePrompt, seed, steps, cfgScale, sampler). Civitai shows
   itself there through `urn:air:...civitai...` resource ids and
   `orchestration.civitai.com` URLs. Upscaled files carry an upscale-only graph,
   so the original generation is read from extraMetadata.
"""
from __future__ import annotations

from typing import Any

from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.detect.coerce import to_str
from alice.pipeline.detect.comfy_graph import read_graph
from alice.pipeline.detect.comfyui import find_graph
from alice.pipeline.detect.graph_precedence import merge_summary_and_graph
from alice.pipeline.detect.sources import load_json, load_json_object, parameter_texts
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_MARKERS = ("Civitai resources", "Civitai metadata")
_URL_MARK = "orchestration.civitai.com"
MAX_SCANNED = 2_000


def _from_text(meta: Metadata) -> Detection | None:
    for source, text in parameter_texts(meta):
        parsed = parse_a1111(text)
        if parsed is None:
            continue
        marker = next((m for m in _MARKERS if parsed.get(m) is not None), None)
        if marker is None:
            continue
        generation = parsed.generation()
        resources = load_json(parsed.get("Civitai resources"))
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


def civitai_mark(graph: dict[str, Any]) -> str | None:
    """Evidence that a ComfyUI graph ran on Civitai's orchestrator, or None."""
    for index, node in enumerate(graph.values()):
        if index >= MAX_SCANNED:
            break
        inputs = node.get("inputs") if isinstance(node, dict) else None
        for value in (inputs.values() if isinstance(inputs, dict) else ()):
            if not isinstance(value, str):
                continue
            if value.startswith("urn:air:") and "civitai" in value:
                return f"civitai:resource={value[:120]}"
            if _URL_MARK in value:
                return f"civitai:url={_URL_MARK}"
    return None


def _from_extra(extra: dict[str, Any]) -> Generation:
    return Generation(
        prompt=extra.get("prompt"), negative_prompt=extra.get("negativePrompt"), seed=extra.get("seed"),
        steps=extra.get("steps"), cfg=extra.get("cfgScale"), sampler=extra.get("sampler"),
        width=extra.get("width"), height=extra.get("height"),
    )


def _mentions_civitai(meta: Metadata) -> bool:
    """A substring scan (C speed) so ordinary ComfyUI files are not parsed twice."""
    if "extraMetadata" in meta.text:         # PNGs carry it as a chunk of its own
        return True
    for values in (meta.text.values(), meta.exif.values(), meta.video_tags.values()):
        for value in values:
            if isinstance(value, str) and ("civitai" in value or "extraMetadata" in value):
                return True
    return False


def _from_graph(meta: Metadata) -> Detection | None:
    if not _mentions_civitai(meta):
        return None
    graph, workflow, evidence = find_graph(meta)
    if graph is None:
        return None
    extra = load_json_object(graph.get("extraMetadata")) or load_json_object(meta.text.get("extraMetadata"))
    mark = civitai_mark(graph)
    if mark is None and extra is None:
        return None
    evidence.append(mark or "civitai:extraMetadata")
    nodes = {k: v for k, v in graph.items() if k != "extraMetadata"}
    from_graph, facts = read_graph(nodes, meta.format)
    if extra is None:
        generation = from_graph
    elif facts.get("fresh"):
        # The graph generated the image: extraMetadata is the request, the graph what ran.
        generation = merge_summary_and_graph(_from_extra(extra), from_graph)
    else:
        # Upscale/img2img graph: the original generation is only in extraMetadata.
        generation = _from_extra(extra)
        generation.model = generation.model or from_graph.model
        generation.passes = from_graph.passes
    raw: dict[str, Any] = {"prompt": nodes}
    if extra is not None:
        raw["extraMetadata"] = extra
    if workflow is not None:
        raw["workflow"] = workflow
    return Detection(tool="civitai", ai=True, evidence=evidence, generation=generation, raw=raw)


def detect(meta: Metadata) -> Detection | None:
    return _from_text(meta) or _from_graph(meta)
