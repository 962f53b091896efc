"""The realistic ingest bench: alice against `cp -r` and exiftool on the same files.

Builds (once, cached under --cache) a set like the one an AI-image user drops
in: PNGs of about 2 MB (1024x1024, noisy enough not to compress away) with
A1111 and ComfyUI metadata in three project folders, camera-size JPEGs of
about 4 MB with EXIF dates, and a few short MP4s (imageio-ffmpeg). Then:

 1. interleaved, --rounds times, on the PNG set and then on the whole set:
      alice organize --copy   (fresh catalog database and tree each time)
      cp -r SRC DST && sync
      exiftool -r -o DST/ -d 'DST/%Y-%m-%d' '-Directory<FileModifyDate' SRC
    printing each median wall time and the ratios;
 2. `alice run` throughput: the PNG set renamed into its inbox at once,
    files filed per second (first drop -> last file searchable);
 3. drop-to-searchable latency at --rate files/s offered (p50/p95/p99), the
    moment the file's catalog location is visible to another connection;
 4. peak RSS of the `alice run` process tree over 2 and 3;
 5. the second (pixel) stage: how many images per second get their
    perceptual hash (and quality, when on) after being filed.

    python bench/ingest_bench.py                 # all of the above
    python bench/ingest_bench.py --only organize --rounds 1

Catalog: fresh databases on $ALICE_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import yaml

ALICE = Path(sys.executable).parent / "alice"
ADMIN = os.environ.get("ALICE_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PROJECTS = ("cyberpunk", "portraits", "landscapes")
SET_VERSION = "v1"


# -- the set ----------------------------------------------------------------------------------
def _noisy(rng, w: int, h: int, amplitude: int):
    import numpy as np

    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)),
                     ((x + y) * 255 // max(1, w + h - 2))], axis=-1)
    shift = rng.integers(0, 256, size=3)
    noise = rng.integers(0, amplitude, size=(h, w, 3))
    return ((base + shift + noise) % 256).astype("uint8")


def _a1111(i: int) -> str:
    return (f"a neon city at night, rain, reflections, detailed, shot {i}\n"
            "Negative prompt: blurry, lowres\n"
            f"Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: {1000 + i}, Size: 1024x1024, "
            "Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: v1.7.0")


def _comfy(i: int) -> tuple[str, str]:
    prompt = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 5000 + i, "steps": 25, "cfg": 6.5,
                                                   "sampler_name": "euler", "scheduler": "normal",
                                                   "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
                                                   "negative": ["7", 0], "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": f"portrait of an astronaut {i}", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "ugly, deformed", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    }
    workflow = {"last_node_id": 9, "nodes": [{"id": int(k), "type": v["class_type"]} for k, v in prompt.items()]}
    return json.dumps(prompt), json.dumps(workflow)


def build_set(root: Path, pngs: int, jpegs: int, videos: int) -> Path:
    """The set under root/<version>-..., built once; returns its folder (projects inside)."""
    import numpy as np
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    out = root / f"set-{SET_VERSION}-{pngs}-{jpegs}-{videos}"
    if (out / ".complete").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    for p in PROJECTS:
        (out / "png" / p).mkdir(parents=True)
        (out / "other" / p).mkdir(parents=True)
    t = time.perf_counter()
    for i in range(pngs):
        rng = np.random.default_rng(i)
        img = Image.fromarray(_noisy(rng, 1024, 1024, 44))
        info = PngInfo()
        if i % 2 == 0:
            info.add_text("parameters", _a1111(i))
            name = f"{i:05d}-{1000 + i}.png"
        else:
            prompt, workflow = _comfy(i)
            info.add_text("prompt", prompt)
            info.add_text("workflow", workflow)
            name = f"ComfyUI_{i:05d}_.png"
        img.save(out / "png" / PROJECTS[i % 3] / name, "PNG", pnginfo=info, compress_level=6)
    for i in range(jpegs):
        rng = np.random.default_rng(100_000 + i)
        img = Image.fromarray(_noisy(rng, 4000, 3000, 28))
        exif = Image.Exif()
        exif[0x010F] = "Canon"
        exif[0x0110] = "EOS R6"
        exif.get_ifd(0x8769)[0x9003] = f"2024:05:{1 + i % 28:02d} 10:{i % 60:02d}:00"
        img.save(out / "other" / PROJECTS[i % 3] / f"IMG_{i:04d}.JPG", "JPEG", quality=88, exif=exif)
    if videos:
        import imageio_ffmpeg

        for i in range(videos):
            path = out / "other" / PROJECTS[i % 3] / f"clip_{i:02d}.mp4"
            writer = imageio_ffmpeg.write_frames(str(path), (320, 240), fps=24, quality=6,
                                                 macro_block_size=8, ffmpeg_log_level="error")
            writer.send(None)
            rng = np.random.default_rng(200_000 + i)
            for _ in range(48):
                writer.send(_noisy(rng, 320, 240, 60).tobytes())
            writer.close()
    # The PNG set is also part of the whole set: link it in, no second copy on disk.
    for p in PROJECTS:
        for f in (out / "png" / p).iterdir():
            os.link(f, out / "other" / p / f.name)
    (out / ".complete").write_text("")
    print(f"built the set in {time.perf_counter() - t:.0f} s: {out}", flush=True)
    return out


def set_size(folder: Path) -> tuple[int, int]:
    files = [f for f in folder.rglob("*") if f.is_file()]
    return len(files), sum(f.stat().st_size for f in files)


# -- catalogs and configs ---------------------------------------------------------------------------
@contextmanager
def fresh_database() -> Iterator[str]:
    name = f"alice_ingest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(root: Path, inbox: Path, organized: Path, url: str, **extra) -> dict[str, str]:
    cfg = {"inboxes": [str(inbox)], "organized": str(organized), "data_dir": str(root / "data"),
           "database": {"url": url}, "log": {"level": "warning"}, "socket": str(root / "alice.sock"),
           "watch": {"settle_seconds": 1, "rescan_minutes": 0}, **extra}
    (root / "config.yaml").write_text(yaml.safe_dump(cfg))
    # As a user runs it: Python writes and reuses its .pyc files (this machine sets
    # PYTHONDONTWRITEBYTECODE, which would make every alice start compile its modules).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["ALICE_CONFIG"] = str(root / "config.yaml")
    # Migrations run on the first connection: do them before any clock starts.
    subprocess.run([str(ALICE), "status", "--json"], env=env, capture_output=True, check=True)
    return env


# -- 1. organize vs cp vs exiftool ------------------------------------------------------------------
def has_pixels_option() -> bool:
    """Whether this alice files first and decodes pixels after (`organize --pixels`)."""
    out = subprocess.run([str(ALICE), "organize", "--help"], capture_output=True, text=True).stdout
    return "--pixels" in out


def run_organize(src: Path, work: Path, jobs: int | None, extra: list[str] | None = None,
                 alice: Path | None = None) -> float:
    alice = alice or ALICE
    with fresh_database() as url:
        root = work / f"org-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        env = write_config(root, src, root / "organized", url)
        cmd = [str(alice), "organize", "--copy", "--json"] + (["--jobs", str(jobs)] if jobs else []) + (extra or [])
        t = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True)
        subprocess.run(["sync"], check=True)
        wall = time.perf_counter() - t
        statuses: dict[str, int] = {}
        for line in out.stdout.splitlines():
            s = json.loads(line).get("status")
            statuses[s] = statuses.get(s, 0) + 1
        if out.returncode not in (0, 1) or statuses.get("organized", 0) == 0:
            raise SystemExit(f"alice organize failed ({out.returncode}): {out.stderr[-2000:]}")
        shutil.rmtree(root)
    return wall


def run_cp(src: Path, work: Path) -> float:
    dst = work / f"cp-{uuid.uuid4().hex[:6]}"
    t = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    subprocess.run(["sync"], check=True)
    wall = time.perf_counter() - t
    shutil.rmtree(dst)
    return wall


def run_exiftool(src: Path, work: Path) -> float:
    dst = work / f"exif-{uuid.uuid4().hex[:6]}"
    dst.mkdir()
    t = time.perf_counter()
    subprocess.run(["exiftool", "-q", "-q", "-r", "-o", f"{dst}/", "-d", f"{dst}/%Y-%m-%d",
                    "-Directory<FileModifyDate", str(src)], check=True, capture_output=True)
    subprocess.run(["sync"], check=True)
    wall = time.perf_counter() - t
    shutil.rmtree(dst)
    return wall


def compare(label: str, src: Path, work: Path, rounds: int, jobs: int | None,
            baseline: Path | None = None) -> dict[str, float]:
    n, size = set_size(src)
    have_exiftool = shutil.which("exiftool") is not None
    if not have_exiftool:
        print("exiftool is not installed (apt-get install -y libimage-exiftool-perl): skipping its column")
    walls: dict[str, list[float]] = {"alice organize --copy": [], "cp -r + sync": []}
    later = has_pixels_option()
    if later:
        walls["  ... --pixels later"] = []
    if have_exiftool:
        walls["exiftool dated copy"] = []
    if baseline is not None:
        walls["baseline alice organize"] = []
    for r in range(rounds):
        # Interleaved, so a neighbour's load or the page cache favours no one.
        walls["cp -r + sync"].append(run_cp(src, work))
        if have_exiftool:
            walls["exiftool dated copy"].append(run_exiftool(src, work))
        walls["alice organize --copy"].append(run_organize(src, work, jobs))
        if later:
            walls["  ... --pixels later"].append(run_organize(src, work, jobs, ["--pixels", "later"]))
        if baseline is not None:
            walls["baseline alice organize"].append(run_organize(src, work, None, alice=baseline))
        print(f"  {label} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in walls.items()), flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"\n{label}: {n} files, {size / 1e6:.0f} MB, median of {rounds} interleaved round(s)")
    for k, v in med.items():
        print(f"  {k:24} {v:7.2f} s  {n / v:7.1f} files/s")
    for name in [k for k in med if "alice" in k or "pixels" in k]:
        a = med[name]
        label = ("baseline alice" if "baseline" in name else "alice") if "alice" in name else "alice --pixels later"
        line = f"  {label} / cp {a / med['cp -r + sync']:.2f}x"
        if have_exiftool:
            line += f",  {label} / exiftool {a / med['exiftool dated copy']:.2f}x"
        print(line)
    return med


# -- 2-5. the daemon ---------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    """Peak RSS of a process and its descendants, sampled every 50 ms from /proc."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def _tree(self) -> list[int]:
        kids: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                kids.setdefault(ppid, []).append(int(d))
        out, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            out.append(p)
            todo.extend(kids.get(p, []))
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU the process tree has used so far (its live processes)."""
        total = 0
        for p in self._tree():
            try:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                continue
        return total / os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self.stop.wait(0.05):
            total = 0
            for p in self._tree():
                try:
                    for line in Path(f"/proc/{p}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
            self.peak = max(self.peak, total)


class Daemon:
    def __init__(self, root: Path, url: str, workers: int, quality: bool) -> None:
        self.root = root
        self.inbox = root / "inbox"
        for p in PROJECTS:
            (self.inbox / p).mkdir(parents=True)
        extra = {"workers": workers}
        if quality:
            extra["quality"] = {"enabled": True}
        self.env = write_config(root, self.inbox, root / "organized", url, **extra)
        self.url = url
        self.proc = subprocess.Popen([str(ALICE), "run"], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(root / "daemon.log", "wb"))
        self.rss = RssSampler(self.proc.pid)
        self.rss.start()
        sock = root / "alice.sock"
        deadline = time.time() + 60
        while not sock.exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.rss.stop.set()


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]            # idle + iowait
    total = sum(fields[:8])                 # guest time is already in user
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def server_cpu() -> float:
    """CPU seconds used so far by the machine's postgres processes (the catalog's server)."""
    total = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                head, tail = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)
                if head.endswith("(postgres"):
                    f = tail.split()
                    total += int(f[11]) + int(f[12])
            except (OSError, ValueError, IndexError):
                continue
    return total / os.sysconf("SC_CLK_TCK")


def watch_filed(url: str, expected: set[str], seen: dict[str, float], stop: threading.Event) -> None:
    """Record when each inbox path first shows up as a catalog location (searchable), from another connection."""
    # Only rows near or past the newest one seen (a window, as transactions may become visible
    # out of id order): re-reading every location 100 times a second would put the bench's own
    # load on the two cores alice is measured on.
    last = 0
    with psycopg.connect(url, autocommit=True) as c:
        while not stop.is_set() and len(seen) < len(expected):
            now = time.time()
            for (row_id, path) in c.execute("SELECT id, path FROM locations WHERE id > %s AND role IN "
                                            "('source', 'quarantine-source') ORDER BY id", (last - 256,)):
                last = max(last, row_id)
                if path in expected and path not in seen:
                    seen[path] = now
            time.sleep(0.01)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def stage(src: Path, root: Path) -> list[tuple[Path, Path]]:
    """Copies of the set in a staging folder on the inbox's file system: (staged, inbox path)."""
    pairs = []
    staging = root / "staging"
    for p in PROJECTS:
        (staging / p).mkdir(parents=True)
        for f in sorted((src / p).iterdir()):
            shutil.copy2(f, staging / p / f.name)     # a copy, not a link: the daemon may not touch the set
            pairs.append((staging / p / f.name, root / "inbox" / p / f.name))
    # The copies' 734 MB on their way to the disk: without this the kernel writes them back
    # during the burst, and alice is measured against the bench's own set-up (a third slower
    # in some runs here).
    os.sync()
    time.sleep(1)
    return pairs


