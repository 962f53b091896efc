"""What the quality cascade adds around the stages themselves, against the local fakes.

Prints per-file time and files/s of run_cascade on 1 MP PNGs for:
  technical only (no catalog),
  technical + vision:anthropic, first time (budget check under the project
    lock, request row, HTTP to a fake that answers at once, cost, cache write),
  the same again, answered from the cache (no HTTP).
The model's own latency (seconds, for a real service) is not included. Run from
the repo root:
    python bench/assess_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres] [--files 30]
A fresh database is created on that server and dropped afterwards.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
import structlog
from PIL import Image, ImageFilter
from sqlalchemy import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.daemon.catalog.engine import Catalog  # noqa: E402
from alice.daemon.provider_host import ProviderHost  # noqa: E402
from alice.daemon.quality.assess import Target, run_cascade  # noqa: E402
from alice.pipeline.quality.config import QualityConfig  # noqa: E402
from alice.providers.anthropic import AnthropicProvider  # noqa: E402
from tests.fakes.anthropic import FakeAnthropic  # noqa: E402
from tests.fakes.harness import settings_for  # noqa: E402


def images(root: Path, n: int) -> list[Path]:
    """Distinct smooth 1024x1024 images (so each is its own content and passes the gate)."""
    out = []
    rng = np.random.default_rng(7)
    for i in range(n):
        small = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((1024, 1024), Image.BICUBIC).filter(ImageFilter.DETAIL)
        p = root / f"img{i:03d}.png"
        img.save(p)
        out.append(p)
    return out


def timed(label: str, files: list[Path], run: object) -> None:
    t0 = time.perf_counter()
    for f in files:
        run(f)  # type: ignore[operator]
    dt = time.perf_counter() - t0
    print(f"{label:48} {dt / len(files) * 1000:7.1f} ms/file  {len(files) / dt:6.1f} files/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=os.environ.get("ALICE_TEST_DATABASE_URL",
                                                    "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--files", type=int, default=30)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    name = f"alice_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp, FakeAnthropic() as fake:
            root = Path(tmp)
            files = images(root, args.files)
            catalog = Catalog.open(make_url(args.url).set(database=name).render_as_string(hide_password=False), root)
            providers = ProviderHost({"anthropic": AnthropicProvider(settings_for("anthropic", fake))})
            technical = QualityConfig()
            paid = QualityConfig.from_mapping({"stages": ["technical", "vision:anthropic"], "default_gate": 0})
            try:
                timed("technical only", files, lambda f: run_cascade(f, technical, {}, None))
                timed("technical + vision (paid, local fake)", files,
                      lambda f: run_cascade(Target(f, project="bench"), paid, providers, catalog))
                timed("technical + vision (cached)", files,
                      lambda f: run_cascade(Target(f, project="bench"), paid, providers, catalog))
                print(f"requests the fake saw: {fake.count('messages')} for {len(files)} files x 2 runs")
            finally:
                providers.close()
                catalog.close()
    finally:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
