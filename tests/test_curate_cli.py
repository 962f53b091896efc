"""`alice tag/untag/similar/move` write the catalog and the sidecars; `alice rebuild` reads them back
into an empty catalog with tags, stars and projects intact."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from alice.daemon.api.methods import Hooks, RpcContext, _tag
from alice.daemon.api.paths import PathGuard
from alice.daemon.catalog.engine import Catalog
from alice.daemon.config import load
from alice.pipeline import sidecar
from tests.conftest import fresh_database
from tests.daemon_env import unique_png
from tests.organize_env import AliceEnv


@pytest.fixture
def second_db(pg_admin_url):
    yield from fresh_database(pg_admin_url)


def jlines(proc) -> list[dict]:
    return [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]


def by_content(env: AliceEnv) -> dict[str, dict]:
    found = jlines(env.run("search", "--json", "--limit", "200"))
    return {f["content_id"]: f for f in found if "content_id" in f}


def test_curation_reaches_the_sidecars_and_a_rebuild_from_an_empty_catalog(tmp_path, db_url, second_db):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(layout="{project}/{stars}")
    for project, i in (("cyberpunk", 1), ("cyberpunk", 2), ("portraits", 3)):
        (env.inbox / project).mkdir(parents=True, exist_ok=True)
        (env.inbox / project / f"img{i}.png").write_bytes(unique_png(i, size=48))
    filed = {Path(r["path"]).name: r for r in env.organize_json()}
    a, b, c = (filed[f"img{i}.png"] for i in (1, 2, 3))

    assert jlines(env.run("tag", a["content_id"], "Final", "keeper", "--json"))[0]["tags"] == ["final", "keeper"]
    assert jlines(env.run("untag", a["dest"], "keeper", "--json"))[0]["tags"] == ["final"]
    env.run("rate", a["content_id"], "5")
    moved = jlines(env.run("move", b["content_id"], "client-x", "--json"))[0]
    assert moved["relocation"]["moved"] and "/client-x/" in moved["relocation"]["new_path"]
    # A tag given over the socket (as an assistant does) reaches the sidecar too.
    cfg = load(env.config)
    catalog = Catalog.open(db_url, tmp_path / "data")
    try:
        _tag(RpcContext(cfg=cfg, catalog=catalog, hooks=Hooks(), guard=PathGuard(cfg.roots())),
             c["content_id"], ["from-assistant"])
    finally:
        catalog.close()

    before = by_content(env)
    a_path = Path(before[a["content_id"]]["path"])
    a_side = sidecar.load(sidecar.sidecar_path(a_path).read_text())
    assert a_side.tags == ["final"] and a_side.user_stars == 5
    assert sidecar.load(sidecar.sidecar_path(Path(moved["relocation"]["new_path"])).read_text()).project == "client-x"
    c_side = sidecar.load(sidecar.sidecar_path(Path(before[c["content_id"]]["path"])).read_text())
    assert c_side.tags == ["from-assistant"]

    similar = jlines(env.run("similar", a["content_id"], "--json"))
    assert similar[-1]["summary"]["asset_id"] == before[a["content_id"]]["id"]

    # The catalog is lost: a new, empty database, filled from the tree alone.
    env.db_url = second_db
    env.write_config(layout="{project}/{stars}")
    assert by_content(env) == {}
    rebuilt = jlines(env.run("rebuild", "--json"))
    assert {r["status"] for r in rebuilt} == {"recorded"} and len(rebuilt) == 3, rebuilt
    after = by_content(env)
    keep = ("content_id", "path", "project", "tags", "user_stars", "stars", "tool", "width", "height")
    assert {k: {f: v[f] for f in keep} for k, v in after.items()} == \
           {k: {f: v[f] for f in keep} for k, v in before.items()}
    assert [f["content_id"] for f in jlines(env.run("search", "--tag", "final", "--json")) if "content_id" in f] \
        == [a["content_id"]]
    again = jlines(env.run("rebuild", "--json"))               # idempotent
    assert by_content(env) == after and len(again) == 3


@pytest.mark.parametrize("command", ["tag", "untag", "similar", "move", "rebuild"])
def test_each_curation_command_teaches_in_its_help(tmp_path, db_url, command):
    env = AliceEnv(tmp_path, db_url)
    env.write_config()
    text = env.run(command, "--help").stdout
    assert "--json" in text and ("Example" in text or "sidecar" in text), text
