"""Why content ids use BLAKE3: hash throughput, and identify() over a folder.

    python bench/hash_bench.py [--mb 256] [--corpus DIR] [--seconds 3]

Prints MB/s for BLAKE3 (one thread, as alice runs it, and all threads),
SHA-256, SHA-1 and MD5 over one in-memory buffer, then files/s and MB/s of
identify() over the corpus (repeated for a few seconds), split by payload rule.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import blake3

from alice.pipeline.identity import UnreadableMedia, identify
from alice.pipeline.sniff import sniff

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "files"


def rate(fn, data: memoryview, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - t)
    return len(data) / best / 1e6


def hash_rates(mb: int) -> None:
    data = memoryview(os.urandom(mb << 20))
    candidates = {
        "blake3 (1 thread)": lambda d: blake3.blake3(d).digest(),
        "blake3 (all threads)": lambda d: blake3.blake3(d, max_threads=blake3.blake3.AUTO).digest(),
        "sha256": lambda d: hashlib.sha256(d).digest(),
        "sha1": lambda d: hashlib.sha1(d).digest(),
        "md5": lambda d: hashlib.md5(d).digest(),
    }
    print(f"hash throughput over a {mb} MB buffer (best of 3), {os.cpu_count()} CPUs")
    results = {name: rate(fn, data) for name, fn in candidates.items()}
    base = results["sha256"]
    for name, mbs in results.items():
        print(f"  {name:22} {mbs:9.0f} MB/s   {mbs / base:5.2f}x sha256")


def identify_rates(corpus: Path, seconds: float) -> None:
    files = []
    for p in sorted(corpus.iterdir()):
        if p.is_file():
            with open(p, "rb") as fh:
                fmt, media = sniff(fh.read(4096))
            files.append((p, fmt, media, p.stat().st_size))
    print(f"identify() over {len(files)} files in {corpus}, repeated for ~{seconds:.0f} s")
    per_rule: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])   # files, bytes, seconds
    start = time.perf_counter()
    rounds = 0
    while time.perf_counter() - start < seconds or rounds == 0:
        for p, fmt, media, size in files:
            t = time.perf_counter()
            try:
                rule = identify(p, fmt, media).payload
            except UnreadableMedia:
                rule = "unreadable"
            acc = per_rule[rule]
            acc[0] += 1
            acc[1] += size
            acc[2] += time.perf_counter() - t
        rounds += 1
    total = [sum(v[i] for v in per_rule.values()) for i in range(3)]
    for rule, (n, size, secs) in sorted(per_rule.items()) + [("all", total)]:
        print(f"  {rule:16} {n / secs:9.0f} files/s {size / secs / 1e6:9.0f} MB/s   ({n} files, {size / 1e6:.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    hash_rates(args.mb)
    if args.corpus.is_dir():
        identify_rates(args.corpus, args.seconds)
    else:
        print(f"no corpus at {args.corpus}: skipping identify()")
    return 0


if __name__ == "__main__":
    sys.exit(main())
