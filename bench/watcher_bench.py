"""How fast the inbox watcher notices files, and what a reconciliation scan costs.

Usage: python bench/watcher_bench.py [--files 2000] [--existing 20000] [--settle 1.0]

Prints, for inotify and for polling: latency from "file closed / renamed in"
to on_ready (p50/p95/max) and delivery throughput; and for a start over a
pre-filled inbox: scan time and time until every file was offered.
Runs in a temporary directory; nothing else is touched.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import structlog

from alice.daemon.ingest.watcher import InboxWatcher


class Clock:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen: dict[str, float] = {}
        self.done = threading.Event()

    def __call__(self, path: Path, inbox: Path) -> None:
        self.seen.setdefault(str(path), time.monotonic())
        if len(self.seen) >= self.expected:
            self.done.set()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def burst(root: Path, n: int, settle: float, polling: bool, how: str) -> None:
    inbox, outside = root / f"in-{how}-{polling}", root / f"out-{how}-{polling}"
    inbox.mkdir()
    outside.mkdir()
    clock = Clock(n)
    w = InboxWatcher([inbox], clock, settle_s=settle, rescan_s=0, force_polling=polling)
    w.start()
    w.reconcile().wait(10)
    written: dict[str, float] = {}
    payload = os.urandom(20_000)
    t0 = time.monotonic()
    for i in range(n):
        name = f"img{i:05d}.png"
        if how == "write":
            with open(inbox / name, "wb") as f:
                f.write(payload)
        else:
            (outside / name).write_bytes(payload)
            os.rename(outside / name, inbox / name)
        written[str(inbox / name)] = time.monotonic()
    t_written = time.monotonic() - t0
    ok = clock.done.wait(60 + settle * 4)
    w.stop()
    lat = [clock.seen[p] - t for p, t in written.items() if p in clock.seen]
    total = max(clock.seen.values()) - t0 if clock.seen else float("nan")
    mode = "polling" if polling else "inotify"
    print(f"{mode:8} {how:6} n={n:<6} delivered={len(clock.seen):<6}{'' if ok else ' (TIMEOUT)'} "
          f"write={t_written:6.2f}s all-offered={total:6.2f}s "
          f"latency p50={statistics.median(lat) * 1000:7.1f}ms p95={pct(lat, 0.95) * 1000:7.1f}ms "
          f"max={max(lat) * 1000:7.1f}ms  ({len(clock.seen) / total:7.0f} files/s)")


def prefilled(root: Path, n: int, settle: float) -> None:
    inbox = root / "prefilled"
    per_folder = 200
    for i in range(n):
        d = inbox / f"project{i // per_folder:03d}"
        if i % per_folder == 0:
            d.mkdir(parents=True)
        (d / f"f{i:06d}.png").write_bytes(b"x")
    clock = Clock(n)
    w = InboxWatcher([inbox], clock, settle_s=settle, rescan_s=0)
    t0 = time.monotonic()
    w.start()
    t_started = time.monotonic() - t0
    w.reconcile().wait(120)
    t_scanned = time.monotonic() - t0
    ok = clock.done.wait(120 + settle * 4)
    t_all = time.monotonic() - t0
    w.stop()
    print(f"prefilled n={n} in {n // per_folder} folders: start (inotify watches)={t_started:.2f}s "
          f"two scans done={t_scanned:.2f}s all offered={t_all:.2f}s{'' if ok else ' (TIMEOUT)'} "
          f"(settle {settle}s included)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--existing", type=int, default=20000)
    ap.add_argument("--settle", type=float, default=1.0)
    args = ap.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    with tempfile.TemporaryDirectory(prefix="alice-watch-bench-") as tmp:
        root = Path(tmp)
        burst(root, args.files, args.settle, polling=False, how="write")
        burst(root, args.files, args.settle, polling=False, how="rename")
        burst(root, args.files, args.settle, polling=True, how="write")
        prefilled(root, args.existing, args.settle)


if __name__ == "__main__":
    main()
