"""What a filed file can be re-run from, read out of its own metadata: pure, no network.

In order of trust:
 - alice's own record (the file was generated through alice on that provider):
   the exact params it sent - ComfyUI's {"graph": ...}, A1111's payload - and
   its references;
 - ComfyUI's API graph (the `prompt` chunk every ComfyUI save writes);
 - A1111's parameters text (txt2img: A1111 does not record an img2img source).
A ComfyUI file can only be re-run on ComfyUI and an A1111 file on A1111 (or
Forge and SD.Next, which speak its API): a graph is not a payload.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from alice.pipeline.detect import alice as alice_detect
from alice.pipeline.detect import comfyui as comfy_detect
from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.detect.sources import parameter_texts
from alice.pipeline.metadata import Metadata

from . import a1111, comfy
from .overrides import Overrides, RerunError

PROVIDERS = ("comfyui", "a1111")
_A1111_MODELS = ("txt2img", "img2img")


@dataclass(frozen=True)
class RerunSource:
    provider: str                       # comfyui | a1111
    model: str                          # the provider's model: workflow | txt2img | img2img
    params: dict[str, Any]              # {"graph": <API graph>} or the A1111 payload
    prompt: str | None                  # for the request row; the params carry it too
    origin: str                         # "alice record" | "comfyui graph" | "a1111 parameters"
    references: list[str] = field(default_factory=list)   # content ids the recorded request used

    @property
    def graph(self) -> dict[str, Any] | None:
        """The ComfyUI API graph this source runs; None for an A1111 payload."""
        return self.params["graph"] if self.provider == "comfyui" else None


def rerun_source(meta: Metadata, provider: str) -> RerunSource:
    """The request that re-runs `meta`'s file on `provider`; RerunError saying why it cannot."""
    if provider not in PROVIDERS:
        raise RerunError(f"re-running a file needs a local generator: comfyui or a1111, not {provider!r}")
    found = alice_detect.detect(meta)
    record = found.raw if found is not None else None
    if record and record.get("provider") == provider and isinstance(record.get("params"), dict):
        return _from_record(record)
    if provider == "comfyui":
        detected = comfy_detect.detect(meta)
        if detected is None:
            raise RerunError(_mismatch(meta, record, "a ComfyUI graph"))
        graph = comfy.api_graph(detected.raw)
        return RerunSource("comfyui", "workflow", {"graph": graph}, detected.generation.prompt, "comfyui graph")
    for _source, text in parameter_texts(meta):
        parsed = parse_a1111(text)
        if parsed is not None:
            body = a1111.payload(parsed.generation(), parsed.raw())
            return RerunSource("a1111", "txt2img", body, body.get("prompt"), "a1111 parameters")
    raise RerunError(_mismatch(meta, record, "A1111 parameters"))


def _from_record(record: dict[str, Any]) -> RerunSource:
    provider, model = record["provider"], record.get("model") or ""
    params = copy.deepcopy(record["params"])
    if provider == "comfyui":
        comfy.check_graph(params.get("graph"))
        model = model or "workflow"
    elif model not in _A1111_MODELS:
        raise RerunError(f"this file's alice record names A1111 model {model!r}; expected txt2img or img2img")
    return RerunSource(provider, model, params, record.get("prompt"), "alice record",
                       list(record.get("references") or []))


def _mismatch(meta: Metadata, record: dict[str, Any] | None, wanted: str) -> str:
    if record:
        return (f"this file was made through alice with {record.get('provider')}, and carries no {wanted}; "
                f"re-run it with --provider {record.get('provider')} (or `alice recreate` without --provider)")
    if comfy_detect.detect(meta) is not None:
        return f"this file carries a ComfyUI graph, not {wanted}: re-run it with --provider comfyui"
    if any(parse_a1111(text) for _s, text in parameter_texts(meta)):
        return f"this file carries A1111 parameters, not {wanted}: re-run it with --provider a1111"
    return f"this file carries no {wanted} to re-run (no ComfyUI graph, no A1111 parameters, no alice record of a local run)"


def apply(source: RerunSource, overrides: Overrides, locations: dict[str, comfy.Location] | None,
          seeds: list[int] | None = None) -> list[dict[str, Any]]:
    """The params of each run: the source's with the overrides, one per seed of a range."""
    if source.graph is not None:
        return [{"graph": g} for g in comfy.graphs(source.graph, locations or {}, overrides, seeds)]
    return a1111.vary_payloads(source.params, overrides, seeds)


def seed_of(source: RerunSource, params: dict[str, Any], locations: dict[str, comfy.Location] | None) -> Any:
    """The seed one run of `apply` uses: in the payload, or at the graph input the walk located."""
    if source.graph is None:
        return params.get("seed")
    node, name = (locations or {})["seed"]
    return params["graph"][node]["inputs"][name]
