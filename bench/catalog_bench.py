"""Throughput of the catalog and queue operations the daemon does per file.

Usage: python bench/catalog_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres] [--jobs 2000]
Without --url an embedded server in a temporary directory is used. A fresh
database is created for the run and dropped after it.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from alice.daemon.catalog.embedded import EmbeddedServer
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.store import add_location, append_event, record_asset
from alice.daemon.ingest import queue
from alice.pipeline.generation import Generation
from alice.pipeline.record import AssetRecord


def organize_one(cat: Catalog, i: int) -> None:
    rec = AssetRecord(content_id=f"b3:{i:064x}", file_hash=f"b3:{i:064x}", size=100_000, format="png",
                      media="image", tool="comfyui", ai=True, project="bench", source_path=f"/in/{i}.png",
                      created_at=datetime.now(UTC), width=1024, height=1024,
                      generation=Generation(prompt=f"a lighthouse at dusk, detailed, number {i}", seed=i, steps=30),
                      raw={"prompt": {"3": {"class_type": "KSampler", "inputs": {"seed": i}}}})
    with cat.session() as s:
        asset_id, _ = record_asset(s, rec)
        add_location(s, asset_id, f"/org/bench/{i}.png", rec.file_hash, "organized")
        append_event(s, "organized", asset_id, f"/org/bench/{i}.png", {"from": rec.source_path})


def run(url: str, jobs: int, workers: int) -> None:
    cat = Catalog.open(url, Path(tempfile.gettempdir()))
    try:
        t = time.perf_counter()
        with cat.session() as s:
            for i in range(jobs):
                queue.enqueue(s, f"/in/{i}.png", "/in", 1, 1.0)
        enq = time.perf_counter() - t
        print(f"enqueue: {jobs / enq:,.0f} jobs/s (one transaction)")

        def work(name: str) -> None:
            while batch := queue.claim(cat.engine, name, 60, limit=1):
                for j in batch:
                    queue.complete(cat.engine, j.id, name, {"ok": True})

        t = time.perf_counter()
        threads = [threading.Thread(target=work, args=(f"w{k}",)) for k in range(workers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.perf_counter() - t
        print(f"claim+complete: {jobs / dt:,.0f} jobs/s with {workers} threads, "
              f"{dt / jobs * 1000 * workers:.2f} ms per job per worker")

        n = jobs // 2
        t = time.perf_counter()
        for i in range(n):
            organize_one(cat, i)
        dt = time.perf_counter() - t
        print(f"record_asset+add_location+append_event: {n / dt:,.0f} files/s, {dt / n * 1000:.2f} ms per file")
    finally:
        cat.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="")
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()
    server = None
    root = None
    if args.url:
        admin = args.url
    else:
        root = Path(tempfile.mkdtemp(prefix="alice-bench-pg-"))
        server = EmbeddedServer.attach(root / "pg")
        admin = server.url("postgres").set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"alice_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        print(f"server: {'embedded' if server else make_url(admin).render_as_string(hide_password=True)}")
        run(make_url(admin).set(database=name).render_as_string(hide_password=False), args.jobs, args.workers)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if server:
            server.detach()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
