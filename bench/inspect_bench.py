"""How fast `inspect_file` reads metadata, side by side with sd-parsers.

    python bench/inspect_bench.py [FOLDER] [--seconds 3]

Walks FOLDER (default: tests/corpus/files), then inspects the file list
again and again until --seconds have passed, and prints files/s and MB/s
(MB counts whole files, though only metadata is read). The same files then
go through sd_parsers.ParserManager for a ratio, and the JPEG/WebP EXIF
blocks through our parser and exifread, which is why the EXIF parser is our
own. Single process, warm page cache.
"""
from __future__ import annotations

import argparse
import io
import time
import warnings
from pathlib import Path
from typing import Callable

from alice.pipeline.extract import extract
from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.inspect import inspect_file, iter_paths

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "files"


def _run(files: list[Path], seconds: float, read: Callable[[Path], object]) -> tuple[int, int, float]:
    """(files read, bytes covered, elapsed) looping over `files` for at least `seconds`."""
    count = size = 0
    sizes = {f: f.stat().st_size for f in files}
    started = time.perf_counter()
    while True:
        for path in files:
            read(path)
            count += 1
            size += sizes[path]
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count, size, elapsed


def _sd_parsers() -> Callable[[Path], object] | None:
    try:
        from sd_parsers import ParserManager
    except ImportError:
        return None
    manager = ParserManager()

    def read(path: Path) -> object:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return manager.parse(path)
        except Exception:  # noqa: BLE001 - sd-parsers raises on files it cannot open; count it as read
            return None

    return read


def _exif_blocks(files: list[Path]) -> list[bytes]:
    blocks = []
    for path in files:
        meta_source = path.read_bytes()
        start = meta_source.find(b"Exif\x00\x00")
        if start < 0 or path.suffix.lower() not in (".jpg", ".jpeg", ".webp"):
            continue
        blocks.append(meta_source[start:start + 65533])
    return blocks


def _report(name: str, count: int, size: int, elapsed: float) -> float:
    rate = count / elapsed
    print(f"  {name:14} {rate:9.0f} files/s  {size / elapsed / 1e6:9.1f} MB/s  ({count} files in {elapsed:.2f}s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    files = [p for p in iter_paths([args.folder]) if p.is_file()]
    if not files:
        raise SystemExit(f"no files under {args.folder}")
    total = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {total / 1e6:.1f} MB, from {args.folder}")

    print("whole files (extract + detect):")
    ours = _report("alice", *_run(files, args.seconds, inspect_file))
    _report("alice extract", *_run(files, args.seconds, extract))
    sd_read = _sd_parsers()
    if sd_read is None:
        print("  sd-parsers not installed (pip install sd-parsers) - no comparison")
    else:
        theirs = _report("sd-parsers", *_run(files, args.seconds, sd_read))
        print(f"  alice / sd-parsers = {ours / theirs:.1f}x")

    blocks = _exif_blocks(files)
    if blocks:
        import exifread

        print(f"EXIF blocks alone ({len(blocks)} from JPEG/WebP):")
        for name, parse in (("alice exif", lambda b: parse_exif(b, [])),
                            ("exifread", lambda b: exifread.process_file(io.BytesIO(b[6:]), details=False))):
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < args.seconds / 2:
                for block in blocks:
                    parse(block)
                    count += 1
            elapsed = time.perf_counter() - started
            print(f"  {name:14} {count / elapsed:9.0f} blocks/s")


if __name__ == "__main__":
    main()
