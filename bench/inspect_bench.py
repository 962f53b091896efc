"""How fast `inspect_file` reads metadata, side by side with sd-parsers.

    python bench/inspect_bench.py [FOLDER] [--seconds 3] [--copies 4]

Walks FOLDER (default: tests/corpus/files), then inspects the file list
again and again until --seconds have passed, and prints files/s and MB/s
(MB counts whole files, though only metadata is read). The same files then
go through sd_parsers.ParserManager for a ratio, and the JPEG/WebP EXIF
blocks through parse_exif (exifread behind alice's adapter) for its cost per
block. Single process, warm page cache.

"cold" rows run each reader once over the folder in a fresh interpreter, so
start-up (imports) is included - the figure a user of `alice inspect FOLDER`
sees; `--no-verify` rows skip C2PA validation (same detection, see
extract.read_c2pa). On a shared machine the loop rows swing with the load;
the "best of N" rows time every file N times, readers interleaved, and sum
each file's fastest time, which is what the code costs without the noise.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from alice.pipeline.extract import extract
from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.inspect import inspect_file, iter_paths

DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "files"


def _replicated(folder: Path, copies: int) -> Path:
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="alice-inspect-bench-"))
    for path in iter_paths([folder]):
        for n in range(copies):
            shutil.copyfile(path, out / f"{n}-{path.name}")
    return out


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


_COLD = {
    "alice": "from alice.pipeline.inspect import inspect_file as r\n",
    "alice --no-verify": "from functools import partial\nfrom alice.pipeline.inspect import inspect_file\n"
                         "r = partial(inspect_file, verify_c2pa=False)\n",
    "sd-parsers": "import warnings\nwarnings.simplefilter('ignore')\nfrom sd_parsers import ParserManager\n"
                  "m = ParserManager()\ndef r(p):\n    try:\n        m.parse(p)\n    except Exception:\n        pass\n",
}


def _cold(name: str, files: list[Path], runs: int = 5) -> float | None:
    """Best files/s of `runs` fresh interpreters reading every file once, start-up included."""
    listing = "\n".join(str(p) for p in files)
    code = _COLD[name] + "import sys\nfor line in sys.stdin.read().splitlines():\n    r(line)\n"
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], input=listing, text=True, capture_output=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            return None
        best = elapsed if best is None else min(best, elapsed)
    return len(files) / best


def _startup(code: str, runs: int = 5) -> float:
    best = None
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        elapsed = time.perf_counter() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def _best_of(files: list[Path], readers: dict[str, Callable[[Path], object]], rounds: int) -> dict[str, float]:
    """files/s per reader from the sum of each file's fastest of `rounds` reads, readers interleaved."""
    best: dict[str, dict[Path, float]] = {name: {} for name in readers}
    for _ in range(rounds):
        for path in files:
            for name, read in readers.items():
                started = time.perf_counter()
                read(path)
                elapsed = time.perf_counter() - started
                previous = best[name].get(path)
                best[name][path] = elapsed if previous is None else min(previous, elapsed)
    return {name: len(files) / sum(times.values()) for name, times in best.items()}


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _exif_blocks(files: list[Path]) -> list[tuple[str, bytes]]:
    blocks = []
    for path in files:
        meta_source = path.read_bytes()
        start = meta_source.find(b"Exif\x00\x00")
        if start < 0 or path.suffix.lower() not in (".jpg", ".jpeg", ".webp"):
            continue
        blocks.append((path.name, meta_source[start:start + 65533]))
    return blocks


def _cli_rows(cli: str, folder: Path, count: int, sd_parsers_cold: float | None, runs: int = 5) -> None:
    """What a user of the command sees: best of `runs` whole `alice inspect` runs (exit 1 only says
    some file was damaged), and the command's start-up alone."""
    def best(argv: list[str]) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run(argv, capture_output=True)
            times.append(time.perf_counter() - started)
            if done.returncode not in (0, 1):
                raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')[-500:]}")
        return min(times)

    startup = best([cli, "inspect", "--help"])
    whole = best([cli, "inspect", "--json", str(folder)])
    print(f"  `alice inspect --help` (start-up)   {startup * 1000:6.0f} ms")
    print(f"  `alice inspect --json FOLDER`       {count / whole:6.0f} files/s ({whole:.2f}s for {count} files)"
          + (f", {count / whole / sd_parsers_cold:.1f}x sd-parsers cold" if sd_parsers_cold else ""))


