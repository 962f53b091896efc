"""`alice organize` end to end: the real CLI, a real PostgreSQL, the real corpus."""
from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from alice.daemon.fs.fileops import TEMP_PREFIX
from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash as hash_file
from alice.pipeline.inspect import inspect_file
from tests.corpus_paths import CORPUS
from tests.organize_env import FIXED_MTIME, AliceEnv, labels, media_files, tree_files

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config()
    return e


def catalog_paths(db_url: str, role: str) -> set[str]:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT path FROM locations WHERE role = :r AND present"), {"r": role})
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def test_corpus_is_filed_by_project_date_and_tool(env: AliceEnv):
    placed = env.drop_corpus()
    results = {Path(r["path"]).name: r for r in env.organize_json()}
    assert set(results) == set(placed)
    by_file = {lab["file"]: lab for lab in labels()}
    fixed_day = datetime.fromtimestamp(FIXED_MTIME).strftime("%Y-%m-%d")

    for name, r in results.items():
        lab = by_file[name]
        if lab.get("bad"):
            assert r["status"] == "quarantined", (name, r)
            q = Path(r["dest"])
            assert q.parent == env.organized / ".quarantine"
            assert q.read_bytes() == placed[name].read_bytes()
            assert "reason:" in q.with_name(q.name + ".reason.txt").read_text()
            continue
        assert r["status"] == "organized", (name, r)
        dest = Path(r["dest"])
        rel = dest.relative_to(env.organized).parts
        assert len(rel) == 4, rel
        day, project, tool, fname = rel
        assert DATE.match(day)
        assert project == placed[name].parent.name
        allowed = set(lab.get("family") or []) | {lab.get("tool") or "unknown"}
        assert tool in allowed, (name, tool, allowed)
        assert fname == name
        assert dest.read_bytes() == placed[name].read_bytes()
        rec = sidecar.load(sidecar.sidecar_path(dest).read_text())
        assert rec.content_id == r["content_id"]
        assert rec.project == project and rec.tool_folder == tool
        assert rec.source_path == str(placed[name])
        assert rec.file_hash == hash_file(dest)
        stated = inspect_file(placed[name]).created_at
        assert day == (stated.strftime("%Y-%m-%d") if stated else fixed_day), (name, day, stated)
        assert rec.created_at.strftime("%Y-%m-%d") == day

    # catalog == tree
    organized = {str(p) for p in media_files(env.organized)}
    assert catalog_paths(env.db_url, "organized") == organized
    quarantined = {str(p) for rel, p in tree_files(env.organized).items()
                   if rel.startswith(".quarantine") and not rel.endswith(".reason.txt")}
    assert catalog_paths(env.db_url, "quarantine") == quarantined
    # copy mode: the inbox is untouched
    assert all(p.exists() for p in placed.values())


def test_second_run_changes_nothing(env: AliceEnv):
    env.drop_corpus()
    env.organize_json()
    before = {rel: (p.stat().st_mtime_ns, p.stat().st_size) for rel, p in tree_files(env.organized).items()}
    again = env.organize_json()
    assert {r["status"] for r in again} == {"unchanged"}
    after = {rel: (p.stat().st_mtime_ns, p.stat().st_size) for rel, p in tree_files(env.organized).items()}
    assert after == before
    text = env.run("organize").stdout
    assert "Nothing changed" in text


def test_duplicates_become_locations_not_copies(env: AliceEnv, tmp_path):
    src = CORPUS / "comfyui-flux-dev.png"
    (env.inbox / "a").mkdir(parents=True)
    (env.inbox / "b").mkdir(parents=True)
    (env.inbox / "a" / "one.png").write_bytes(src.read_bytes())
    (env.inbox / "b" / "two.png").write_bytes(src.read_bytes())
    results = env.organize_json()
    assert sorted(r["status"] for r in results) == ["duplicate", "organized"]
    assert len(media_files(env.organized)) == 1
    assert len(catalog_paths(env.db_url, "source")) == 2


def test_name_clash_never_overwrites(env: AliceEnv):
    corpus = CORPUS
    (env.inbox / "p").mkdir(parents=True)
    (env.inbox / "p" / "img.png").write_bytes((corpus / "tiny-no-metadata.png").read_bytes())
    os.utime(env.inbox / "p" / "img.png", (FIXED_MTIME, FIXED_MTIME))
    env.organize_json()
    # same name, same project, same day, same tool folder, different content
    (env.inbox / "p" / "img.png").unlink()
    (env.inbox / "p" / "img.png").write_bytes((corpus / "jpeg-named-png.png").read_bytes())
    os.utime(env.inbox / "p" / "img.png", (FIXED_MTIME, FIXED_MTIME))
    env.organize_json()
    files = sorted(p.name for p in media_files(env.organized))
    assert len(files) == 2
    assert "img.png" in files
    assert any(re.match(r"img-[0-9a-f]{6}\.png$", f) for f in files), files


def test_dry_run_changes_nothing(env: AliceEnv):
    env.drop_corpus()
    results = env.organize_json("--dry-run")
    assert {r["status"] for r in results} <= {"planned", "quarantined"}
    assert not env.organized.exists() or not tree_files(env.organized)


