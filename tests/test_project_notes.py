"""Project briefs, style notes and decisions: written over the socket and the CLI, read back as one context."""
from __future__ import annotations

import json
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


def test_notes_come_back_in_one_context_newest_decision_first(env: RpcEnv) -> None:
    call(env, "projects.note", project="cyber", kind="brief", text="Album covers, first draft")
    call(env, "projects.note", project="cyber", kind="brief", text="Album covers for the Neon EP")
    call(env, "projects.note", project="cyber", kind="style", text="warm palette, film grain")
    first = call(env, "projects.note", project="cyber", kind="decision", text="square crops only")
    second = call(env, "projects.note", project="cyber", kind="decision", text="reject anything with text in it",
                  author="assistant")
    assert second["project"] == "cyber" and second["author"] == "assistant" and second["at"]
    call(env, "assets.tag", asset=env.assets["fox"]["id"], tags=["keeper", "fox"])
    call(env, "assets.tag", asset=env.assets["fox2"]["id"], tags=["fox"])

    ctx = call(env, "projects.context", project="cyber")
    assert ctx["brief"]["text"] == "Album covers for the Neon EP" and ctx["earlier_briefs"] == 1
    assert [n["text"] for n in ctx["style"]] == ["warm palette, film grain"]
    assert [n["id"] for n in ctx["decisions"]] == [second["id"], first["id"]]
    assert ctx["counts"]["assets"] == 2
    assert ctx["counts"]["top_tags"][0] == {"tag": "fox", "assets": 2}
    assert ctx["counts"]["new_last_7_days"] == 2 and ctx["counts"]["last_activity_at"]
    assert "reject anything with text in it" in ctx["text"] and ctx["text"].index("reject") < ctx["text"].index("square")
    # Another project's notes stay there.
    assert call(env, "projects.context", project="fantasy")["decisions"] == []


def test_a_note_on_a_new_project_creates_it_and_bad_notes_are_refused(env: RpcEnv) -> None:
    call(env, "projects.note", project="new-thing", kind="brief", text="just an idea")
    assert call(env, "projects.context", project="new-thing")["counts"]["assets"] == 0
    with RpcClient(env.sock) as c:
        for params, code in (({"project": "x", "kind": "mood", "text": "y"}, p.INVALID_PARAMS),
                             ({"project": "x", "kind": "brief", "text": "   "}, p.INVALID_PARAMS),
                             ({"project": "a/b", "kind": "brief", "text": "y"}, p.INVALID_PARAMS)):
            with pytest.raises(RpcCallError) as err:
                c.call("projects.note", params)
            assert err.value.code == code, params
        with pytest.raises(RpcCallError) as err:
            c.call("projects.context", {"project": "nowhere"})
        assert err.value.code == p.NOT_FOUND and "projects.list" in err.value.message


def test_cli_writes_and_reads_the_same_memory(catalog: Catalog, db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"inboxes": [str(tmp_path / "in")], "organized": str(tmp_path / "out"),
                                      "data_dir": str(tmp_path / "data"), "database": {"url": db_url}}))
    run = lambda *args: CliRunner().invoke(main, ["--config", str(config), *args])  # noqa: E731
    assert run("project", "note", "poster", "--brief", "Poster for the spring show").exit_code == 0
    done = run("project", "note", "poster", "--decision", "warm palette; no text", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["kind"] == "decision"
    both = run("project", "note", "poster", "--brief", "a", "--style", "b")
    assert both.exit_code == 2 and "exactly one" in both.output
    text = run("project", "context", "poster")
    assert text.exit_code == 0 and "Poster for the spring show" in text.output and "warm palette; no text" in text.output
    as_json = json.loads(run("project", "context", "poster", "--json").output)
    assert as_json["decisions"][0]["text"] == "warm palette; no text"
    missing = run("project", "context", "nope")
    assert missing.exit_code == 2 and "no project" in missing.output
