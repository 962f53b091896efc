"""Every socket method against a real catalog, with files organized by the real organizer."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import text

from alice.daemon.api import protocol as p
from alice.daemon.api.client import RpcCallError, RpcClient
from alice.daemon.api.methods import REGISTRY, Hooks
from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.pipeline import sidecar
from tests.rpc_env import RpcEnv, fill_sample, running_server


@pytest.fixture
def env(catalog: Catalog):
    scans: list = []
    hooks = Hooks(status=lambda: {"inflight": 0, "processed": 7},
                  scan=lambda paths: scans.append(paths) or {"queued": len(paths or [1, 2])})
    with running_server(catalog, hooks, cfg_extra={"layout": "{project}/{stars}"}) as e:
        e.scans = scans           # type: ignore[attr-defined]
        e.assets = fill_sample(e)       # type: ignore[attr-defined]
        yield e


def call(env: RpcEnv, method: str, **params):
    """The result, checked against the method's result schema (what rpc.discover and MCP promise)."""
    with RpcClient(env.sock) as c:
        result = c.call(method, params)
    Draft202012Validator(REGISTRY.methods[method].result).validate(result)
    return result


def error(env: RpcEnv, method: str, **params) -> RpcCallError:
    with pytest.raises(RpcCallError) as err:
        call(env, method, **params)
    return err.value


