"""`alice generate` / `recreate` / `projects` as subprocesses against the fake fal server,
with a real `alice run` daemon filing the outputs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from alice.daemon.api.client import RpcClient
from alice.pipeline.identity import identify
from tests.daemon_env import DaemonProc, rows, wait_until
from tests.fakes.fal import FakeFal
from tests.fakes.server import png_bytes
from tests.generate_env import provider_config
from tests.organize_env import AliceEnv

FLUX = "fal-ai/flux/dev"


@pytest.fixture
def fal():
    with FakeFal() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, db_url: str, fal: FakeFal) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0}, providers=provider_config(fal=fal))
    return e


def generate(env: AliceEnv, *args: str, check: bool = True) -> tuple[int, dict]:
    proc = env.run("generate", "--provider", "fal", "--model", FLUX, "--json", *args, check=check, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, (json.loads(lines[-1]) if lines else {"stderr": proc.stderr})


def organized_copy(env: AliceEnv, content_id: str) -> Path | None:
    found = rows(env.db_url, "SELECT l.path FROM locations l JOIN assets a ON a.id = l.asset_id "
                             "WHERE a.content_id = :cid AND l.role = 'organized' AND l.present", cid=content_id)
    return Path(found[0][0]) if found else None


def test_generate_is_filed_with_its_record_searchable_and_recreated(env: AliceEnv, fal: FakeFal,
                                                                    tmp_path: Path) -> None:
    daemon = DaemonProc(env)
    try:
        daemon.wait_ready()
        code, first = generate(env, "--prompt", "a red fox in fresh snow", "--param", "seed=77",
                               "--param", "image_size=square_hd", "--param", "num_inference_steps=30",
                               "--project", "foxes")
        assert code == 0 and first["state"] == "done", first
        delivered = Path(first["outputs"][0]["path"])
        assert delivered.parent == env.inbox / "foxes"
        cid = first["outputs"][0]["content_id"]
        raw = tmp_path / "as-sent.png"
        raw.write_bytes(png_bytes())
        assert cid == identify(raw, "png", "image").content_id       # the record did not change the content id

        filed = wait_until(lambda: organized_copy(env, cid), 60, what="the daemon to file the output")
        assert filed.parent.name == "fal" and filed.parent.parent.name == "foxes"
        side = yaml.safe_load(Path(str(filed) + ".yaml").read_text())
        assert side["tool"] == "fal" and side["project"] == "foxes"
        assert side["generation"]["prompt"] == "a red fox in fresh snow"
        assert side["generation"]["seed"] == 77 and side["generation"]["model"] == FLUX
        assert side["raw"]["request_id"] == first["provider_request_id"]

        seen = json.loads(env.run("inspect", "--json", str(filed)).stdout)
        assert seen["tool"] == "fal"
        assert (seen["generation"]["prompt"], seen["generation"]["seed"], seen["generation"]["steps"]) == \
            ("a red fox in fresh snow", 77, 30)

        # The catalog links request -> output asset, and the asset is found by its prompt.
        linked = rows(env.db_url, "SELECT r.id, a.id FROM generation_requests r "
                                  "JOIN request_outputs o ON o.request_id = r.id "
                                  "JOIN assets a ON a.content_id = o.content_id")
        asset_id = linked[0][1]
        assert linked == [(first["id"], asset_id)]
        found = [json.loads(line) for line in env.run("search", "fox snow", "--tool", "fal", "--json")
                 .stdout.splitlines() if line.strip()]
        assert [(h["id"], h["seed"], h["model"]) for h in found if "id" in h] == [(asset_id, 77, FLUX)]
        shown = json.loads(env.run("generations", str(first["id"]), "--json").stdout)
        assert shown["outputs"][0]["asset_id"] == asset_id and shown["outputs"][0]["filed_path"] == str(filed)

        # Recreate from the filed copy: the exact request again, linked to the first.
        proc = env.run("recreate", str(filed), "--json", timeout=120)
        again = json.loads(proc.stdout.splitlines()[-1])
        assert again["state"] == "done" and again["recreated_from"] == first["id"]
        assert (again["prompt"], again["params"], again["project"]) == \
            (first["prompt"], first["params"], "foxes")
        bodies = [s.json() for s in fal.seen if s.route == "submit"]
        assert len(bodies) == 2 and bodies[0] == bodies[1]

        # The same through the daemon's socket: submit returns at once, status follows it.
        with RpcClient(env.root / "run" / "alice" / "alice.sock") as client:
            started = client.call("generate.submit", {"provider": "fal", "model": FLUX, "project": "owls",
                                                      "prompt": "an owl at night", "params": {"seed": 5}})
            assert started["state"] in ("recorded", "submitted", "running", "done")
            done = wait_until(lambda: (s := client.call("generate.status", {"request_id": started["id"]}))
                              ["state"] in ("done", "failed") and s, 30, what="the socket request")
        assert done["state"] == "done", done
        assert Path(done["outputs"][0]["path"]).parent == env.inbox / "owls"
    finally:
        daemon.terminate()


def test_budget_refuses_before_sending_and_pauses_until_raised(env: AliceEnv, fal: FakeFal) -> None:
    env.run("projects", "set-budget", "tight", "0.05")
    code, refused = generate(env, "--prompt", "four foxes", "--param", "num_images=4",
                             "--param", "image_size=square_hd", "--project", "tight", check=False)
    assert code == 1 and refused["state"] == "refused"
    assert "$0.1000" in refused["error"] and "set-budget tight" in refused["error"]
    assert fal.seen == []                                       # nothing reached the service

    code, spent = generate(env, "--prompt", "two foxes", "--param", "num_images=2",
                           "--param", "image_size=square_hd", "--project", "tight")
    assert code == 0 and spent["cost_usd"] == "0.0500"
    listing = json.loads(env.run("projects", "--json").stdout)["projects"]
    tight = next(p for p in listing if p["project"] == "tight")
    assert tight["paused"] is True and tight["spent_usd"] == "0.0500" and tight["remaining_usd"] == "0.0000"
    assert tight["by_model"] == [{"provider": "fal", "model": FLUX, "requests": 2, "spent_usd": "0.0500",
                                  "reserved_usd": "0", "refused": 1}]
    assert rows(env.db_url, "SELECT data->>'project' FROM events WHERE kind = 'project.paused'") == [("tight",)]

    sent = len(fal.seen)
    code, paused = generate(env, "--prompt", "one more", "--project", "tight", check=False)
    assert code == 1 and "paused" in paused["error"] and len(fal.seen) == sent

    raised = json.loads(env.run("projects", "set-budget", "tight", "1", "--json").stdout)
    assert raised["change"] == "resumed" and raised["paused"] is False
    code, ok = generate(env, "--prompt", "one more", "--project", "tight")
    assert code == 0 and ok["state"] == "done"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_provider_call_shows_on_the_running_daemons_metrics(tmp_path: Path, db_url: str, fal: FakeFal) -> None:
    """The daemon's providers record into the registry its /metrics serves (one set of providers,
    built once by the app, not a second set on prometheus' global registry)."""
    import httpx

    port = _free_port()
    env = AliceEnv(tmp_path, db_url)
    env.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                     providers=provider_config(fal=fal), metrics={"enabled": True, "port": port})
    daemon = DaemonProc(env)
    try:
        daemon.wait_ready()
        with RpcClient(env.root / "run" / "alice" / "alice.sock") as client:
            started = client.call("generate.submit", {"provider": "fal", "model": FLUX, "project": "owls",
                                                      "prompt": "an owl", "params": {"seed": 1}})
            wait_until(lambda: client.call("generate.status", {"request_id": started["id"]})["state"]
                       in ("done", "failed"), 30, what="the request")
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        ok = [line for line in body.splitlines()
              if line.startswith('alice_provider_requests_total{') and 'provider="fal"' in line
              and 'outcome="ok"' in line]
        assert ok and float(ok[0].rsplit(" ", 1)[1]) >= 1, body[-2000:]
        assert 'alice_provider_circuit_state{provider="fal"} 0.0' in body
        assert "alice_files_processed_total" in body or "alice_queue_depth" in body   # the daemon's own series
    finally:
        daemon.terminate()