def second_stage_rate(url: str, total: int, timeout: float = 600) -> tuple[float, int]:
    """Images per second getting their perceptual hash, from the first to the last one filled."""
    deadline = time.time() + timeout
    first = None
    with psycopg.connect(url, autocommit=True) as c:
        while time.time() < deadline:
            n = c.execute("SELECT count(*) FROM assets WHERE phash IS NOT NULL").fetchone()[0]
            if n and first is None:
                first = (time.time(), n)
            if n >= total:
                break
            time.sleep(0.05)
        n = c.execute("SELECT count(*) FROM assets WHERE phash IS NOT NULL").fetchone()[0]
    if first is None or n <= first[1]:
        return float("nan"), n
    return (n - first[1]) / max(1e-6, time.time() - first[0]), n


def daemon_runs(src: Path, work: Path, workers: int, rate: float, quality: bool) -> None:
    n = sum(1 for _ in src.rglob("*.png"))
    # Throughput: everything renamed into the inbox at once.
    with fresh_database() as url:
        root = work / f"run-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        pairs = stage(src, root)
        d = Daemon(root, url, workers, quality)
        try:
            seen: dict[str, float] = {}
            stop = threading.Event()
            w = threading.Thread(target=watch_filed, args=(url, {str(b) for _, b in pairs}, seen, stop))
            w.start()
            cpu0 = d.rss.cpu_seconds()
            busy0, all0 = machine_cpu()
            pg0 = server_cpu()
            t0 = time.time()
            for a, b in pairs:
                os.rename(a, b)
            w.join(600)
            stop.set()
            cpu = d.rss.cpu_seconds() - cpu0
            busy1, all1 = machine_cpu()
            pg = server_cpu() - pg0
            span = max(seen.values()) - t0 if seen else float("nan")
            print(f"\nalice run: {len(seen)}/{n} PNGs renamed into the inbox at once, searchable after "
                  f"{span:.2f} s: {len(seen) / span:.1f} files/s (workers {workers or os.cpu_count()})", flush=True)
            # Steadier than files/s on a shared machine: the CPU alice spent per file in the burst.
            files = max(1, len(seen))
            print(f"alice run CPU in the burst: {cpu * 1000 / files:.1f} ms per file; the catalog's server "
                  f"{pg * 1000 / files:.1f} ms; the machine was busy {100 * (busy1 - busy0) / max(1e-6, all1 - all0):.0f}% "
                  f"of {os.cpu_count()} cores", flush=True)
            rate2, filled = second_stage_rate(url, n)
            print(f"second stage (perceptual hash{', quality' if quality else ''}): {filled}/{n} images, "
                  f"{rate2:.1f} images/s", flush=True)
        finally:
            d.stop()
        peak_burst = d.rss.peak
        shutil.rmtree(root)
    # Latency: a steady drop rate.
    with fresh_database() as url:
        root = work / f"lat-{uuid.uuid4().hex[:6]}"
        root.mkdir()
        pairs = stage(src, root)
        d = Daemon(root, url, workers, quality)
        try:
            seen = {}
            stop = threading.Event()
            w = threading.Thread(target=watch_filed, args=(url, {str(b) for _, b in pairs}, seen, stop))
            w.start()
            dropped: dict[str, float] = {}
            t0 = time.time()
            for i, (a, b) in enumerate(pairs):
                os.rename(a, b)
                dropped[str(b)] = time.time()
                delay = t0 + (i + 1) / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            w.join(600)
            stop.set()
        finally:
            d.stop()
        lat = [(seen[p] - dropped[p]) * 1000 for p in seen]
        print(f"drop-to-searchable at {rate:g} files/s offered: {len(lat)}/{n} files, latency ms p50 "
              f"{pct(lat, 50):.0f}  p95 {pct(lat, 95):.0f}  p99 {pct(lat, 99):.0f}  max {max(lat):.0f}")
        print(f"peak RSS of the alice run process tree: burst {peak_burst / 2**20:.0f} MB, "
              f"steady {d.rss.peak / 2**20:.0f} MB", flush=True)
        shutil.rmtree(root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pngs", type=int, default=300)
    ap.add_argument("--jpegs", type=int, default=12)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=50.0, help="files/s offered in the latency run")
    ap.add_argument("--workers", type=int, default=0, help="alice run workers (0 = one per core)")
    ap.add_argument("--jobs", type=int, default=None, help="alice organize --jobs (default: its own default)")
    ap.add_argument("--quality", action="store_true", help="turn the local quality stage on in the daemon runs")
    ap.add_argument("--only", choices=("organize", "daemon"), default=None)
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another alice executable (an older checkout's .venv/bin/alice) to interleave with")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "alice-ingest-bench")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: beside the cache)")
    args = ap.parse_args()

    args.cache.mkdir(parents=True, exist_ok=True)
    full = build_set(args.cache, args.pngs, args.jpegs, args.videos)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=args.work or args.cache))
    try:
        print(f"machine: {os.cpu_count()} cores; catalog {ADMIN.rsplit('@', 1)[-1]}", flush=True)
        if args.only in (None, "organize"):
            compare("PNG set", full / "png", work, args.rounds, args.jobs, args.baseline)
            compare("whole set (PNG + JPEG + MP4)", full / "other", work, max(1, args.rounds // 2), args.jobs,
                    args.baseline)
        if args.only in (None, "daemon"):
            daemon_runs(full / "png", work, args.workers, args.rate, args.quality)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
