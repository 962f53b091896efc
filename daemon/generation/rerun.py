"""`alice recreate --provider comfyui|a1111` and `alice vary`: re-run a filed file on the
user's own generator, from the record inside it.

The file is found (a path, a content id, asset:<id> or an asset id), its
metadata read, and the request built by pipeline/rerun (the file's own
ComfyUI graph or A1111 parameters, or alice's record of the request that made
it). Overrides land at the node inputs the detection's graph walk located
(comfy_graph.locate_base_pass), never at guessed node ids. Each run goes
through Generator.submit, so it is priced, budgeted, recorded, delivered and
filed like every generation; the record stamped into its outputs adds

    "rerun":   {"kind": "varied_from", "of": "b3:...", "from": "comfyui graph",
                "overrides": {"seed": 7}},
    "parents": [{"content_id": "b3:...", "kind": "varied_from"}, ...]

which `alice inspect` shows and the organizer turns into lineage edges.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alice.daemon.catalog import store
from alice.daemon.generation.errors import GenerateError, RequestNotFound
from alice.daemon.generation.generator import Generator
from alice.daemon.generation.references import ReferenceError, from_path, is_content_id
from alice.daemon.ingest import graph_inputs
from alice.pipeline.extract import UnreadableFile, extract
from alice.pipeline.rerun import comfy
from alice.pipeline.rerun.overrides import Overrides, RerunError
from alice.pipeline.rerun.source import RerunSource, apply, rerun_source

RECREATED, VARIED = "recreated_from", "varied_from"


@dataclass(frozen=True)
class Filed:
    """The file a re-run starts from."""

    path: Path
    content_id: str
    asset_id: int | None            # None: a file the catalog has not seen
    project: str | None


def find_file(gen: Generator, ref: str | int | Path) -> Filed:
    """A path, a content id (b3:...), asset:<id> or a bare asset id -> a readable copy."""
    text = str(ref).strip()
    asset = None
    with gen.catalog.session() as s:
        if isinstance(ref, int) or text.isdigit() or (text.startswith("asset:") and text[6:].isdigit()):
            asset = store.asset_by_id(s, int(text.removeprefix("asset:")))
            if asset is None:
                raise RequestNotFound(f"no asset {text.removeprefix('asset:')} in the catalog")
        elif is_content_id(text):
            asset = store.asset_by_content_id(s, text)
            if asset is None:
                raise RequestNotFound(f"no asset with content id {text} in the catalog")
        if asset is not None:
            filed = store.filed_copy(s, asset.id)
            if filed is None or not Path(filed.path).is_file():
                raise GenerateError(f"asset {asset.id} has no present copy to read its record from; "
                                    "give the file's path instead")
            return Filed(Path(filed.path), asset.content_id, asset.id, asset.project_name)
    path = Path(text).expanduser()
    try:
        content_id = from_path(path).content_id
    except ReferenceError as exc:
        raise GenerateError(str(exc)) from None
    with gen.catalog.session() as s:
        asset = store.asset_by_content_id(s, content_id)
    return Filed(path.absolute(), content_id, asset.id if asset else None, asset.project_name if asset else None)


def read_source(path: Path, provider: str) -> RerunSource:
    try:
        meta = extract(path)
    except UnreadableFile as exc:
        raise GenerateError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return rerun_source(meta, provider)
    except RerunError as exc:
        raise GenerateError(f"{path.name}: {exc}") from None


def locations(graph: Mapping[str, Any]) -> dict[str, comfy.Location]:
    """Where the base pass takes each value, from the detection's graph walk."""
    from alice.pipeline.detect import comfy_graph

    locate = getattr(comfy_graph, "locate_base_pass", None)
    if locate is None:
        raise GenerateError("varying a ComfyUI graph needs the detection's graph walk to locate the base "
                            "sampler's inputs (pipeline.detect.comfy_graph.locate_base_pass), which this "
                            "alice does not have yet; `alice recreate --provider comfyui` runs the graph "
                            "unchanged")
    return dict(locate(graph))


def rerun(gen: Generator, ref: str | int | Path, provider: str, *, overrides: Overrides | None = None,
          seeds: Sequence[int] | None = None, project: str | None = None) -> list[int]:
    """Submit the re-runs of `ref` on `provider` (one per seed of `seeds`); their request ids.
    No overrides and no seeds is a recreate, anything else a variation."""
    overrides = overrides or Overrides()
    seeds = list(seeds or [])
    kind = VARIED if (overrides.given() or seeds) else RECREATED
    filed = find_file(gen, ref)
    source = read_source(filed.path, provider)
    where = None
    if kind == VARIED and source.provider == "comfyui":
        where = locations(source.params["graph"])
    try:
        runs = apply(source, overrides, where, seeds)
    except RerunError as exc:
        raise GenerateError(str(exc)) from None
    parents = [{"content_id": filed.content_id, "kind": kind}]
    # An img2img's references are its source images: graph inputs, as a ComfyUI LoadImage's are.
    ref_kind = "graph_input" if (source.provider, source.model) == ("a1111", "img2img") else "reference"
    parents += [{"content_id": cid, "kind": ref_kind} for cid in source.references if cid != filed.content_id]
    if source.provider == "comfyui":
        inputs = graph_inputs.known_inputs(gen.catalog, graph_inputs.input_dir(gen.cfg.providers),
                                           source.params["graph"])
        parents += [{"content_id": cid, "kind": "graph_input"} for cid in inputs if cid != filed.content_id]
    ids = []
    for params in runs:
        changed = dict(overrides.given())
        if seeds:
            changed["seed"] = _seed_of(source.provider, params, where)
        record = {"rerun": {"kind": kind, "of": filed.content_id, "from": source.origin, "overrides": changed},
                  "parents": parents}
        # ComfyUI's prompt lives in the graph (the record's graph is read back for it).
        prompt = None if source.provider == "comfyui" else (
            overrides.prompt if overrides.prompt is not None else source.prompt)
        ids.append(gen.submit(source.provider, source.model, prompt, params, list(source.references),
                              project or filed.project, record=record))
    return ids


def _seed_of(provider: str, params: Mapping[str, Any], where: Mapping[str, comfy.Location] | None) -> Any:
    if provider == "a1111":
        return params.get("seed")
    node, name = (where or {})["seed"]
    return params["graph"][node]["inputs"][name]
