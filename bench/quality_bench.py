"""How fast is the local quality stage? Prints images/s and ms per image.

    python bench/quality_bench.py [--repeat 15] [--work-edge 512] [--cpu]

Cases: synthetic and real pictures at about 1 MP and 4 MP, each as PNG and
JPEG, through `assess_image` (decode + reduce + measure: what the daemon pays
per file) and through `assess_array` on the working copy (the measures alone).
Then the cost of each measure on one working copy of that size. The median of
`--repeat` runs is reported; the machine's other load shows up as spread.
`--cpu` times this process's CPU time instead of the wall clock, which other
jobs on a shared machine disturb far less (use it to compare two versions).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from alice.pipeline.quality import measures as m
from alice.pipeline.quality.config import QualityConfig
from alice.pipeline.quality.technical import _downscale, assess_array, assess_image

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "files"


def synthetic(size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (size[1] // 24, size[0] // 24, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.DETAIL)
    noise = rng.normal(0, 2.0, (size[1], size[0], 3))
    return Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8))


def real(name: str, size: tuple[int, int]) -> Image.Image | None:
    path = CORPUS / name
    if not path.exists():
        return None
    img = Image.open(path).convert("RGB")
    return img.resize(size, Image.Resampling.LANCZOS) if img.size != size else img


CLOCK = time.perf_counter


def timed(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm caches and lazy imports
    runs = []
    for _ in range(repeat):
        t = CLOCK()
        fn()
        runs.append(CLOCK() - t)
    return statistics.median(runs) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--work-edge", type=int, default=QualityConfig().work_edge)
    ap.add_argument("--cpu", action="store_true", help="time CPU time, not wall clock")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    cfg = QualityConfig(work_edge=args.work_edge)

    sizes = {"1MP": (1024, 1024), "4MP": (2304, 1728)}
    pictures: list[tuple[str, str, Image.Image]] = []
    for label, size in sizes.items():
        pictures.append(("synthetic", label, synthetic(size)))
        for name in ("comfyui-flux-dev.png", "c2pa-camera-capture.jpg"):
            img = real(name, size)
            if img is not None:
                pictures.append((name.split(".")[0], label, img))

    print(f"local quality stage, work_edge={cfg.work_edge}, median of {args.repeat} runs"
          f"{' (CPU time)' if args.cpu else ''}")
    print(f"{'picture':26} {'size':4} {'path':14} {'ms/image':>9} {'images/s':>9} {'score':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for source, label, img in pictures:
            for fmt, ext, opts in (("PNG", "png", {"compress_level": 1}), ("JPEG", "jpg", {"quality": 92})):
                path = Path(tmp) / f"{source}-{label}.{ext}"
                img.save(path, fmt, **opts)
                ms = timed(lambda path=path: assess_image(path, cfg), args.repeat)
                score = assess_image(path, cfg).score
                print(f"{source:26} {label:4} {'file ' + ext:14} {ms:9.1f} {1000.0 / ms:9.1f} {score:7.1f}")
            rgb = np.asarray(img)
            ms = timed(lambda rgb=rgb: assess_array(rgb, cfg=cfg), args.repeat)
            print(f"{source:26} {label:4} {'array':14} {ms:9.1f} {1000.0 / ms:9.1f}")

    native = np.asarray(synthetic((1024, 1024)))
    work = _downscale(native, cfg.work_edge)
    y = m.luma(work)
    sigma = m.noise_sigma(y)
    hist = m.histogram(y)
    print(f"\nper measure on one {work.shape[1]}x{work.shape[0]} working copy (ms)")
    steps: dict[str, Callable[[], object]] = {
        "luma": lambda: m.luma(work),
        "content_box": lambda: m.content_box(y),
        "noise (working copy)": lambda: m.noise_sigma(y),
        "noise (native patches)": lambda: m.noise_sigma(m.native_patches(native)),
        "sharpness": lambda: m.blur_index(y, sigma),
        "histogram": lambda: m.histogram(y),
        "exposure+contrast": lambda: (m.exposure_figures(hist), m.rms_contrast(hist)),
        "colourfulness": lambda: m.colourfulness(work),
        "blockiness (512 crop)": lambda: m.blockiness(m.luma(work[:512, :512]), 8),
    }
    total = 0.0
    for name, fn in steps.items():
        ms = timed(fn, args.repeat)
        total += ms
        print(f"  {name:24} {ms:7.2f}")
    print(f"  {'sum':24} {total:7.2f}")


if __name__ == "__main__":
    main()
