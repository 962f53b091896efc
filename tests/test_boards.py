"""Boards over the socket and the CLI: order, notes, removal, and exports that never overwrite."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from alice.daemon.api import protocol as p
from alice.daemon.api.client import RpcCallError, RpcClient
from alice.daemon.api.methods import REGISTRY
from alice.daemon.catalog.engine import Catalog
from alice.daemon.cli.main import main
from alice.pipeline.identity import file_hash
from tests.rpc_env import RpcEnv, fill_sample, running_server


@pytest.fixture
def env(catalog: Catalog):
    with running_server(catalog) as e:
        e.assets = fill_sample(e)       # type: ignore[attr-defined]
        yield e


def call(env: RpcEnv, method: str, **params):
    with RpcClient(env.sock) as c:
        result = c.call(method, params)
    Draft202012Validator(REGISTRY.methods[method].result).validate(result)
    return result


def code_of(env: RpcEnv, method: str, **params) -> tuple[int, str]:
    with RpcClient(env.sock) as c, pytest.raises(RpcCallError) as err:
        c.call(method, params)
    return err.value.code, err.value.message


def test_items_keep_their_order_and_notes(env: RpcEnv) -> None:
    a = env.assets
    first = call(env, "boards.add", board="picks", assets=[a["castle"]["id"], a["fox"]["content_id"]],
                 note="warm light")
    assert first["added"] == [a["castle"]["id"], a["fox"]["id"]] and first["items"] == 2
    again = call(env, "boards.add", board="picks", assets=[a["plain"]["id"], a["castle"]["id"]], note="keep")
    assert again["added"] == [a["plain"]["id"]] and again["already_there"] == [a["castle"]["id"]]

    got = call(env, "boards.get", board="picks")
    assert [i["id"] for i in got["items"]] == [a["castle"]["id"], a["fox"]["id"], a["plain"]["id"]]
    assert [i["position"] for i in got["items"]] == [1, 2, 3]
    assert [i["note"] for i in got["items"]] == ["keep", "warm light", "keep"]
    assert got["items"][0]["path"] == a["castle"]["dest"] and got["items"][0]["prompt"].startswith("watercolor")

    removed = call(env, "boards.remove", board="picks", assets=[a["fox"]["id"]])
    assert removed == {"board": "picks", "removed": [a["fox"]["id"]], "items": 2}
    assert [i["position"] for i in call(env, "boards.get", board="picks")["items"]] == [1, 2]
    call(env, "boards.create", name="empty-one", description="later")
    listed = {b["name"]: b["items"] for b in call(env, "boards.list")["boards"]}
    assert listed == {"picks": 2, "empty-one": 0}
    assert code_of(env, "boards.create", name="picks")[0] == p.CONFLICT
    assert code_of(env, "boards.get", board="nope")[0] == p.NOT_FOUND
    assert code_of(env, "boards.add", board="picks", assets=[999999])[0] == p.NOT_FOUND
    assert code_of(env, "boards.add", board="a/b", assets=[a["fox"]["id"]])[0] == p.INVALID_PARAMS
    assert call(env, "boards.delete", board="picks")["items"] == 2
    assert [b["name"] for b in call(env, "boards.list")["boards"]] == ["empty-one"]


def test_export_links_and_copies_with_sidecars_and_never_overwrites(env: RpcEnv) -> None:
    a = env.assets
    call(env, "boards.add", board="picks", assets=[a["fox"]["id"], a["castle"]["id"]], note="why")
    links = env.cfg.data_dir / "out-links"
    out = call(env, "boards.export", board="picks", dest=str(links))
    assert out["exported"] == 2 and out["failed"] == [] and out["missing"] == []
    names = sorted(x.name for x in links.iterdir())
    fox_name = "001-" + Path(a["fox"]["dest"]).name
    assert fox_name in names and fox_name + ".yaml" in names and "board.yaml" in names
    assert os.readlink(links / fox_name) == a["fox"]["dest"]
    manifest = yaml.safe_load((links / "board.yaml").read_text())
    assert [i["asset_id"] for i in manifest["items"]] == [a["fox"]["id"], a["castle"]["id"]]
    assert manifest["items"][0]["note"] == "why"

    copies = env.cfg.data_dir / "out-copies"
    call(env, "boards.export", board="picks", dest=str(copies), mode="copy")
    copied = copies / ("002-" + Path(a["castle"]["dest"]).name)
    assert not copied.is_symlink() and file_hash(copied) == file_hash(Path(a["castle"]["dest"]))
    assert (copies / (copied.name + ".yaml")).read_text() == Path(a["castle"]["dest"] + ".yaml").read_text()

    before = (links / "board.yaml").read_text()
    code, message = code_of(env, "boards.export", board="picks", dest=str(links))
    assert code == p.CONFLICT and "never overwrite" in message
    assert (links / "board.yaml").read_text() == before
    assert code_of(env, "boards.export", board="picks", dest="/tmp/elsewhere")[0] == p.OUTSIDE_ROOTS
    default = call(env, "boards.export", board="picks")
    assert Path(default["dest"]).parent == env.cfg.data_dir / "boards"


def test_export_lists_a_missing_file_and_copies_the_rest(env: RpcEnv) -> None:
    a = env.assets
    call(env, "boards.add", board="picks", assets=[a["fox"]["id"], a["plain"]["id"]])
    Path(a["plain"]["dest"]).unlink()
    out = call(env, "boards.export", board="picks", dest=str(env.cfg.data_dir / "x"), mode="copy")
    assert out["exported"] == 1 and [m["asset_id"] for m in out["missing"]] == [a["plain"]["id"]]


def test_cli_board_add_by_path_show_and_export(env: RpcEnv, db_url: str) -> None:
    config = env.root / "config.yaml"
    config.write_text(yaml.safe_dump({"inboxes": [str(x) for x in env.cfg.inboxes], "organized": str(env.cfg.organized),
                                      "data_dir": str(env.cfg.data_dir), "database": {"url": db_url}}))
    run = lambda *args: CliRunner().invoke(main, ["--config", str(config), *args])  # noqa: E731
    a = env.assets
    added = run("board", "add", "cover", a["castle"]["dest"], str(a["fox"]["id"]), "--note", "maybe", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["added"] == [a["castle"]["id"], a["fox"]["id"]]
    shown = run("board", "show", "cover")
    assert shown.exit_code == 0 and "note: maybe" in shown.output
    assert shown.output.index(a["castle"]["dest"]) < shown.output.index(a["fox"]["dest"])
    assert "cover" in run("board", "list").output
    dest = env.root / "exported"
    done = run("board", "export", "cover", str(dest), "--copy")
    assert done.exit_code == 0, done.output
    assert len([x for x in dest.iterdir() if x.suffix == ".png"]) == 2
    again = run("board", "export", "cover", str(dest))
    assert again.exit_code == 2 and "never overwrite" in again.output
    bad = run("board", "add", "cover", "/no/such/file.png")
    assert bad.exit_code == 2 and "no asset for" in bad.output
    assert run("board", "remove", "cover", str(a["fox"]["id"])).exit_code == 0
    assert run("board", "delete", "cover").exit_code == 0
    assert run("board", "show", "cover").exit_code == 2
