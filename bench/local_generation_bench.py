"""What alice adds to a generation on the user's own ComfyUI or A1111: request to filed output,
minus the generator's own time.

Fakes of both servers (tests/fakes/) take a fixed time to "generate" (--gen-ms):
ComfyUI lists the prompt in its history only that long after /prompt, A1111
answers txt2img only then. Each run re-runs a filed file (ComfyUI: its graph,
a new one per run so each output is new content; A1111: its parameters with
a new seed) through daemon/generation/rerun.py and the Generator, then files
the delivered output with the organizer in this process, as the daemon does
once its watcher has seen the file (the watcher's settle time, a setting, is
not counted). Printed per generator, median and p90 over --runs:

  overhead = (request -> filed) - generator time
  of which: submit (read the file, build the request, price, record), waiting
  past the generator's time (ComfyUI: polling /history every poll_interval_s),
  download + stamp + deliver, and filing (analyse, copy, sidecar, catalog).

ComfyUI is measured at alice's default poll interval (2 s) and at 0.1 s, since
polling dominates it. Run from the repo root:
    python bench/local_generation_bench.py [--url postgresql://...] [--runs 10] [--gen-ms 500]
A fresh database is created on that server and dropped afterwards.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import structlog
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.daemon.catalog.engine import Catalog  # noqa: E402
from alice.daemon.generation.generator import Generator  # noqa: E402
from alice.daemon.generation.rerun import rerun  # noqa: E402
from alice.daemon.ingest.filing import Organizer, Source  # noqa: E402
from alice.daemon.provider_host import ProviderHost  # noqa: E402
from alice.pipeline.rerun.overrides import Overrides  # noqa: E402
from tests.fakes.a1111 import FakeA1111, infotext  # noqa: E402
from tests.fakes.comfyui import FakeComfyUI  # noqa: E402
from tests.fakes.server import Reply, Request  # noqa: E402
from tests.generate_env import make_config, provider_config  # noqa: E402

GRAPH: dict[str, Any] = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 25, "cfg": 6.5, "sampler_name": "euler",
                                               "scheduler": "karras", "denoise": 1, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0],
                                               "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "bench"}},
}


class TimedComfyUI(FakeComfyUI):
    """A prompt is done gen_s after it was queued (and runs meanwhile)."""

    gen_s = 0.5

    def setup_routes(self) -> None:
        super().setup_routes()
        self.steps = ["done"]
        self.started: dict[str, float] = {}

    def _prompt(self, req: Request, m: Any) -> Reply:
        reply = super()._prompt(req, m)
        if reply.status == 200:
            self.started[reply.body["prompt_id"]] = time.monotonic()
        return reply

    def _history(self, req: Request, m: Any) -> Reply:
        job = self.prompts.get(m["pid"])
        if job is not None and time.monotonic() - self.started[m["pid"]] < self.gen_s:
            job["state"] = "running"
            return Reply(200, {})
        return super()._history(req, m)


class TimedA1111(FakeA1111):
    """txt2img answers gen_s after the request arrived."""

    gen_s = 0.5

    def _generate(self, req: Request, m: Any) -> Reply:
        time.sleep(self.gen_s)
        return super()._generate(req, m)


def user_png(key: str, text: str, seed: int) -> bytes:
    info = PngInfo()
    info.add_text(key, text)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (seed % 256, 120, 200)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def measure(root: Path, catalog: Catalog, provider: str, fake: Any, poll_s: float, runs: int,
            source: Callable[[int], tuple[Path, Overrides]]) -> dict[str, list[float]]:
    providers = provider_config(**{provider: fake})
    providers[provider]["poll_interval_s"] = poll_s
    cfg = make_config(root, providers)
    host = ProviderHost.build(cfg.providers, env={})
    gen = Generator(cfg, catalog, host)
    organizer = Organizer(cfg, catalog)
    parts: dict[str, list[float]] = {k: [] for k in ("total", "overhead", "submit", "wait", "file")}
    try:
        for i in range(runs + 1):                          # the first run warms up connections and caches
            src, overrides = source(i)
            t0 = time.perf_counter()
            [rid] = rerun(gen, src, provider, overrides=overrides, project="bench")
            t1 = time.perf_counter()
            status = gen.wait(rid)
            t2 = time.perf_counter()
            assert status["state"] == "done", status
            out = Path(status["outputs"][0]["path"])
            filed = organizer.organize(Source(out, cfg.inboxes[0]))
            t3 = time.perf_counter()
            assert filed.status == "organized", filed
            if i == 0:
                continue
            parts["total"].append(t3 - t0)
            parts["overhead"].append(t3 - t0 - fake.gen_s)
            parts["submit"].append(t1 - t0)
            parts["wait"].append(t2 - t1 - fake.gen_s)
            parts["file"].append(t3 - t2)
    finally:
        gen.close()
        host.close()
    return parts


def show(label: str, parts: dict[str, list[float]], gen_s: float) -> None:
    def ms(values: list[float]) -> str:
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
        return f"{statistics.median(values) * 1000:7.1f} ms (p90 {p90 * 1000:7.1f})"

    print(f"{label}: generator {gen_s * 1000:.0f} ms, request -> filed {ms(parts['total'])}")
    print(f"    overhead alice adds      {ms(parts['overhead'])}")
    print(f"      submit                 {ms(parts['submit'])}   read file, build request, price, record")
    print(f"      wait past generator    {ms(parts['wait'])}   polling, download, stamp, deliver")
    print(f"      filing                 {ms(parts['file'])}   analyse, copy, sidecar, catalog")


def bench(root: Path, url: str, runs: int, gen_s: float) -> None:
    catalog = Catalog.open(url, root)
    try:
        with TimedComfyUI() as comfy:
            comfy.gen_s = gen_s

            def comfy_source(i: int) -> tuple[Path, Overrides]:
                graph = json.loads(json.dumps(GRAPH))
                graph["3"]["inputs"]["seed"] = 1000 + i           # new content each run
                path = root / "sources" / f"comfy-{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(user_png("prompt", json.dumps(graph), i))
                return path, Overrides()

            for poll in (2.0, 0.1):
                parts = measure(root / f"comfy-{poll}", catalog, "comfyui", comfy, poll, runs, comfy_source)
                show(f"ComfyUI recreate, poll every {poll:g} s", parts, gen_s)
        with TimedA1111() as sd:
            sd.gen_s = gen_s
            body = {"prompt": "a lighthouse at dusk", "steps": 25, "sampler_name": "Euler", "cfg_scale": 6.0,
                    "width": 1024, "height": 1024}
            path = root / "sources" / "a1111.png"
            path.write_bytes(user_png("parameters", infotext(body, 7, "v1-5-pruned-emaonly"), 7))
            parts = measure(root / "a1111", catalog, "a1111", sd, 0.1, runs,
                            lambda i: (path, Overrides(seed=5000 + i)))
            show("A1111 vary --seed (synchronous)", parts, gen_s)
    finally:
        catalog.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("ALICE_TEST_DATABASE_URL",
                                                    "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--gen-ms", type=float, default=500.0, help="How long the fake generator takes.")
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    name = f"alice_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="alice-local-bench-") as tmp:
            bench(Path(tmp), make_url(args.url).set(database=name).render_as_string(hide_password=False),
                  args.runs, args.gen_ms / 1000)
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
