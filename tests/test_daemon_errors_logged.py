"""Class 10 of issue 11: a full disk is reported in the daemon's own log, naming the path."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.daemon_env import DaemonProc, unique_png, wait_until
from tests.organize_env import AliceEnv


@pytest.fixture
def small_tree(tmp_path):
    """A 1 MB tmpfs as the organized tree (needs root and mount; skipped otherwise)."""
    mnt = tmp_path / "organized"
    mnt.mkdir()
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if got.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {got.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_is_logged_by_the_daemon_with_the_path(tmp_path, db_url, small_tree) -> None:
    env = AliceEnv(tmp_path, db_url)
    env.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                     queue={"lease_seconds": 10, "max_attempts": 2}, log={"json": True})
    (env.inbox / "proj").mkdir(parents=True)
    big = env.inbox / "proj" / "noise.png"
    big.write_bytes(unique_png(1, size=800))        # ~1.9 MB of noise: cannot fit in 1 MB
    assert big.stat().st_size > 1 << 20
    d = DaemonProc(env, "full")
    try:
        d.wait_ready()
        wait_until(lambda: "no space left" in d.tail(200_000), 60, what="a disk-full line in the daemon log")
    finally:
        assert d.terminate() == 0
    lines = [json.loads(x) for x in (tmp_path / "daemon-full.log").read_text().splitlines() if x.startswith("{")]
    full = [x for x in lines if "no space left" in str(x.get("error", ""))]
    assert full, lines[-5:]
    assert full[0]["level"] == "error"
    assert str(big) in full[0]["path"]
    assert str(small_tree) in full[0]["error"]         # where the disk is full, not only which file
    assert big.exists(), "the source stays in the inbox for a retry"
