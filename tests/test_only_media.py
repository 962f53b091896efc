"""Class 7 of issue 11: only media are assets. Notes and archives stay where they are, reported;
a file whose name claims media its bytes are not is quarantined; search returns media only."""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pytest

from tests.daemon_env import DaemonProc, rows, unique_png, wait_until
from tests.organize_env import AliceEnv, media_files


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                   queue={"lease_seconds": 10, "max_attempts": 3}, log={"json": True})
    return e


def a_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "hello")
    return buf.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def fill(env: AliceEnv) -> dict[str, Path]:
    proj = env.inbox / "proj"
    proj.mkdir(parents=True, exist_ok=True)
    files = {
        "noise.png": os.urandom(4096),
        "archive.png": a_zip(),
        "paper.png": PDF,
        "note.txt": b"remember: the fox prompt worked best with cfg 7\n",
        "bundle.zip": a_zip(),
        "real.png": unique_png(7),
    }
    out = {}
    for name, data in files.items():
        (proj / name).write_bytes(data)
        out[name] = proj / name
    return out


def test_organize_files_media_only(env: AliceEnv) -> None:
    placed = fill(env)
    got = env.run("organize", "--move", "--json", check=False)
    assert got.returncode == 0, got
    by_name = {Path(r["path"]).name: r for r in map(json.loads, got.stdout.splitlines())}
    for name in ("noise.png", "archive.png", "paper.png"):
        r = by_name[name]
        assert r["status"] == "quarantined", r
        assert "named as image" in r["reason"] and "not image" in r["reason"], r
        assert Path(r["dest"]).parent == env.organized / ".quarantine"
    for name in ("note.txt", "bundle.zip"):
        r = by_name[name]
        assert r["status"] == "not-media", r
        assert "left where it is" in r["reason"]
        assert placed[name].exists(), "move mode must leave non-media where they are"
    assert by_name["real.png"]["status"] == "organized"
    assert [p.name for p in media_files(env.organized)] == ["real.png"]
    text = env.run("organize", check=False)
    assert "not-media" in text.stderr and "note.txt" in text.stderr
    # Search finds the one real image and nothing else.
    found = env.run("search", "--json", check=False)
    items = [x for x in map(json.loads, found.stdout.splitlines()) if "summary" not in x]
    assert [Path(i["path"]).name for i in items if i["path"]] == ["real.png"], items
    assert all(i["media"] in ("image", "video", "audio") for i in items)


def test_the_daemon_reports_non_media_in_status_and_log(env: AliceEnv, tmp_path) -> None:
    d = DaemonProc(env, "media")
    try:
        d.wait_ready()
        placed = fill(env)
        wait_until(lambda: rows(env.db_url, "SELECT count(*) FROM jobs WHERE state = 'done'")[0][0] >= len(placed),
                   60, what="every file handled")
        status = json.loads(env.run("status", "--json").stdout)
        text = env.run("status").stdout
    finally:
        assert d.terminate() == 0
    left = {Path(x["path"]).name for x in status["not_media"]}
    assert left == {"note.txt", "bundle.zip"}, status["not_media"]
    assert "not media, left in the inbox" in text and "note.txt" in text
    log = [json.loads(x) for x in (tmp_path / "daemon-media.log").read_text().splitlines() if x.startswith("{")]
    assert {Path(x["path"]).name for x in log if x.get("status") == "not-media"} == {"note.txt", "bundle.zip"}
    assert placed["note.txt"].exists() and placed["bundle.zip"].exists()
    assert [p.name for p in media_files(env.organized)] == ["real.png"]
    assert rows(env.db_url, "SELECT count(*) FROM assets WHERE media NOT IN ('image', 'video', 'audio') "
                            "AND id NOT IN (SELECT asset_id FROM locations WHERE role = 'quarantine')")[0][0] == 0
