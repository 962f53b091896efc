"""A ComfyUI file's own API graph, ready to queue again, with overrides written
at the node inputs the detection's graph walk located.

Locations are `(node_id, input_name)` per field ("seed", "prompt", ...),
found by walking the graph from its save node (comfy_graph.locate_base_pass).
A field asked for without a location is an error: guessing a node by id or
by class would change the wrong sampler in a two-pass graph.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .overrides import Overrides, RerunError, per_seed

Location = tuple[str, str]            # (node id, input name)
_MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".gguf", ".pt", ".pth", ".sft", ".bin")
_ANNOTATION = re.compile(r"^(?P<name>.*?)\s*\[(?P<folder>input|output|temp)\]$")
_LOADER_INPUTS = {"image": "image", "video": "video", "file": "video"}


@dataclass(frozen=True)
class InputImage:
    """A file a graph loads from the server's folders (LoadImage and kin)."""

    node_id: str
    class_type: str
    input: str              # the node input holding the name ("image", "video")
    name: str               # relative to the folder, may hold a subfolder: "refs/cat.png"
    folder: str             # input | output | temp (ComfyUI's "name.png [output]" annotation)
    media: str              # image | video


def api_graph(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The API graph a ComfyUI detection kept (`Detection.raw["prompt"]`)."""
    graph = (raw or {}).get("prompt")
    if not isinstance(graph, Mapping) or not graph:
        if isinstance((raw or {}).get("workflow"), Mapping):
            raise RerunError("this file holds only ComfyUI's UI workflow, not the API graph a server can run; "
                             "open it in ComfyUI and save again (the API graph is written with every save)")
        raise RerunError("this file's record holds no ComfyUI API graph")
    check_graph(graph)
    return copy.deepcopy(dict(graph))


def check_graph(graph: Any) -> None:
    """The shape /prompt accepts: {node id: {"class_type": str, "inputs": {...}}}."""
    if not isinstance(graph, Mapping) or not graph:
        raise RerunError("a ComfyUI API graph is a non-empty mapping of node id -> node")
    for node_id, node in graph.items():
        if not isinstance(node, Mapping) or not isinstance(node.get("class_type"), str) or not node["class_type"]:
            raise RerunError(f"node {node_id!r} of the graph has no class_type")
        if not isinstance(node.get("inputs", {}), Mapping):
            raise RerunError(f"node {node_id!r} ({node['class_type']}) has inputs that are not a mapping")


def class_types(graph: Mapping[str, Any]) -> set[str]:
    return {node["class_type"] for node in graph.values()
            if isinstance(node, Mapping) and isinstance(node.get("class_type"), str)}


def apply(graph: Mapping[str, Any], locations: Mapping[str, Location], overrides: Overrides) -> dict[str, Any]:
    """A copy of `graph` with each given override written at its location."""
    check_graph(graph)
    out = copy.deepcopy(dict(graph))
    for name, value in overrides.given().items():
        location = locations.get(name)
        if location is None:
            found = ", ".join(sorted(locations)) or "none"
            raise RerunError(f"cannot change {name}: the graph walk found no node input for it "
                             f"(located: {found}); this graph's {name} cannot be varied")
        node_id, input_name = _check_location(out, name, location)
        inputs = out[node_id].setdefault("inputs", {})
        if name == "model":
            value = _with_extension(value, inputs.get(input_name))
        inputs[input_name] = value
    return out


def graphs(graph: Mapping[str, Any], locations: Mapping[str, Location], overrides: Overrides,
           seeds: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """One graph per seed of `seeds` (a `--seeds N..M` range), else one graph."""
    return [apply(graph, locations, o) for o in per_seed(overrides, list(seeds or []))]


def input_images(graph: Mapping[str, Any]) -> list[InputImage]:
    """Files the graph loads by name (LoadImage, LoadImageMask, video loaders), in node order."""
    found: list[InputImage] = []
    for node_id, node in graph.items():
        if not isinstance(node, Mapping):
            continue
        kind = node.get("class_type")
        inputs = node.get("inputs")
        if not isinstance(kind, str) or "load" not in kind.lower() or not isinstance(inputs, Mapping):
            continue
        for key, media in _LOADER_INPUTS.items():
            value = inputs.get(key)
            if not isinstance(value, str) or not value.strip() or "://" in value:
                continue
            if media == "image" and "image" not in kind.lower():
                continue
            if media == "video" and "video" not in kind.lower():
                continue
            name, folder = value.strip(), "input"
            annotated = _ANNOTATION.match(name)
            if annotated:
                name, folder = annotated["name"], annotated["folder"]
            found.append(InputImage(str(node_id), kind, key, name, folder, media))
    return found


def rename_inputs(graph: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """A copy of `graph` whose loaders name uploaded files: {name in graph: name on server}."""
    out = copy.deepcopy(dict(graph))
    for item in input_images(out):
        current = out[item.node_id]["inputs"][item.input]
        new = renames.get(current, renames.get(item.name))
        if new is not None:
            out[item.node_id]["inputs"][item.input] = new
    return out


def _check_location(graph: dict[str, Any], name: str, location: Any) -> tuple[str, str]:
    if not (isinstance(location, (tuple, list)) and len(location) == 2
            and all(isinstance(part, (str, int)) and not isinstance(part, bool) for part in location)):
        raise RerunError(f"the location for {name} must be (node id, input name), got {location!r}")
    node_id, input_name = str(location[0]), str(location[1])
    node = graph.get(node_id)
    if not isinstance(node, dict):
        raise RerunError(f"the location for {name} names node {node_id!r}, which is not in this graph")
    inputs = node.get("inputs") or {}
    if input_name not in inputs:
        raise RerunError(f"the location for {name} names input {input_name!r} of node {node_id!r} "
                         f"({node.get('class_type')}), which has no such input")
    return node_id, input_name


def _with_extension(new: str, current: Any) -> str:
    """`--model juggernaut` on a graph loading "sdxl/base.safetensors" -> "juggernaut.safetensors":
    ComfyUI names checkpoints by file name, the records by stem."""
    if new.lower().endswith(_MODEL_EXTENSIONS) or not isinstance(current, str):
        return new
    for ext in _MODEL_EXTENSIONS:
        if current.lower().endswith(ext):
            return new + current[-len(ext):]
    return new
