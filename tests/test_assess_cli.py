"""`alice assess` and `alice rate` end to end: the real CLI, a real PostgreSQL, star folders."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from PIL import Image, ImageFilter

from alice.daemon.fs.fileops import TEMP_PREFIX
from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash as hash_file
from tests.fakes.anthropic import FakeAnthropic
from tests.organize_env import CORPUS, AliceEnv, media_files

SOURCE = CORPUS / "comfyui-flux-dev.png"
STAR_DIR = re.compile(r"^(\d)-star$")


def make_images(folder: Path) -> dict[str, Path]:
    """A sharp image (technical ~78: 4 stars by default) and a ruined one (~8: 1 star)."""
    folder.mkdir(parents=True, exist_ok=True)
    img = Image.open(SOURCE).convert("RGB").resize((512, 512))
    good, blurred = folder / "good.png", folder / "blurred.png"
    img.save(good)
    img.filter(ImageFilter.GaussianBlur(6)).save(blurred)
    return {"good": good, "blurred": blurred}


def lines(proc) -> list[dict]:
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def rows(db_url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql))]
    finally:
        engine.dispose()


def assert_tree_matches_catalog(env: AliceEnv) -> dict[str, tuple]:
    """Every present organized location is a file in the tree and vice versa; each file sits
    in the folder of its effective stars and its sidecar says the same. Returns name -> row."""
    catalog = rows(env.db_url, "SELECT l.path, a.stars, a.user_stars, a.rating, a.quality_score, a.content_id "
                               "FROM locations l JOIN assets a ON a.id = l.asset_id "
                               "WHERE l.role = 'organized' AND l.present")
    on_disk = {str(p) for p in media_files(env.organized)}
    assert {r[0] for r in catalog} == on_disk
    assert not [p for p in env.organized.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    out = {}
    for path, stars, user_stars, rating, score, cid in catalog:
        p = Path(path)
        assert STAR_DIR.match(p.parent.name) and int(p.parent.name[0]) == rating, (path, rating)
        rec = sidecar.load(sidecar.sidecar_path(p).read_text())
        assert rec.stars == rating and rec.content_id == cid
        assert rec.quality is not None and rec.quality["score"] == pytest.approx(score)
        out[p.name] = (path, stars, user_stars, rating, score, cid)
    return out


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(layout="{project}/{stars}", quality={"enabled": True})
    return e


def organized(env: AliceEnv) -> dict[str, tuple]:
    make_images(env.inbox / "shoot")
    assert {r["status"] for r in env.organize_json()} == {"organized"}
    return assert_tree_matches_catalog(env)


def test_assess_paths_scores_without_catalog_or_changes(tmp_path) -> None:
    images = make_images(tmp_path / "loose")
    before = {p: (hash_file(p), p.stat().st_mtime_ns) for p in images.values()}
    e = AliceEnv(tmp_path, "postgresql://postgres@127.0.0.1:1/unreachable")
    e.write_config()
    proc = e.run("assess", "--json", str(tmp_path / "loose"))
    out = {Path(r["path"]).name: r for r in lines(proc)}
    assert set(out) == {"good.png", "blurred.png"}
    assert out["good.png"]["stars"] == 4 and out["blurred.png"]["stars"] == 1
    measures = out["good.png"]["stages"]["technical"]["measures"]
    assert {"sharpness", "exposure", "noise"} <= set(measures)
    assert out["blurred.png"]["stages"]["technical"]["measures"]["sharpness"] < measures["sharpness"]
    assert {p: (hash_file(p), p.stat().st_mtime_ns) for p in images.values()} == before
    assert not (tmp_path / "organized").exists()


def test_assess_bad_stage_name_is_a_usage_error(env: AliceEnv, tmp_path) -> None:
    images = make_images(tmp_path / "loose")
    proc = env.run("assess", "--stages", "technical,vision:midjourney", str(images["good"]), check=False)
    assert proc.returncode == 2 and "vision stages run on anthropic, openai" in proc.stderr


def test_apply_moves_files_to_new_star_folders_and_updates_sidecars(env: AliceEnv) -> None:
    first = organized(env)
    assert first["good.png"][3] == 4 and first["blurred.png"][3] == 1
    env.write_config(layout="{project}/{stars}", quality={"enabled": True, "star_thresholds": [5, 10, 15, 20]})
    reports = {Path(r["path"]).name: r for r in lines(env.run("assess", "--project", "shoot", "--apply", "--json"))}
    assert reports["good.png"]["status"] == "moved" and reports["good.png"]["stars"] == 5
    assert reports["blurred.png"]["status"] == "moved" and reports["blurred.png"]["stars"] == 2
    after = assert_tree_matches_catalog(env)
    assert Path(after["good.png"][0]).parent.name == "5-star"
    assert Path(after["blurred.png"][0]).parent.name == "2-star"
    assert not list((env.organized / "shoot" / "4-star").glob("*.png"))
    # Nothing to change: a second run moves nothing.
    again = lines(env.run("assess", "--project", "shoot", "--apply", "--json"))
    assert {r["status"] for r in again} == {"reassessed"}
    assert assert_tree_matches_catalog(env) == after


def test_user_rating_wins_and_survives_reassessment(env: AliceEnv) -> None:
    first = organized(env)
    cid = first["good.png"][5]
    rated = json.loads(env.run("rate", cid, "2", "--json").stdout)
    assert rated["moved"] and rated["stars"] == 2 and rated["user_stars"] == 2 and rated["computed_stars"] == 4
    assert Path(rated["path"]).parent.name == "2-star"
    env.write_config(layout="{project}/{stars}", quality={"enabled": True, "star_thresholds": [5, 10, 15, 20]})
    reports = {Path(r["path"]).name: r for r in lines(env.run("assess", "--project", "shoot", "--apply", "--json"))}
    assert reports["good.png"]["computed_stars"] == 5 and reports["good.png"]["stars"] == 2
    after = assert_tree_matches_catalog(env)
    _path, stars, user_stars, rating, _score, _cid = after["good.png"]
    assert (stars, user_stars, rating) == (5, 2, 2)
    # Rating by path works too; 0 clears the rating and the computed stars decide again.
    cleared = json.loads(env.run("rate", after["good.png"][0], "0", "--json").stdout)
    assert cleared["user_stars"] is None and cleared["stars"] == 5 and cleared["moved"]
    assert_tree_matches_catalog(env)


def test_apply_killed_at_every_step_then_rerun_is_consistent(env: AliceEnv) -> None:
    first = organized(env)
    env.write_config(layout="{project}/{stars}", quality={"enabled": True, "star_thresholds": [5, 10, 15, 20]})
    hashes = {name: hash_file(Path(row[0])) for name, row in first.items()}
    killed = 0
    for n in range(1, 8):
        proc = env.run("assess", "--project", "shoot", "--apply", "--json", check=False, ALICE_CRASH_AT=str(n))
        killed += proc.returncode == -9
        present = {p.name: hash_file(p) for p in media_files(env.organized)}
        assert all(present.get(name) == h for name, h in hashes.items()), f"a file was lost at checkpoint {n}"
    assert killed >= 3
    env.run("assess", "--project", "shoot", "--apply", "--json")
    after = assert_tree_matches_catalog(env)
    assert sorted(Path(r[0]).parent.name for r in after.values()) == ["2-star", "5-star"]


def test_paid_vision_stage_through_the_cli_is_cached(env: AliceEnv, tmp_path) -> None:
    images = make_images(tmp_path / "loose")
    with FakeAnthropic() as fake:
        env.write_config(layout="{project}/{stars}", quality={"enabled": True},
                         providers={"anthropic": {"base_url": fake.url, "api_key": fake.api_key}})
        args = ("assess", "--json", "--stages", "technical,vision:anthropic", "--project", "shoot",
                str(images["good"]), str(images["blurred"]))
        first = {Path(r["path"]).name: r for r in lines(env.run(*args))}
        assert first["good.png"]["stages"]["vision:anthropic"]["score"] == 64
        assert "vision:anthropic" not in first["blurred.png"]["stages"]      # gated out at 60
        assert fake.count("messages") == 1
        second = {Path(r["path"]).name: r for r in lines(env.run(*args))}
        assert fake.count("messages") == 1
        assert second["good.png"]["stages"]["vision:anthropic"]["cached"] is True
        assert second["good.png"]["score"] == first["good.png"]["score"]
    spent = rows(env.db_url, "SELECT sum(cost_usd) FROM generation_requests WHERE state = 'done'")
    assert str(spent[0][0]) == "0.0016"
    assert yaml.safe_load(env.config.read_text())["quality"]["enabled"] is True


def test_filing_runs_the_paid_stages_of_quality_stages(env: AliceEnv) -> None:
    with FakeAnthropic() as fake:
        fake.vision_text = '{"score": 10, "defects": ["melted hands"], "tags": ["portrait"]}'
        env.write_config(layout="{project}/{stars}",
                         quality={"enabled": True, "stages": ["technical", "vision:anthropic"]},
                         providers={"anthropic": {"base_url": fake.url, "api_key": fake.api_key}})
        make_images(env.inbox / "shoot")
        assert {r["status"] for r in env.organize_json()} == {"organized"}
        assert fake.count("messages") == 1          # the blurred file never passed the technical gate
    filed = assert_tree_matches_catalog(env)
    # Technical ~78 alone is 4 stars; the vision rating of 10 pulls the mean to ~44: 2 stars.
    assert Path(filed["good.png"][0]).parent.name == "2-star"
    assert Path(filed["blurred.png"][0]).parent.name == "1-star"
    rec = sidecar.load(sidecar.sidecar_path(Path(filed["good.png"][0])).read_text())
    assert rec.quality["vision:anthropic"]["defects"] == ["melted hands"]
    assert rec.quality["technical"]["score"] > 60


def test_apply_with_a_vision_stage_keeps_its_answer_and_tags(env: AliceEnv) -> None:
    organized(env)
    with FakeAnthropic() as fake:
        env.write_config(layout="{project}/{stars}", quality={"enabled": True},
                         providers={"anthropic": {"base_url": fake.url, "api_key": fake.api_key}})
        args = ("assess", "--project", "shoot", "--apply", "--json", "--stages", "technical,vision:anthropic")
        first = {Path(r["path"]).name: r for r in lines(env.run(*args))}
        again = {Path(r["path"]).name: r for r in lines(env.run(*args))}
        assert fake.count("messages") == 1
    assert first["good.png"]["stages"]["vision:anthropic"]["score"] == 64
    assert again["good.png"]["stages"]["vision:anthropic"]["cached"] is True
    assert again["good.png"]["score"] == first["good.png"]["score"]
    filed = assert_tree_matches_catalog(env)
    rec = sidecar.load(sidecar.sidecar_path(Path(filed["good.png"][0])).read_text())
    assert rec.quality["vision:anthropic"]["defects"] == ["extra fingers", "garbled text"]
    tags = rows(env.db_url, "SELECT t.name, at.source FROM asset_tags at JOIN tags t ON t.id = at.tag_id "
                            "ORDER BY t.name")
    assert tags == [("neon", "vision"), ("portrait", "vision")]


def test_assess_reports_an_unreadable_file_and_exits_1(tmp_path) -> None:
    images = make_images(tmp_path / "loose")
    (tmp_path / "loose" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    e = AliceEnv(tmp_path, "postgresql://postgres@127.0.0.1:1/unreachable")
    e.write_config()
    proc = e.run("assess", "--json", str(tmp_path / "loose"), check=False)
    assert proc.returncode == 1
    out = {Path(r["path"]).name: r for r in lines(proc)}
    assert out["broken.png"]["stars"] is None and out["broken.png"]["error"]
    assert out["good.png"]["stars"] == 4 and images["good"].exists()
