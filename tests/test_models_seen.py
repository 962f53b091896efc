"""models.list / `alice models` and the search filters on model and LoRA, from files filed by the organizer."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from alice.daemon.api.client import RpcClient
from alice.daemon.api.methods import REGISTRY
from alice.daemon.catalog.engine import Catalog
from alice.daemon.cli.main import main
from tests.rpc_env import RpcEnv, running_server


def a1111_png(path: Path, colour: int, prompt: str, model: str, model_hash: str) -> Path:
    info = PngInfo()
    info.add_text("parameters", f"{prompt}\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
                                f"Seed: {colour}, Size: 64x64, Model hash: {model_hash}, Model: {model}")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), (colour, 255 - colour, colour // 2)).save(path, "PNG", pnginfo=info)
    return path


@pytest.fixture
def env(catalog: Catalog):
    with running_server(catalog) as e:
        inbox = e.cfg.inboxes[0]
        files = {
            "a": a1111_png(inbox / "posters" / "a.png", 10, "a fox <lora:filmgrain:0.7>", "juggernautXL", "abc123"),
            "b": a1111_png(inbox / "posters" / "b.png", 20, "a cat <lora:filmgrain:0.5> <lora:neon:1>",
                           "juggernautXL", "abc123"),
            "c": a1111_png(inbox / "covers" / "c.png", 30, "a house", "juggernautXL", "ffff00"),
            "d": a1111_png(inbox / "covers" / "d.png", 40, "a tree <lora:neon:1>", "dreamshaper", "1234ab"),
        }
        e.ids = {}                      # type: ignore[attr-defined]
        for k, path in files.items():
            res = e.organize(path)
            assert res["status"] == "organized", res
            with RpcClient(e.sock) as c:
                e.ids[k] = c.call("assets.search", {"content_id": res["content_id"]})["items"][0]["id"]
        with RpcClient(e.sock) as c:
            c.call("assets.rate", {"asset": e.ids["a"], "stars": 5})
            c.call("assets.rate", {"asset": e.ids["b"], "stars": 2})
        yield e


def call(env: RpcEnv, method: str, **params):
    with RpcClient(env.sock) as c:
        result = c.call(method, params)
    Draft202012Validator(REGISTRY.methods[method].result).validate(result)
    return result


def test_checkpoints_by_name_and_hash_and_loras_with_use(env: RpcEnv) -> None:
    rows = call(env, "models.list")["models"]
    by = {(r["kind"], r["name"], r["hash"]): r for r in rows}
    jug = by[("checkpoint", "juggernautXL", "abc123")]
    assert jug["files"] == 2 and jug["projects"] == ["posters"] and jug["avg_stars"] == 3.5 and jug["rated"] == 2
    assert jug["first_used"] <= jug["last_used"]
    assert by[("checkpoint", "juggernautXL", "ffff00")]["files"] == 1
    assert by[("lora", "filmgrain", None)]["files"] == 2
    neon = by[("lora", "neon", None)]
    assert neon["files"] == 2 and neon["projects"] == ["covers", "posters"] and neon["avg_stars"] == 2.0
    assert rows[0]["files"] == 2                                      # most files first
    loras = call(env, "models.list", kind="lora", project="covers")["models"]
    assert [(r["name"], r["files"]) for r in loras] == [("neon", 1)]
    stars = [r["avg_stars"] for r in call(env, "models.list", sort="stars")["models"]]
    assert stars == [3.5, 3.5, 2.0, None, None]                      # unrated models last


def test_search_filters_by_model_and_lora(env: RpcEnv) -> None:
    ids = env.ids
    found = lambda **q: {i["id"] for i in call(env, "assets.search", **q)["items"]}  # noqa: E731
    assert found(lora="neon") == {ids["b"], ids["d"]}
    assert found(lora="neon", model="juggernautXL") == {ids["b"]}
    assert found(model="dreamshaper") == {ids["d"]}
    assert found(lora="nothing") == set()


def test_cli_models_and_search_lora(env: RpcEnv, db_url: str) -> None:
    config = env.root / "config.yaml"
    config.write_text(yaml.safe_dump({"inboxes": [str(x) for x in env.cfg.inboxes], "organized": str(env.cfg.organized),
                                      "data_dir": str(env.cfg.data_dir), "database": {"url": db_url},
                                      "socket": str(env.sock)}))
    run = lambda *args: CliRunner().invoke(main, ["--config", str(config), *args])  # noqa: E731
    out = run("models", "--json")
    assert out.exit_code == 0, out.output
    assert {r["name"] for r in json.loads(out.output)["models"]} == {"juggernautXL", "dreamshaper", "filmgrain", "neon"}
    text = run("models", "--kind", "checkpoint").output
    assert "juggernautXL [abc123]" in text and "filmgrain" not in text
    lines = run("search", "--lora", "filmgrain", "--json").output.splitlines()
    assert {json.loads(x)["id"] for x in lines[:-1]} == {env.ids["a"], env.ids["b"]}
