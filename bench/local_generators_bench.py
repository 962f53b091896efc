"""What alice's provider layer adds to a generation on the user's own ComfyUI or A1111,
measured against the local fakes, which answer at once (so all the time is ours).

Prints the median and p95 of:
  ComfyUI: object_info check (cached after the first), /prompt, /history until done and
           the result read, per generation; then the /view download of the output, once
           with stage_output() without a provider (a new httpx client per file) and
           once with stage_output(provider=...) (one client kept per provider, as the daemon delivers);
  A1111:   checkpoint check (/sd-models), txt2img, base64 decode, per generation;
  pipeline/rerun: building 64 varied graphs from a recorded graph (--seeds 0..63).
The daemon's share (request row, delivery, filing) is not included here. Run from the repo root:
    python bench/local_generators_bench.py [--runs 100]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.daemon.generation.deliver import stage_output  # noqa: E402
from alice.pipeline.generation import Generation  # noqa: E402
from alice.pipeline.rerun import a1111 as rerun_a1111  # noqa: E402
from alice.pipeline.rerun import comfy  # noqa: E402
from alice.pipeline.rerun.overrides import Overrides, parse_seeds  # noqa: E402
from alice.providers.a1111 import TXT2IMG, A1111Provider  # noqa: E402
from alice.providers.comfyui import WORKFLOW, ComfyUiProvider  # noqa: E402
from tests.fakes.a1111 import FakeA1111  # noqa: E402
from tests.fakes.comfyui import FakeComfyUI  # noqa: E402
from tests.fakes.harness import settings_for  # noqa: E402
from tests.test_providers_comfyui import GRAPH  # noqa: E402

LOCATIONS = {"seed": ("3", "seed"), "steps": ("3", "steps"), "prompt": ("6", "text")}


def report(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    print(f"{name}: median {statistics.median(ms):.2f} ms, p95 {ms[int(len(ms) * 0.95)]:.2f} ms over {len(ms)} runs")


async def comfyui(runs: int, out: Path) -> None:
    with FakeComfyUI() as fake:
        fake.steps = ["done"]
        settings = settings_for("comfyui", fake, api_key=None, poll_interval_s=0.0)
        async with ComfyUiProvider(settings) as provider:
            times, fetches, kept = [], [], []
            for _ in range(runs):
                t = time.perf_counter()
                result = await provider.generate(WORKFLOW, {"graph": GRAPH})
                mid = time.perf_counter()
                await stage_output(result.outputs[0], out)
                fresh = time.perf_counter()
                await stage_output(result.outputs[0], out, provider=provider)
                times.append((mid - t) * 1000)
                fetches.append((fresh - mid) * 1000)
                kept.append((time.perf_counter() - fresh) * 1000)
    report("comfyui generate (object_info cached, prompt, history x2)", times)
    report("comfyui output download, a new client per file", fetches)
    report("comfyui output download, the provider's kept client", kept)


async def a1111(runs: int) -> None:
    body = rerun_a1111.payload(Generation(prompt="bench", seed=1, steps=20, model="v1-5-pruned-emaonly"))
    with FakeA1111() as fake:
        async with A1111Provider(settings_for("a1111", fake, api_key=None)) as provider:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                await provider.generate(TXT2IMG, body)
                times.append((time.perf_counter() - t) * 1000)
    report("a1111 generate (sd-models check, txt2img, decode)", times)


def builders(runs: int) -> None:
    seeds = parse_seeds("0..63")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        comfy.graphs(GRAPH, LOCATIONS, Overrides(prompt="a grey wolf"), seeds)
        times.append((time.perf_counter() - t) * 1000)
    report("pipeline.rerun.comfy.graphs, 64 seeds of a 7-node graph", times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(comfyui(args.runs, Path(tmp)))
    asyncio.run(a1111(args.runs))
    builders(args.runs)


if __name__ == "__main__":
    main()
