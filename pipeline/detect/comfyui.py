"""ComfyUI: the API graph (`prompt`) and UI graph (`workflow`), wherever they were saved.

 - PNG text chunks `prompt` / `workflow` (SaveImage);
 - WebP/AVIF EXIF Make = "workflow:{json}", Model = "prompt:{json}" (SaveAnimatedWEBP);
 - third-party save nodes (SaveImagePlus ...), JPEG/WebP: EXIF UserComment JSON
   {"prompt": ..., "workflow": ...}, often in IFD0 without a charset prefix; ImageDescription
   "Workflow: {...}" (A1111-style text from save nodes is handled by a1111.py);
 - video nodes: container tags `prompt`/`workflow`, or a `comment` holding both.
Parameters come from walking the graph from the sampler (comfy_graph.py).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from alice.pipeline.detect.comfy_graph import read_graph, read_workflow
from alice.pipeline.detect.sources import load_json_object, text_evidence
from alice.pipeline.generation import Detection
from alice.pipeline.metadata import Metadata

_PREFIXES = {"prompt:": "prompt", "workflow:": "workflow", "Prompt:": "prompt", "Workflow:": "workflow"}


def is_api_graph(value: Any) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    nodes = [v for v in list(value.values())[:50] if isinstance(v, dict)]
    return bool(nodes) and any("class_type" in node for node in nodes)


def is_workflow(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("nodes"), list)


def _candidates(meta: Metadata) -> Iterator[tuple[str, str, Any]]:
    """(evidence, kind "prompt"/"workflow"/"bundle", text) for every place ComfyUI may have written."""
    for key in ("prompt", "workflow"):
        if key in meta.text:
            yield text_evidence(meta, key), key, meta.text[key]
    for tag in ("Make", "Model", "ImageDescription", "UserComment", "IFD0UserComment", "Software", "Artist"):
        value = meta.exif.get(tag)
        if not isinstance(value, str):
            continue
        stripped = value.lstrip()
        for prefix, kind in _PREFIXES.items():
            if stripped.startswith(prefix):
                yield f"exif:{tag}={prefix}", kind, stripped[len(prefix):]
                break
        else:
            if stripped.startswith("{"):
                yield f"exif:{tag}", "bundle", stripped
    for key in ("prompt", "workflow"):
        if key in meta.video_tags:
            yield f"video:tag:{key}", key, meta.video_tags[key]
    for key in ("comment", "COMMENT", "description"):
        value = meta.video_tags.get(key)
        if isinstance(value, str) and value.lstrip().startswith("{"):
            yield f"video:tag:{key}", "bundle", value
    comment = meta.text.get("comment")
    if isinstance(comment, str) and comment.lstrip().startswith("{"):
        yield text_evidence(meta, "comment"), "bundle", comment


def find_graph(meta: Metadata) -> tuple[dict | None, dict | None, list[str]]:
    """(API graph, UI workflow, evidence) from wherever ComfyUI or a save node wrote them."""
    graph: dict | None = None
    workflow: dict | None = None
    evidence: list[str] = []
    for source, kind, text in _candidates(meta):
        value = load_json_object(text)
        if value is None:
            continue
        if kind == "bundle":
            # {"prompt": graph, "workflow": ui} written by save nodes and video nodes;
            # the graph may itself be a JSON string.
            inner_graph = load_json_object(value.get("prompt"))
            inner_workflow = load_json_object(value.get("workflow"))
            if is_api_graph(inner_graph) and graph is None:
                graph = inner_graph
                evidence.append(f"{source}:prompt")
            if is_workflow(inner_workflow) and workflow is None:
                workflow = inner_workflow
                evidence.append(f"{source}:workflow")
            if is_api_graph(value) and graph is None:
                graph = value
                evidence.append(source)
        elif kind == "prompt" and is_api_graph(value) and graph is None:
            graph = value
            evidence.append(source)
        elif kind == "workflow" and is_workflow(value) and workflow is None:
            workflow = value
            evidence.append(source)
    return graph, workflow, evidence


def detect(meta: Metadata) -> Detection | None:
    graph, workflow, evidence = find_graph(meta)
    raw: dict[str, Any] = {}
    if graph is not None:
        generation, facts = read_graph(graph, meta.format)
        if facts.get("sampler_class"):
            evidence.append(f"comfyui:sampler={facts['sampler_class']}#{facts['sampler_node']}")
        raw["prompt"] = graph
    elif workflow is not None:
        generation = read_workflow(workflow)
    else:
        return None
    if workflow is not None:
        raw["workflow"] = workflow
    return Detection(tool="comfyui", ai=True, evidence=evidence, generation=generation, raw=raw)
