"""Drop N files into a running `alice run` and measure drop-to-indexed latency.

Starts a daemon on a fresh catalog database (the PostgreSQL at
$ALICE_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres,
or the embedded one with --embedded), drops N small unique PNGs into its inbox
at a steady rate, and reads back from the event log when each one was filed.

    python bench/daemon_bench.py --files 1000 --rate 200

Prints latency p50/p95/p99 (file closed in the inbox -> its "organized" event
committed) and throughput (files filed per second over the burst). Meanwhile a
thread asks the daemon's socket for `daemon.status` every 200 ms and prints
how long those answers took: the socket must stay responsive during a burst
(try --files 10000 --rate 0).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
import yaml
from PIL import Image

ALICE = Path(sys.executable).parent / "alice"


def png(i: int) -> bytes:
    rng = random.Random(i)
    img = Image.new("RGB", (32, 32))
    img.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(32 * 32)])
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=200.0, help="files dropped per second (0 = all at once)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--embedded", action="store_true", help="use the embedded PostgreSQL")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="alice-bench-"))
    admin = os.environ.get("ALICE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    dbname = f"alice_bench_{uuid.uuid4().hex[:8]}"
    url = ""
    if not args.embedded:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
        url = admin.rsplit("/", 1)[0] + "/" + dbname
    inbox, organized = root / "inbox", root / "organized"
    inbox.mkdir()
    cfg = {"inboxes": [str(inbox)], "organized": str(organized), "data_dir": str(root / "data"),
           "workers": args.workers, "database": {"url": url},
           "watch": {"settle_seconds": 1, "rescan_minutes": 0}, "log": {"level": "warning"},
           "socket": str(root / "alice.sock")}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "ALICE_CONFIG": str(root / "config.yaml")}
    payloads = [png(i) for i in range(args.files)]

    daemon = subprocess.Popen([str(ALICE), "run"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=open(root / "daemon.log", "wb"))
    try:
        time.sleep(1.0)
        # Wait for the catalog to exist (migrations done) before timing anything.
        for _ in range(600):
            if subprocess.run([str(ALICE), "status", "--json"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        probes: list[float] = []
        stop_probe = threading.Event()

        def probe() -> None:
            from alice.daemon.api.client import RpcClient

            while not stop_probe.wait(0.2):
                t = time.perf_counter()
                try:
                    with RpcClient(root / "alice.sock", timeout=30) as c:
                        c.call("daemon.status", {})
                    probes.append((time.perf_counter() - t) * 1000)
                except Exception:
                    probes.append(float("inf"))

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        dropped: dict[str, float] = {}
        t0 = time.time()
        for i, data in enumerate(payloads):
            p = inbox / f"bench{i:06d}.png"
            with open(p, "wb") as f:
                f.write(data)
            dropped[str(p)] = time.time()
            if args.rate:
                delay = t0 + (i + 1) / args.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
        deadline = time.time() + 600
        conninfo = url or None
        if args.embedded:
            out = subprocess.run([str(ALICE), "status", "--json"], env=env, capture_output=True, text=True).stdout
            conninfo = json.loads(out)["catalog"].replace("postgresql+psycopg", "postgresql")
        while True:
            with psycopg.connect(conninfo) as c:
                n = c.execute("SELECT count(*) FROM events WHERE kind = 'organized'").fetchone()[0]
            if n >= args.files or time.time() > deadline:
                break
            time.sleep(0.2)
        with psycopg.connect(conninfo) as c:
            rows = c.execute("SELECT data->>'source', extract(epoch FROM at)::float8 FROM events "
                             "WHERE kind = 'organized'").fetchall()
    finally:
        stop_probe.set()
        daemon.terminate()
        daemon.wait(60)
    lat = [(at - dropped[src]) * 1000 for src, at in rows if src in dropped]
    span = max(at for _, at in rows) - t0 if rows else float("nan")
    print(f"files: {len(lat)}/{args.files} filed, drop rate {args.rate or 'burst'}/s, "
          f"workers {args.workers or os.cpu_count()}, catalog {'embedded' if args.embedded else 'external'}")
    print(f"drop-to-indexed latency ms: p50 {pct(lat, 50):.0f}  p95 {pct(lat, 95):.0f}  "
          f"p99 {pct(lat, 99):.0f}  max {max(lat):.0f}  mean {statistics.mean(lat):.0f}")
    print(f"throughput: {len(lat) / span:.1f} files/s over {span:.1f} s")
    ok = [p for p in probes if p != float("inf")]
    if ok:
        print(f"socket daemon.status during the burst ms: p50 {pct(ok, 50):.1f}  p95 {pct(ok, 95):.1f}  "
              f"max {max(ok):.1f}  ({len(ok)} answered, {len(probes) - len(ok)} failed)")
    if not args.embedded:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
