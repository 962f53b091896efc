"""What a look costs: drawing thumbnails, reusing them from the cache, and composing a contact sheet.

Prints median and p95 milliseconds (no catalog, no socket) for:
  drawing a small (384 px) and a large (1568 px) thumbnail of a 1 MP PNG and a 12 MP JPEG,
  the same asked again (a cache hit: a stat, an mtime touch, a header read),
  a 4-frame strip of a 10 s 720p video,
  a contact sheet of 16 small thumbnails, JPEG-encoded (what assets_view sends).
Run from the repo root:  python bench/thumbnail_bench.py [--runs 15]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alice.daemon.thumbnails import ThumbnailCache  # noqa: E402
from alice.pipeline.ffmpeg import ffmpeg_exe  # noqa: E402
from alice.pipeline.thumbnail import contact_sheet, encode_jpeg  # noqa: E402


def timed(fn, runs: int) -> tuple[float, float]:
    times = []
    for i in range(runs):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]


def noise(size: tuple[int, int], seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    runs = ap.parse_args().runs
    root = Path(tempfile.mkdtemp(prefix="alice-thumb-bench-"))
    try:
        run(root, runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, runs: int) -> None:
    sources = {}
    for name, size, fmt in (("1 MP PNG", (1024, 1024), "PNG"), ("12 MP JPEG", (4000, 3000), "JPEG")):
        paths = []
        for i in range(runs):
            p = root / f"{name.replace(' ', '_')}_{i}.{fmt.lower()}"
            noise(size, i).save(p, fmt, quality=92)
            paths.append(p)
        sources[name] = paths
    video = root / "clip.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=10:size=1280x720:rate=30",
                    "-c:v", "mpeg4", "-q:v", "5", str(video)], check=True)

    cache = ThumbnailCache(root / "data", max_files=100_000)
    print(f"{'what':<44} {'p50 ms':>8} {'p95 ms':>8}")
    for name, paths in sources.items():
        for size in ("small", "large"):
            def look(i: int, name: str = name, size: str = size, paths: list[Path] = paths) -> None:
                cache.get("b3:" + format(abs(hash((name, size, i))), "064x")[:64], paths[i], "image", size)

            draw = timed(look, runs)
            hit = timed(look, runs)
            print(f"{'draw ' + size + ', ' + name:<44} {draw[0]:8.1f} {draw[1]:8.1f}")
            print(f"{'cache hit ' + size + ', ' + name:<44} {hit[0]:8.2f} {hit[1]:8.2f}")
    strip = timed(lambda i: cache.get("b3:" + format(10**6 + i, "064x"), video, "video", "large"),
                  max(3, runs // 3))
    print(f"{'draw 4-frame strip, 10 s 720p video':<44} {strip[0]:8.1f} {strip[1]:8.1f}")
    tiles = [(Image.open(cache.get("b3:" + format(abs(hash(("1 MP PNG", "small", i))), "064x")[:64],
                                   sources["1 MP PNG"][i], "image", "small").path).convert("RGB"), f"#{i}")
             for i in range(min(16, runs))]
    sheet = timed(lambda i: encode_jpeg(contact_sheet(tiles)), runs)
    size = len(encode_jpeg(contact_sheet(tiles)))
    print(f"{f'contact sheet of {len(tiles)}, JPEG ({size // 1024} KiB)':<44} {sheet[0]:8.1f} {sheet[1]:8.1f}")


if __name__ == "__main__":
    main()
