"""exifread's share of a file's time on the whole ingest path (issue 12's rule: under 2%).

    python bench/exif_ingest_bench.py [--rounds 40] [--quality]

Builds a realistic ~2 MB camera-style JPEG: the Nikon photo from
tests/corpus/files (GPS, maker note, 11 KB EXIF) upscaled to 3200x2400 and
saved at quality 95 with its EXIF block. Then, per file (median of --rounds):

  * ingest: pipeline.importer.analyze, the step every filed file goes through
    (sniff, metadata with EXIF read through exifread, content hash, integrity
    check, perceptual hash; with --quality also the local technical quality
    stage). Filing itself (copy, fsync, sidecar, catalog) comes on top, so the
    share printed below is an upper bound;
  * parse_exif on the file's EXIF block: exifread's ExifHeader behind alice's
    adapter (pipeline/extract/exif.py), what ingest pays for EXIF;
  * exifread.process_file on the file (details=False), for reference: what
    exifread's own entry point costs (it skips UserComment, so alice does not use it).

Prints each time and parse_exif's share of the ingest time. The README's
decision ("EXIF: measured on the whole ingest path") quotes this.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from PIL import Image

from alice.pipeline.extract.exif import parse_exif, quiet_exifread_logger
from alice.pipeline.importer import analyze

SOURCE = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "files" / "camera-nikon-gps.jpg"


def make_image(folder: Path) -> Path:
    with Image.open(SOURCE) as im:
        exif = im.info["exif"]
        big = im.convert("RGB").resize((3200, 2400), Image.Resampling.LANCZOS)
    path = folder / "DSC_0042.jpg"
    big.save(path, "JPEG", quality=95, exif=exif)
    return path


def exif_block(path: Path) -> bytes:
    with Image.open(path) as im:
        return b"Exif\x00\x00" + im.info["exif"][6:] if im.info["exif"].startswith(b"Exif") else im.info["exif"]


def median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--quality", action="store_true", help="include the local technical quality stage")
    args = parser.parse_args()
    import exifread

    quiet_exifread_logger()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_image(Path(tmp))
        block = exif_block(path)
        quality = None
        if args.quality:
            from alice.pipeline.quality.config import QualityConfig

            quality = QualityConfig.from_mapping({})
        analyze(path, "bench", quality)            # warm caches and imports
        ingest = median_ms(lambda: analyze(path, "bench", quality), args.rounds)
        ours = median_ms(lambda: parse_exif(block, []), args.rounds * 10)

        def process_file() -> None:
            with warnings.catch_warnings(), open(path, "rb") as fh:
                warnings.simplefilter("ignore")
                exifread.process_file(fh, details=False, extract_thumbnail=False)

        process_file_ms = median_ms(process_file, args.rounds)
        size = path.stat().st_size
    print(f"image: 3200x2400 JPEG, {size / 1e6:.2f} MB, EXIF block {len(block):,} bytes")
    print(f"ingest (importer.analyze{' + quality' if args.quality else ''}): {ingest:8.2f} ms/file")
    print(f"parse_exif (exifread ExifHeader + adapter): {ours:8.3f} ms/file")
    print(f"exifread.process_file, for reference:       {process_file_ms:8.3f} ms/file")
    print(f"exifread's share of a file's ingest time: {ours:.3f} ms = {100 * ours / ingest:.1f}%")

if __name__ == "__main__":
    main()
