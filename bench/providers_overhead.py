"""What the provider layer itself costs, measured against the local fake fal server.

Prints: per-call latency of a status poll through `_request` (breaker, auth hook,
bounded read, JSON decode, redaction, metrics, log line), concurrent throughput,
and the time to prepare images for a vision API. Run from the repo root:
    python bench/providers_overhead.py [--calls 300]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import logging
import statistics
import sys
import time
from pathlib import Path

import structlog
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.providers.fal import FalProvider  # noqa: E402
from alice.providers.vision import parse_rating, prepare_image  # noqa: E402
from tests.fakes.fal import FakeFal  # noqa: E402
from tests.fakes.harness import settings_for  # noqa: E402


async def polls(calls: int, concurrency: int) -> None:
    with FakeFal() as fake:
        fake.steps = ["IN_PROGRESS"]
        async with FalProvider(settings_for("fal", fake)) as fal:
            job = await fal.submit("fal-ai/flux/dev", {"prompt": "bench"})
            lat = []
            for _ in range(calls):
                t = time.perf_counter()
                await fal.status(job)
                lat.append((time.perf_counter() - t) * 1000)
            lat.sort()
            print(f"sequential status poll: median {statistics.median(lat):.2f} ms, "
                  f"p95 {lat[int(len(lat) * 0.95)]:.2f} ms over {calls} calls")
            t = time.perf_counter()
            for start in range(0, calls, concurrency):
                await asyncio.gather(*(fal.status(job) for _ in range(min(concurrency, calls - start))))
            took = time.perf_counter() - t
            print(f"concurrent status polls ({concurrency} at a time): {calls / took:.0f} calls/s")


def images() -> None:
    big = io.BytesIO()
    Image.effect_noise((4000, 3000), 40).convert("RGB").save(big, "JPEG", quality=92)
    small = io.BytesIO()
    Image.new("RGB", (1024, 1024), (9, 90, 200)).save(small, "PNG")
    for name, blob in (("4000x3000 JPEG (re-encoded)", big.getvalue()), ("1024x1024 PNG (sent as is)", small.getvalue())):
        t = time.perf_counter()
        runs = 5
        for _ in range(runs):
            out, media, w, h = prepare_image("bench", blob)
        ms = (time.perf_counter() - t) / runs * 1000
        print(f"prepare_image {name}: {ms:.1f} ms, {len(blob) // 1024} KiB -> {len(out) // 1024} KiB {media} {w}x{h}")
    text = 'Sure:\n```json\n{"score": 70, "defects": ["blur"], "tags": ["cat"], "summary": "ok"}\n```'
    t = time.perf_counter()
    for _ in range(2000):
        parse_rating("bench", text)
    print(f"parse_rating (fenced answer): {(time.perf_counter() - t) / 2000 * 1e6:.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    # Measure the layer, not the console: drop log output.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    asyncio.run(polls(args.calls, args.concurrency))
    images()


if __name__ == "__main__":
    main()
