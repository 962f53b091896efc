"""Class 5 of issue 11: names that are not valid UTF-8 are filed under a safe name, the original
bytes kept (escaped) in the sidecar and the catalog; one bad name never stops a run or a scan."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from alice.pipeline import sidecar
from tests.daemon_env import DaemonProc, rows, unique_png, wait_until
from tests.organize_env import AliceEnv, media_files

BAD = b"caf\xe9-\xff.png"          # Latin-1 é and a byte no encoding uses


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                   queue={"lease_seconds": 10, "max_attempts": 3}, log={"json": True})
    return e


def drop(env: AliceEnv, name: bytes, data: bytes) -> bytes:
    folder = os.fsencode(env.inbox / "proj")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_organize_files_a_non_utf8_name_under_a_safe_name_and_goes_on(env: AliceEnv) -> None:
    drop(env, b"a-first.png", unique_png(1))
    bad = drop(env, BAD, unique_png(2))
    drop(env, b"z-last.png", unique_png(3))
    got = env.run("organize", "--json")
    results = [json.loads(x) for x in got.stdout.splitlines()]
    assert [r["status"] for r in results] == ["organized"] * 3, results
    by_name = {Path(r["path"]).name: r for r in results}
    shown = "caf\\xe9-\\xff.png"
    assert shown in by_name, by_name.keys()
    dest = Path(by_name[shown]["dest"])
    assert dest.name == "caf_-_.png" and dest.read_bytes() == unique_png(2)
    dest.name.encode("utf-8")                       # a valid UTF-8 name in the tree
    rec = sidecar.load(sidecar.sidecar_path(dest).read_text(encoding="utf-8"))
    assert os.fsencode(rec.source_path) == bad      # the original bytes, escaped in the YAML
    assert any(shown in w for w in rec.warnings)
    assert rows(env.db_url, "SELECT count(*) FROM locations WHERE path LIKE '%caf\\\\xe9-\\\\xff.png'")[0][0] == 1
    # The text output and a second run do not trip over the name either.
    again = env.run("organize")
    assert "3 files" in again.stdout and "Nothing changed" in again.stdout, again.stdout
    moved = env.run("organize", "--move", "--json")
    assert all(json.loads(x)["status"] == "unchanged" for x in moved.stdout.splitlines())
    assert not os.path.exists(bad), "move mode finishes the move for the bad name too"


def test_the_daemon_files_a_non_utf8_name_without_rescanning_forever(env: AliceEnv, tmp_path) -> None:
    d = DaemonProc(env, "names")
    try:
        d.wait_ready()
        drop(env, BAD, unique_png(4))
        drop(env, b"ok.png", unique_png(5))
        wait_until(lambda: len(media_files(env.organized)) == 2 if env.organized.exists() else False, 60,
                   what="both files filed")
        time.sleep(5)                                   # long enough for a rescan loop to show
    finally:
        assert d.terminate() == 0
    log = (tmp_path / "daemon-names.log").read_text(errors="replace")
    scans = [x for x in log.splitlines() if "reconciliation scan done" in x]
    assert len(scans) <= 2, f"{len(scans)} scans in ~6 s: the inboxes are rescanned in a loop"
    assert "Traceback" not in log
    names = sorted(p.name for p in media_files(env.organized) if p.suffix == ".png")
    assert names == ["caf_-_.png", "ok.png"]
