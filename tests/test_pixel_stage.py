"""The pixel stage and the analysis budgets: files are filed first, pixels decoded after,
once, within budgets that pixel bombs cannot get past."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from PIL import Image

from alice.pipeline.pixels import decode_facts
from tests.bombs import gif_bomb, webp_bomb
from tests.daemon_env import DaemonProc, rows, scalar, wait_until
from tests.organize_env import AliceEnv, media_files

GB = 2**30


def noisy_png(seed: int, side: int = 256) -> bytes:
    import random

    img = Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _maxrss_of(code: str) -> tuple[int, str]:
    """Peak RSS (bytes) of a fresh interpreter running `code`, and what it printed."""
    wrapper = code + "\nimport resource\nprint('MAXRSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    rss = int(next(line for line in lines if line.startswith("MAXRSS")).split()[1]) * 1024
    return rss, "\n".join(line for line in lines if not line.startswith("MAXRSS"))


def test_a_webp_bomb_is_skipped_before_anything_is_decoded(tmp_path: Path):
    bomb = webp_bomb(tmp_path / "bomb.webp")
    assert Image.open(bomb).size == (12000, 12000) and bomb.stat().st_size < 6000
    rss, printed = _maxrss_of(
        "from alice.pipeline.pixels import decode_facts\n"
        f"f = decode_facts(open({str(bomb)!r}, 'rb').read(), all_frames=True)\n"
        "print(f.damage, f.perceptual_hash, f.warnings)\n")
    assert printed.startswith("None None"), printed
    assert "over the budget" in printed
    # Decoded, it holds 2.2 GB; Pillow's WebP opener may map part of its canvas already.
    assert rss < GB, f"{rss / 2**20:.0f} MB for a file that was never decoded"


def test_a_gif_bomb_decodes_frames_only_up_to_the_pixel_budget(tmp_path: Path):
    bomb = gif_bomb(tmp_path / "bomb.gif")
    assert Image.open(bomb).n_frames == 200
    facts = decode_facts(bomb.read_bytes(), all_frames=True)
    assert facts.damage is None
    assert 1 <= facts.frames_checked < 200
    assert any("budget" in w for w in facts.warnings), facts.warnings


def test_one_decode_gives_the_same_hash_as_perceptual_hash(tmp_path: Path):
    from alice.pipeline.perceptual import perceptual_hash

    p = tmp_path / "a.png"
    p.write_bytes(noisy_png(3))
    buf = io.BytesIO()
    Image.open(p).convert("RGB").save(buf, "JPEG", quality=90)
    (tmp_path / "a.jpg").write_bytes(buf.getvalue())
    for f in (p, tmp_path / "a.jpg"):
        assert decode_facts(f.read_bytes()).perceptual_hash == perceptual_hash(f)


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config()
    return e


def test_filing_leaves_pixels_for_the_second_stage_which_fills_catalog_and_sidecar(env: AliceEnv):
    (env.inbox / "p").mkdir(parents=True)
    for i in range(3):
        (env.inbox / "p" / f"n{i}.png").write_bytes(noisy_png(i))
    first = env.organize_json("--pixels", "later")
    assert {r["status"] for r in first} == {"organized"}
    assert scalar(env.db_url, "SELECT count(*) FROM assets WHERE pixels_pending AND phash IS NULL") == 3
    for r in first:
        side = yaml.safe_load(Path(r["dest"] + ".yaml").read_text())
        assert side.get("perceptual_hash") is None

    second = env.organize_json()            # nothing to file; the pixel stage runs
    assert {r["status"] for r in second} == {"unchanged"}
    assert scalar(env.db_url, "SELECT count(*) FROM assets WHERE pixels_pending") == 0
    for r in first:
        side = yaml.safe_load(Path(r["dest"] + ".yaml").read_text())
        stored = scalar(env.db_url, "SELECT phash FROM assets WHERE content_id = :c", c=r["content_id"])
        assert side["perceptual_hash"] is not None and side["perceptual_hash"] == stored


def test_organize_files_bombs_with_a_warning_in_bounded_memory(env: AliceEnv, tmp_path: Path):
    (env.inbox / "p").mkdir(parents=True)
    webp_bomb(env.inbox / "p" / "bomb.webp")
    gif_bomb(env.inbox / "p" / "bomb.gif")
    (env.inbox / "p" / "fine.png").write_bytes(noisy_png(1))
    rss, printed = _maxrss_of(
        "import subprocess, sys, json\n"
        f"out = subprocess.run([{str(Path(sys.executable).parent / 'alice')!r}, 'organize', '--json'], "
        f"env={env.env()!r}, capture_output=True, text=True)\n"
        "print(out.stdout)\n"
        "import resource\n"
        "print('CHILDREN', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    results = {Path(r["path"]).name: r for r in map(json.loads, [ln for ln in printed.splitlines()
                                                                 if ln.startswith("{")])}
    children = int(next(ln for ln in printed.splitlines() if ln.startswith("CHILDREN")).split()[1]) * 1024
    assert {n: r["status"] for n, r in results.items()} == {"bomb.webp": "organized", "bomb.gif": "organized",
                                                           "fine.png": "organized"}
    assert children < GB, f"alice organize peaked at {children / 2**20:.0f} MB"
    warnings = dict(rows(env.db_url, "SELECT format, warnings FROM assets"))
    assert any("budget" in w for w in warnings["webp"]), warnings
    assert any("budget" in w for w in warnings["gif"]), warnings


def _tree_rss(pid: int) -> int:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def test_alice_run_stays_under_a_gigabyte_through_a_burst_with_bombs(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(watch={"settle_seconds": 0.5, "rescan_minutes": 0})
    staging = tmp_path / "staging"
    staging.mkdir()
    for i in range(3):
        webp_bomb(staging / f"bomb{i}.webp", side=12000 - i)
    gif_bomb(staging / "bomb.gif")
    for i in range(40):
        (staging / f"n{i}.png").write_bytes(noisy_png(100 + i))
    d = DaemonProc(env)
    peak = 0
    try:
        d.wait_ready()
        for f in sorted(staging.iterdir()):
            os.rename(f, env.inbox / f.name)

        def settled() -> bool:
            nonlocal peak
            peak = max(peak, _tree_rss(d.proc.pid))
            filed = len(media_files(env.organized)) if env.organized.exists() else 0
            pending = scalar(env.db_url, "SELECT count(*) FROM assets WHERE pixels_pending")
            return filed == 44 and pending == 0

        wait_until(settled, 240, interval=0.05, what="the burst filed and its pixels done")
        assert d.proc.poll() is None, d.tail()
    finally:
        if d.proc.poll() is None:
            d.terminate()
    assert peak < GB, f"alice run peaked at {peak / 2**20:.0f} MB"
    assert peak > 20 * 2**20, "the sampler saw no process"