def test_move_mode_empties_the_inbox_and_keeps_every_byte(env: AliceEnv):
    placed = env.drop_corpus()
    hashes = {hash_file(p) for p in placed.values()}
    env.organize_json("--move")
    left = [p for p in env.inbox.rglob("*") if p.is_file()]
    assert left == []
    filed = {hash_file(p) for rel, p in tree_files(env.organized).items()
             if not rel.endswith((".yaml", ".reason.txt"))}
    assert hashes <= filed
    assert not [p for p in tree_files(env.organized) if Path(p).name.startswith(TEMP_PREFIX)]


def test_hostile_project_names_stay_inside_the_tree(env: AliceEnv):
    corpus = CORPUS
    for name in ("...", "CON", " spaces ", "new\nline", "x" * 200, "-rf"):
        d = env.inbox / name
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{len(name)}.png").write_bytes((corpus / "a1111-cropped.png").read_bytes())
    results = env.organize_json()
    for r in results:
        dest = Path(r["dest"]).resolve()
        assert env.organized.resolve() in dest.parents
        for part in dest.relative_to(env.organized.resolve()).parts:
            assert "\n" not in part and len(part.encode()) <= 255


def test_files_outside_inboxes_are_refused(env: AliceEnv, tmp_path):
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes(b"\x89PNG")
    proc = env.run("organize", str(outside), check=False)
    assert proc.returncode == 2
    assert "not inside a configured inbox" in proc.stderr


def test_bad_config_exits_2_with_the_key(env: AliceEnv):
    env.config.write_text(env.config.read_text() + "\nmdoe: move\n")
    proc = env.run("organize", check=False)
    assert proc.returncode == 2
    assert "unknown key 'mdoe'" in proc.stderr and "mode" in proc.stderr


def test_embedded_catalog_from_init_to_second_run(tmp_path):
    """The README path: no server configured, `alice init`, organize, organize again."""
    import json
    import tempfile

    # data_dir outside pytest's 0700 tmp root: as root the embedded server runs as "pgserver".
    data_dir = Path(tempfile.mkdtemp(prefix="alice-embedded-")) / "data"
    env = AliceEnv(tmp_path, "")
    proc = env.run("init", "--inbox", str(env.inbox), "--organized", str(env.organized),
                   "--data-dir", str(data_dir), "--json")
    info = json.loads(proc.stdout)
    assert info["config_written"] and "host=" in info["catalog"]
    env.drop_corpus()
    first = env.organize_json()
    assert {r["status"] for r in first} == {"organized", "quarantined"}
    second = env.organize_json()
    assert {r["status"] for r in second} == {"unchanged"}
    status = json.loads(env.run("status", "--json").stdout)
    assert status["embedded"] is True
    assert status["assets"] == len({r["content_id"] for r in first})
    # the last user stopped the server: nothing listens on its socket any more
    assert not list((data_dir / "pg").glob(".s.PGSQL.*"))


def test_filed_images_carry_a_perceptual_hash_for_similar_search(env: AliceEnv):
    import io

    from PIL import Image

    from alice.daemon.catalog import similar
    from alice.daemon.catalog.engine import Catalog

    src = CORPUS / "comfyui-flux-dev.png"
    (env.inbox / "p").mkdir(parents=True)
    (env.inbox / "p" / "orig.png").write_bytes(src.read_bytes())
    buf = io.BytesIO()
    Image.open(src).convert("RGB").save(buf, "JPEG", quality=70)         # a re-encoded variant
    (env.inbox / "p" / "variant.jpg").write_bytes(buf.getvalue())
    results = {Path(r["path"]).name: r for r in env.organize_json()}
    assert {r["status"] for r in results.values()} == {"organized"}
    catalog = Catalog.open(env.db_url, env.root / "data")
    try:
        with catalog.session() as s:
            from alice.daemon.catalog import store

            orig = store.asset_by_content_id(s, results["orig.png"]["content_id"])
            phash = s.execute(sa.text("SELECT phash FROM assets WHERE id = :i"), {"i": orig.id}).scalar()
            assert phash is not None
            found = similar.similar_to_hash(s, phash, max_distance=6, limit=10, exclude_id=orig.id)
            variant = store.asset_by_content_id(s, results["variant.jpg"]["content_id"])
    finally:
        catalog.close()
    assert variant.id != orig.id
    assert [m.asset_id for m in found] == [variant.id]


def test_events_follow_live_and_catch_up(env: AliceEnv):
    import json
    import subprocess
    import time

    from tests.organize_env import ALICE

    corpus = CORPUS
    (env.inbox / "p").mkdir(parents=True)
    (env.inbox / "p" / "a.png").write_bytes((corpus / "a1111-cropped.png").read_bytes())
    env.organize_json()
    caught_up = [json.loads(x) for x in env.run("events", "--no-follow", "--json").stdout.splitlines()]
    assert [e["kind"] for e in caught_up] == ["organized"]
    assert caught_up[0]["path"].endswith("/p/a1111/a.png")

    follower = subprocess.Popen([str(ALICE), "events", "--json", "--since", str(caught_up[-1]["id"])],
                                env=env.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)   # let it LISTEN
        (env.inbox / "p" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        env.organize_json()
        line = follower.stdout.readline()
        live = json.loads(line)
        assert live["kind"] == "quarantined" and live["data"]["source"].endswith("bad.png")
    finally:
        follower.terminate()
        follower.wait(10)
