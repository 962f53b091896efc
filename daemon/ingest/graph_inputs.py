"""A ComfyUI graph's input images as lineage parents: the files its LoadImage nodes name in
ComfyUI's input folder (providers.comfyui.input_dir), matched to the catalog by content id.

Used when a ComfyUI file is filed (its graph loaded those images: img2img,
ControlNet, IP-Adapter inputs) and when alice re-runs one. Only inputs whose
content the catalog has are parents; the rest are nobody's asset.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.pipeline.identity import UnreadableMedia, identify
from alice.pipeline.rerun.comfy import input_images
from alice.pipeline.sniff import HEAD_SIZE, sniff
from alice.providers.config import ProvidersConfig

MAX_INPUTS = 32             # loaders read per graph


def input_dir(providers: ProvidersConfig) -> Path | None:
    """ComfyUI's input folder from the config's providers section, if set."""
    settings = providers.settings.get("comfyui")
    folder = settings.input_dir if settings is not None else None
    return Path(os.path.expanduser(folder)) if folder else None


def graph_of(tool: str | None, raw: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The API graph a detection kept: ComfyUI's own, or the one alice sent to ComfyUI."""
    if tool == "comfyui" and isinstance(raw.get("prompt"), Mapping):
        return raw["prompt"]
    params = raw.get("params")
    if raw.get("alice_generation") and raw.get("provider") == "comfyui" and isinstance(params, Mapping) \
            and isinstance(params.get("graph"), Mapping):
        return params["graph"]
    return None


def known_inputs(catalog: Catalog, folder: Path | None, graph: Mapping[str, Any] | None) -> list[str]:
    """Content ids of the graph's input images in `folder` that the catalog has filed, in node order."""
    if folder is None or not graph:
        return []
    found: list[str] = []
    for item in input_images(graph)[:MAX_INPUTS]:
        path = folder / item.name
        if item.folder != "input" or ".." in Path(item.name).parts or not path.is_file():
            continue
        try:
            with open(path, "rb") as fh:
                fmt, media = sniff(fh.read(HEAD_SIZE))
            cid = identify(path, fmt, media).content_id
        except (OSError, UnreadableMedia):
            continue
        if cid in found:
            continue
        with catalog.session() as s:
            if store.asset_by_content_id(s, cid) is not None:
                found.append(cid)
    return found
