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
from alice.daemon.catalog.asset_ref import parse_ref
from alice.daemon.generation.errors import GenerateError, RequestNotFound
from alice.daemon.generation.generator import Generator
from alice.daemon.generation.references import ReferenceError, from_path
from alice.daemon.ingest import graph_inputs
from alice.pipeline.extract import UnreadableFile, extract
from alice.pipeline.lineage import reference_kind
from alice.pipeline.rerun import comfy
from alice.pipeline.rerun.overrides import Overrides, RerunError
from alice.pipeline.rerun.source import RerunSource, apply, rerun_source, seed_of

RECREATED, VARIED = "recreated_from", "varied_from"


@dataclass(frozen=True)
class Filed:
    """The file a re-run starts from."""

    path: Path
    content_id: str
    asset_id: int | None            # None: a file the catalog has not seen
    project: str | None


def find_file(gen: Generator, ref: str | int | Path) -> Filed:
    """A path, a content id (b3:...), asset:<id> or a bare asset id (asset_ref.parse_ref) -> a
    readable copy. A path need not be catalogued: any file can be re-run from its metadata."""
    parsed = parse_ref(ref)
    if parsed.path is None:
        with gen.catalog.session() as s:
            if parsed.asset_id is not None:
                asset = store.asset_by_id(s, parsed.asset_id)
                missing = f"no asset {parsed.asset_id} in the catalog"
            else:
                assert parsed.content_id is not None
                asset = store.asset_by_content_id(s, parsed.content_id)
                missing = f"no asset with content id {parsed.content_id} in the catalog"
            if asset is None:
                raise RequestNotFound(missing)
            filed = store.filed_copy(s, asset.id)
            if filed is None or not Path(filed.path).is_file():
                raise GenerateError(f"asset {asset.id} has no present copy to read its record from; "
                                    "give the file's path instead")
            return Filed(Path(filed.path), asset.content_id, asset.id, asset.project_name)
    path = parsed.path.expanduser()
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
    if kind == VARIED and source.graph is not None:
        where = locations(source.graph)
    try:
        runs = apply(source, overrides, where, seeds)
    except RerunError as exc:
        raise GenerateError(str(exc)) from None
    parents = [{"content_id": filed.content_id, "kind": kind}]
    ref_kind = reference_kind(source.provider, source.model)
    parents += [{"content_id": cid, "kind": ref_kind} for cid in source.references if cid != filed.content_id]
    if source.graph is not None:
        inputs = graph_inputs.known_inputs(gen.catalog, graph_inputs.input_dir(gen.cfg.providers), source.graph)
        parents += [{"content_id": cid, "kind": "graph_input"} for cid in inputs if cid != filed.content_id]
    ids = []
    for params in runs:
        changed = dict(overrides.given())
        if seeds:
            changed["seed"] = seed_of(source, params, where)
        record = {"rerun": {"kind": kind, "of": filed.content_id, "from": source.origin, "overrides": changed},
                  "parents": parents}
        # A graph carries its own prompt (the record's graph is read back for it).
        prompt = None if source.graph is not None else (
            overrides.prompt if overrides.prompt is not None else source.prompt)
        ids.append(gen.submit(source.provider, source.model, prompt, params, list(source.references),
                              project or filed.project, record=record))
    return ids

