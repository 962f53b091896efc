"""Search latency on a catalog of synthetic assets (default 1,000,000), loaded by COPY.

Usage: python bench/search_bench.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
                                     [--assets 1000000] [--runs 50] [--keep]
A database is created for the run and dropped after it (unless --keep).
Each query of the mix runs once to warm up, then --runs times; the figures are
per call of daemon.catalog.search.search (SQL, count and result rows), in ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.daemon.catalog.engine import Catalog  # noqa: E402
from alice.daemon.catalog.search import SearchQuery, search  # noqa: E402
from alice.daemon.catalog.similar import similar_to_hash  # noqa: E402
from tests.synthetic_catalog import load_synthetic  # noqa: E402


def mix(catalog: Catalog, s: Any) -> dict[str, Any]:
    """name -> a callable running one query in its own transaction (as the socket API does).
    Cursors for deep pages are found first."""
    seed = s.execute(text("SELECT seed FROM generations WHERE seed IS NOT NULL LIMIT 1 OFFSET 5000")).scalar()
    cid = s.execute(text("SELECT content_id FROM assets LIMIT 1 OFFSET 7000")).scalar()
    phash = s.execute(text("SELECT phash FROM assets LIMIT 1 OFFSET 9000")).scalar()

    def deep(q: SearchQuery, pages: int) -> SearchQuery:
        for _ in range(pages):
            with catalog.session() as s2:
                q = SearchQuery(**{**vars(q), "cursor": search(s2, q).next_cursor})
        return q

    queries = {
        "text: cyberpunk portrait": SearchQuery(text="cyberpunk portrait"),
        "text: rare (lighthouse samurai)": SearchQuery(text="lighthouse samurai"),
        "text: phrase \"neon lights\" -fog": SearchQuery(text='"neon lights" -fog'),
        "text: dragon by relevance": SearchQuery(text="dragon", sort="relevance"),
        "filter: tool midjourney": SearchQuery(tool="midjourney"),
        "filter: tool fooocus (2%)": SearchQuery(tool="fooocus"),
        "filter: tool invokeai or novelai, 5 stars": SearchQuery(tool=["invokeai", "novelai"], stars_min=5),
        "filter: comfyui 4+ stars since 2025": SearchQuery(tool="comfyui", stars_min=4, since="2025-01-01"),
        "filter: project + video": SearchQuery(project="project-07", media="video"),
        "filter: tags all favorite, none reject": SearchQuery(tags_all=["favorite"], tags_none=["reject"]),
        "filter: model juggernautXL_v9": SearchQuery(model="juggernautXL_v9"),
        "filter: seed": SearchQuery(seed=int(seed)),
        "filter: content_id": SearchQuery(content_id=cid),
        "filter: width>=2000, aspect 1.3-1.4": SearchQuery(width_min=2000, aspect_min=1.3, aspect_max=1.4),
        "filter: 5 stars, sort stars": SearchQuery(stars_min=5, sort="stars"),
        "text+filter: neon, a1111, 4+ stars": SearchQuery(text="neon", tool="a1111", stars_min=4),
        "text+filter: cat, project, 2024": SearchQuery(text="cat", project="project-03", since="2024-01-01",
                                                        until="2024-12-31"),
        "text+filter: portrait, tags any": SearchQuery(text="portrait", tags_any=["keeper", "final"]),
        "deep: no filter, page 50": deep(SearchQuery(), 49),
        "deep: text portrait, page 20": deep(SearchQuery(text="portrait"), 19),
        "deep: midjourney by stars, page 20": deep(SearchQuery(tool="midjourney", sort="stars"), 19),
        "count: all assets": SearchQuery(limit=1),
        "count: text anime": SearchQuery(text="anime", limit=1),
    }
    def run(q: SearchQuery) -> Any:
        with catalog.session() as s2:
            return search(s2, q)

    def similar() -> Any:
        with catalog.session() as s2:
            return similar_to_hash(s2, phash, 6)

    runs: dict[str, Any] = {name: (lambda q=q: run(q)) for name, q in queries.items()}
    runs["similar: phash within 6 bits"] = similar
    return runs


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--assets", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--keep", action="store_true", help="Keep the database (its name is printed).")
    ap.add_argument("--reuse", metavar="DBNAME", help="Query a database kept by an earlier --keep run; load nothing.")
    args = ap.parse_args()
    name = args.reuse or f"alice_search_bench_{uuid.uuid4().hex[:8]}"
    if not args.reuse:
        with psycopg.connect(args.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        catalog = Catalog.open(url, Path("/tmp"))
        if not args.reuse:
            t0 = time.perf_counter()
            load_synthetic(url, args.assets)
            print(f"loaded {args.assets:,} assets in {time.perf_counter() - t0:.1f} s (COPY, index build, ANALYZE)")
        with catalog.session() as s:
            version = s.execute(text("SHOW server_version")).scalar()
            runs = mix(catalog, s)
            print(f"PostgreSQL {version}; {args.runs} runs per query; ms per call\n")
            print(f"{'query':40} {'p50':>7} {'p95':>7} {'p99':>7} {'total':>10}")
            worst = 0.0
            for label, run in runs.items():
                result = run()
                times = []
                for _ in range(args.runs):
                    t = time.perf_counter()
                    run()
                    times.append((time.perf_counter() - t) * 1000)
                total = (f"{'' if result.total_exact else '~'}{result.total:,}" if hasattr(result, "total")
                         else f"{len(result)} hits")
                p95 = pct(times, 95)
                worst = max(worst, p95)
                print(f"{label:40} {statistics.median(times):7.2f} {p95:7.2f} {pct(times, 99):7.2f} {total:>10}")
            print(f"\nworst p95: {worst:.2f} ms (target: under 25 ms)")
        catalog.close()
    finally:
        if args.keep or args.reuse:
            print(f"kept database {name}")
        else:
            with psycopg.connect(args.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