def _report(name: str, count: int, size: int, elapsed: float) -> float:
    rate = count / elapsed
    print(f"  {name:14} {rate:9.0f} files/s  {size / elapsed / 1e6:9.1f} MB/s  ({count} files in {elapsed:.2f}s)")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=7, help="reads per file for the best-of rows")
    parser.add_argument("--copies", type=int, default=1,
                        help="read the folder's files this many times over (copied to a temporary folder), "
                             "e.g. 4 makes the 29-file test corpus a realistic ~100-file folder")
    args = parser.parse_args()
    if args.copies > 1:
        args.folder = _replicated(args.folder, args.copies)
    files = [p for p in iter_paths([args.folder]) if p.is_file()]
    if not files:
        raise SystemExit(f"no files under {args.folder}")
    total = sum(p.stat().st_size for p in files)
    print(f"{len(files)} files, {total / 1e6:.1f} MB, from {args.folder}")

    print("whole files (extract + detect), warm process:")
    ours = _report("alice", *_run(files, args.seconds, inspect_file))
    unverified = _report("alice --no-verify", *_run(files, args.seconds,
                                                     lambda p: inspect_file(p, verify_c2pa=False)))
    _report("alice extract", *_run(files, args.seconds, extract))
    sd_read = _sd_parsers()
    if sd_read is None:
        print("  sd-parsers not installed (pip install sd-parsers) - no comparison")
    else:
        theirs = _report("sd-parsers", *_run(files, args.seconds, sd_read))
        print(f"  alice / sd-parsers = {ours / theirs:.1f}x   (--no-verify: {unverified / theirs:.1f}x)")

    readers: dict[str, Callable[[Path], object]] = {
        "alice": inspect_file, "alice --no-verify": lambda p: inspect_file(p, verify_c2pa=False)}
    if sd_read is not None:
        readers["sd-parsers"] = sd_read
    rates = _best_of(files, readers, args.rounds)
    print(f"best of {args.rounds} per file, readers interleaved:")
    for name, rate in rates.items():
        print(f"  {name:20} {rate:9.0f} files/s")
    if "sd-parsers" in rates:
        print(f"  alice / sd-parsers = {rates['alice'] / rates['sd-parsers']:.1f}x   "
              f"(--no-verify: {rates['alice --no-verify'] / rates['sd-parsers']:.1f}x)")

    print("cold: one fresh interpreter per pass over the folder, start-up included:")
    for name in _COLD:
        rate = _cold(name, files)
        print(f"  {name:20} " + (f"{rate:9.0f} files/s" if rate else "    (not available)"))
    base = _startup("pass")
    library = _startup("from alice.pipeline.inspect import inspect_file")
    print(f"  start-up: python {base * 1000:.0f} ms, + alice.pipeline.inspect {1000 * (library - base):.0f} ms")
    cli = shutil.which("alice", path=str(Path(sys.executable).parent))
    if cli:
        _cli_rows(cli, args.folder, len(files), _cold("sd-parsers", files))

    blocks = _exif_blocks(files)
    if blocks:
        parse_exif(blocks[0][1], [])               # import exifread outside the timing
        print(f"EXIF blocks alone ({len(blocks)} from JPEG/WebP), parse_exif: exifread behind alice's adapter:")
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < args.seconds / 2:
            for _, block in blocks:
                parse_exif(block, [])
                count += 1
        elapsed = time.perf_counter() - started
        print(f"  {'all blocks, looped':34} {count / elapsed:9.0f} blocks/s  {1000 * elapsed / count:7.3f} ms/block")
        for name, block in blocks:
            best = min(_timed(lambda b=block: parse_exif(b, [])) for _ in range(args.rounds))
            print(f"  {name[:34]:34} {len(block):9,} bytes  {1000 * best:7.3f} ms (best of {args.rounds})")

if __name__ == "__main__":
    main()
