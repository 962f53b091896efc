"""When a file carries both a tool's summary and the ComfyUI graph it ran, which wins.

TensorArt, Stability Matrix and ComfyUI save nodes write an A1111-style or
JSON summary beside the graph. The summary names the model and LoRAs the way
the user picked them, so it keeps those; but it writes placeholders (TensorArt's
seed -1 for "random") and renames sampler + scheduler into one label
(Stability Matrix's "Euler Ancestral Karras"), so those come from the graph,
which holds what actually ran, in the tool's own vocabulary.
"""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_int
from alice.pipeline.generation import Generation

_FILLED = ("prompt", "negative_prompt", "steps", "cfg", "model", "model_hash", "width", "height", "created_at")


def merge_summary_and_graph(summary: Generation, graph: Generation) -> Generation:
    """`summary` with placeholders and renamed values replaced from `graph`; changes `summary` in place."""
    seed = to_int(summary.seed)
    if (seed is None or seed < 0) and graph.seed is not None:
        summary.seed = graph.seed
    if graph.sampler:
        summary.sampler, summary.scheduler = graph.sampler, graph.scheduler or summary.scheduler
    for name in _FILLED:
        if getattr(summary, name) in (None, ""):
            setattr(summary, name, getattr(graph, name))
    if not summary.loras:
        summary.loras = list(graph.loras)
    if not summary.passes:
        summary.passes = list(graph.passes)
    return summary
