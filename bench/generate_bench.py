"""What alice adds to a generation request, measured against the local fake fal server.

Prints: the time to deliver an output (stamp the record, check the content id,
verified copy into the inbox) for a 4 MP PNG, a 1 MP JPEG and a 5 s MP4; the
time `Generator.submit` takes before anything is sent (pricing, budget check
under the project lock, recording); and whole requests per second against a
fake that answers at once. Run from the repo root:
    python bench/generate_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres] [--requests 40]
A fresh database is created on that server and dropped afterwards.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import structlog
from PIL import Image
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.daemon.catalog import spend  # noqa: E402
from alice.daemon.catalog.engine import Catalog  # noqa: E402
from alice.daemon.generation.deliver import deliver  # noqa: E402
from alice.pipeline.ffmpeg import ffmpeg_exe  # noqa: E402
from tests.fakes.fal import FakeFal  # noqa: E402
from tests.generate_env import make_generator  # noqa: E402

RECORD = {"alice_generation": 1, "provider": "fal", "model": "fal-ai/flux/dev", "request_id": "bench",
          "prompt": "a lighthouse at dusk, volumetric light, 35mm", "params": {"seed": 1, "image_size": "square_hd"},
          "references": []}


def image(fmt: str, size: int) -> bytes:
    buf = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buf, fmt)
    return buf.getvalue()


def video(path: Path) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=5",
                    "-c:v", "mpeg4", "-q:v", "5", str(path)], check=True, timeout=120)


def bench_deliver(root: Path, rounds: int) -> None:
    samples = {"png 2048x2048": image("PNG", 2048), "jpeg 1024x1024": image("JPEG", 1024)}
    mp4 = root / "sample.mp4"
    video(mp4)
    samples["mp4 640x360 5s"] = mp4.read_bytes()
    for label, data in samples.items():
        times = []
        for i in range(rounds):
            stage = root / "stage" / f"{label[:3]}-{i}"
            stage.mkdir(parents=True)
            src = stage / f"out.{label[:3].replace('jpe', 'jpg')}"
            src.write_bytes(data)
            t = time.perf_counter()
            got = deliver(src, RECORD, root / "inbox" / "bench")
            times.append(time.perf_counter() - t)
            assert got.embedded, got.warnings
        med = statistics.median(times)
        print(f"deliver {label:<16} {len(data) / 1e6:6.1f} MB  median {med * 1000:7.1f} ms  "
              f"({len(data) / 1e6 / med:6.1f} MB/s)")


def bench_requests(root: Path, url: str, n: int) -> None:
    with FakeFal() as fal:
        catalog = Catalog.open(url, root)
        gen = make_generator(root / "gen", catalog, fal=fal)
        try:
            with catalog.session() as s:
                spend.set_budget(s, "bench", Decimal("1000"))
            admit, whole = [], []
            for i in range(n):
                t = time.perf_counter()
                rid = gen.submit("fal", "fal-ai/flux/dev", f"prompt {i}", {"seed": i}, project="bench")
                admit.append(time.perf_counter() - t)
                gen.wait(rid)
                whole.append(time.perf_counter() - t)
            t = time.perf_counter()
            rids = [gen.submit("fal", "fal-ai/flux/dev", f"c{i}", {"seed": i}, project="bench") for i in range(n)]
            for rid in rids:
                assert gen.wait(rid)["state"] == "done"
            concurrent = time.perf_counter() - t
        finally:
            gen.close()
            catalog.close()
    q = statistics.quantiles(admit, n=20)
    print(f"submit before sending (price, budget lock, record, event): median {statistics.median(admit) * 1000:.1f} ms, "
          f"p95 {q[-1] * 1000:.1f} ms")
    print(f"whole request (3 polls, download, stamp, deliver, 4 catalog transactions): "
          f"median {statistics.median(whole) * 1000:.1f} ms")
    print(f"{n} requests in flight at once: {n / concurrent:.1f} requests/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("ALICE_TEST_DATABASE_URL",
                                                    "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    name = f"alice_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix="alice-gen-bench-") as tmp:
            bench_deliver(Path(tmp), args.rounds)
            bench_requests(Path(tmp), make_url(args.url).set(database=name).render_as_string(hide_password=False),
                           args.requests)
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
