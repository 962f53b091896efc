"""What recording a group of newly filed files costs in the catalog, by group size.

    python bench/record_bench.py [--set DIR] [SIZE ...]     # default sizes: 1 2 8 16 32

Analyses (once) up to 240 PNGs of the ingest bench's set (bench/ingest_bench.py
builds it under /tmp/alice-ingest-bench), then records them with
group_record.record_new_files in groups of SIZE, each group one transaction,
on a fresh database per size, and prints the CPU and wall time per file. The
figure behind FilingLine's group size (daemon/ingest/line.py).

Catalog: fresh databases on $ALICE_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards.
"""
from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

import psycopg

from alice.daemon.catalog import group_record
from alice.daemon.catalog.engine import Catalog
from alice.pipeline.importer import analyze_bytes

ADMIN = os.environ.get("ALICE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def new_files(folder: Path, limit: int) -> list[group_record.NewFile]:
    out = []
    for p in sorted(folder.rglob("*.png"))[:limit]:
        st = p.stat()
        rec = analyze_bytes(p.read_bytes(), p, st.st_size, st.st_mtime, p.parent.name, None, pixels=False,
                            via=str(p))
        out.append(group_record.NewFile(rec, f"/tree/{p.parent.name}/{p.name}", str(p), st.st_size, st.st_mtime_ns))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sizes", type=int, nargs="*", default=[1, 2, 8, 16, 32])
    ap.add_argument("--set", type=Path, default=Path("/tmp/alice-ingest-bench"))
    args = ap.parse_args()
    files = new_files(args.set, 240)
    if not files:
        raise SystemExit(f"no PNGs under {args.set}: run bench/ingest_bench.py once to build the set")
    for size in args.sizes:
        name = "alice_record_bench_" + uuid.uuid4().hex[:6]
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        catalog = Catalog.open(ADMIN.rsplit("/", 1)[0] + "/" + name, Path("/tmp"))
        try:
            cpu, wall = time.process_time(), time.perf_counter()
            for i in range(0, len(files), size):
                with catalog.session() as s:
                    group_record.record_new_files(s, files[i:i + size])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(f"group {size:3d}: {1000 * cpu / len(files):.2f} ms CPU per file, "
                  f"{1000 * wall / len(files):.2f} ms wall per file ({len(files)} files)")
        finally:
            catalog.close()
            with psycopg.connect(ADMIN, autocommit=True) as c:
                c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