def test_search_text_filters_and_pages(env: RpcEnv) -> None:
    a = env.assets
    got = call(env, "assets.search", text="cyberpunk fox")
    assert {i["id"] for i in got["items"]} == {a["fox"]["id"], a["fox2"]["id"]}
    assert got["total"] == 2 and got["total_exact"] is True
    assert all(i["path"] and Path(i["path"]).is_file() for i in got["items"])
    # Stemming: "portraits" finds "portrait"; file names are searchable.
    assert call(env, "assets.search", text="portraits")["total"] == 2
    assert [i["id"] for i in call(env, "assets.search", text="IMG 0042")["items"]] == [a["plain"]["id"]]
    assert call(env, "assets.search", tool="a1111", project="fantasy")["total"] == 1
    assert call(env, "assets.search", ai=False)["items"][0]["id"] == a["plain"]["id"]
    assert call(env, "assets.search", seed=1007)["items"][0]["id"] == a["castle"]["id"]
    assert call(env, "assets.search", model="testmodel")["total"] == 3
    assert call(env, "assets.search", content_id=a["castle"]["content_id"])["total"] == 1
    assert call(env, "assets.search", since="2000-01-01", until="2001-01-01")["total"] == 0
    assert call(env, "assets.search", width_min=100, aspect_min=0.9, aspect_max=1.1)["total"] == 4
    # Keyset paging: every asset exactly once.
    seen, cursor = [], None
    while True:
        page = call(env, "assets.search", limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(x["id"] for x in a.values()) and len(seen) == 4
    ranked = call(env, "assets.search", text="rain or neon", sort="relevance")
    assert ranked["items"][0]["id"] == a["fox"]["id"] and ranked["items"][0]["rank"] > ranked["items"][1]["rank"]


def test_search_errors_say_what_to_fix(env: RpcEnv) -> None:
    assert "relevance" in error(env, "assets.search", sort="relevance").message
    assert error(env, "assets.search", cursor="garbage!").code == p.INVALID_PARAMS
    err = error(env, "assets.search", stars_min=4, stars_max=2)
    assert err.code == p.INVALID_PARAMS and "stars_min" in err.message
    assert "since" in error(env, "assets.search", since="yesterday").message
    page = call(env, "assets.search", limit=1)
    err = error(env, "assets.search", limit=1, sort="stars", cursor=page["next_cursor"])
    assert "sort" in err.message


def test_get_generation_and_not_found(env: RpcEnv) -> None:
    fox = env.assets["fox"]
    got = call(env, "assets.get", asset=fox["id"])
    assert got["content_id"] == fox["content_id"] and got["path"] == fox["dest"]
    assert got["generation"]["prompt"].startswith("cyberpunk portrait")
    assert call(env, "assets.get", asset=fox["content_id"])["id"] == fox["id"]
    gen = call(env, "assets.generation", asset=fox["id"])
    assert gen["generation"]["seed"] == 1001 and gen["generation"]["sampler"] == "Euler a"
    assert [o["path"] for o in gen["outputs"]] == [fox["dest"]]
    assert [src["path"] for src in gen["sources"]] == [fox["path"]]
    for method in ("assets.get", "assets.generation", "assets.similar"):
        err = error(env, method, asset=999999)
        assert err.code == p.NOT_FOUND and "assets.search" in err.message
    assert error(env, "assets.get", asset="b3:nope").code == p.NOT_FOUND


def test_similar_finds_the_variant_not_the_others(env: RpcEnv) -> None:
    a = env.assets
    got = call(env, "assets.similar", asset=a["fox"]["id"], max_distance=10)
    ids = [i["id"] for i in got["items"]]
    assert ids[0] == a["fox2"]["id"] and a["castle"]["id"] not in ids
    assert got["items"][0]["distance"] <= 10
    assert error(env, "assets.similar", asset=a["fox"]["id"], max_distance=40).code == p.INVALID_PARAMS


def test_tag_untag_feed_search(env: RpcEnv) -> None:
    castle = env.assets["castle"]["id"]
    assert call(env, "assets.tag", asset=castle, tags=["Keeper", "print "])["tags"] == ["keeper", "print"]
    assert [i["id"] for i in call(env, "assets.search", tags_all=["keeper", "print"])["items"]] == [castle]
    assert call(env, "assets.search", text="keeper")["items"][0]["id"] == castle
    assert call(env, "assets.search", tags_none=["keeper"])["total"] == 3
    assert call(env, "assets.search", tags_any=["print", "nothing"])["total"] == 1
    assert call(env, "assets.untag", asset=castle, tags=["keeper", "never-had"])["tags"] == ["print"]
    assert call(env, "assets.search", text="keeper")["total"] == 0
    assert error(env, "assets.tag", asset=castle, tags=[]).code == p.INVALID_PARAMS


def test_rate_moves_file_and_sidecar_and_user_stars_win(env: RpcEnv) -> None:
    fox = env.assets["fox"]
    old = Path(fox["dest"])
    assert old.parent.name == "unrated"
    got = call(env, "assets.rate", asset=fox["id"], stars=5)
    new = Path(got["relocation"]["new_path"])
    assert got["relocation"]["moved"] and new.parent.name == "5-star" and new.is_file()
    assert not old.exists() and not sidecar.sidecar_path(old).exists()
    rec = sidecar.load(sidecar.sidecar_path(new).read_text())
    assert rec.stars == 5 and rec.organized_path == str(new) and rec.content_id == fox["content_id"]
    detail = call(env, "assets.get", asset=fox["id"])
    assert detail["stars"] == 5 and detail["user_stars"] == 5 and detail["path"] == str(new)
    assert {(loc["path"], loc["present"]) for loc in detail["locations"] if loc["role"] == "organized"} == \
        {(str(old), False), (str(new), True)}
    assert call(env, "assets.search", stars_min=5)["items"][0]["id"] == fox["id"]
    assert call(env, "assets.search", text="fox", sort="stars")["items"][0]["id"] == fox["id"]
    assert error(env, "assets.rate", asset=fox["id"], stars=6).code == p.INVALID_PARAMS
    cleared = call(env, "assets.rate", asset=fox["id"], stars=None)
    assert Path(cleared["relocation"]["new_path"]).parent.name == "unrated"


def test_move_to_project_moves_the_file(env: RpcEnv) -> None:
    castle = env.assets["castle"]
    got = call(env, "assets.move_to_project", asset=castle["id"], project="keepers")
    new = Path(got["relocation"]["new_path"])
    assert new.relative_to(env.cfg.organized).parts[0] == "keepers" and new.is_file()
    assert not Path(castle["dest"]).exists()
    assert call(env, "assets.search", project="keepers")["items"][0]["id"] == castle["id"]
    assert call(env, "projects.get", project="keepers")["assets"] == 1
    assert "folder name" in error(env, "assets.move_to_project", asset=castle["id"], project="a/b").message


def test_projects_and_stats(env: RpcEnv) -> None:
    created = call(env, "projects.create", name="client-x", budget=25)
    assert created["name"] == "client-x" and created["assets"] == 0 and created["budget"] == 25
    assert error(env, "projects.create", name="client-x").code == p.CONFLICT
    names = [pr["name"] for pr in call(env, "projects.list")["projects"]]
    assert names == ["client-x", "cyber", "fantasy"]
    assert call(env, "projects.get", project=created["id"])["name"] == "client-x"
    assert error(env, "projects.get", project="nope").code == p.NOT_FOUND
    st = call(env, "stats", days=7)
    assert st["assets"] == 4 and st["by_tool"] == {"a1111": 3, "unknown": 1}
    assert st["by_project"] == {"cyber": 2, "fantasy": 2} and st["by_stars"] == {"unrated": 4}
    assert sum(st["by_day"].values()) == 4


def test_status_and_scan_hooks_and_roots(env: RpcEnv) -> None:
    st = call(env, "daemon.status")
    assert st["daemon"] == {"inflight": 0, "processed": 7} and st["server"]["connections"] >= 1
    inbox = env.cfg.inboxes[0]
    assert call(env, "organize.scan") == {"queued": 2}
    assert call(env, "organize.scan", paths=[str(inbox / "cyber")]) == {"queued": 1}
    assert env.scans == [None, [str(inbox / "cyber")]]
    for outside in ("/etc", str(env.cfg.organized), str(inbox / ".." / "organized"), "relative/path"):
        err = error(env, "organize.scan", paths=[outside])
        assert err.code == p.OUTSIDE_ROOTS, outside
    link = inbox / "escape"
    link.symlink_to("/etc")
    assert error(env, "organize.scan", paths=[str(link)]).code == p.OUTSIDE_ROOTS


def test_paths_outside_the_roots_are_not_disclosed(env: RpcEnv) -> None:
    fox = env.assets["fox"]
    with env.catalog.session() as s:
        store.add_location(s, fox["id"], "/elsewhere/secret/fox.png", "b3:x", "source")
    got = call(env, "assets.get", asset=fox["id"])
    assert None in [loc["path"] for loc in got["locations"]]
    assert "/elsewhere/secret/fox.png" not in str(got)


def test_events_are_pushed_to_subscribers(env: RpcEnv) -> None:
    with RpcClient(env.sock, timeout=20) as c:
        events = c.events()
        received: list = []

        def read() -> None:
            for ev in events:
                received.append(ev)
                if ev["kind"] == "tagged":
                    return

        reader = threading.Thread(target=read)
        reader.start()
        call(env, "assets.tag", asset=env.assets["plain"]["id"], tags=["sub"])
        reader.join(20)
        assert received and received[-1]["kind"] == "tagged"
        assert received[-1]["asset_id"] == env.assets["plain"]["id"] and received[-1]["data"]["tags"] == ["sub"]
        assert all(ev["kind"] != "organized" for ev in received)     # only what happened after subscribing
    with RpcClient(env.sock) as c:
        with env.catalog.session() as s:
            first = s.execute(text("SELECT min(id) FROM events")).scalar()
        replay = c.events(since=first - 1)
        assert next(replay)["id"] == first


def test_subscribe_is_not_offered_where_there_is_no_connection(env: RpcEnv) -> None:
    assert not REGISTRY.methods["events.subscribe"].mcp
    assert REGISTRY.methods["assets.search"].mcp
