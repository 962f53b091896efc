"""The creative loop end to end: a real `alice run` daemon files a ComfyUI (or A1111) image; `alice vary` /
`alice recreate --provider` (subprocesses) re-run it on the local generator's fake server; the daemon files
the output with its record inside, and `alice lineage` / assets.lineage show the parent."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from alice.daemon.api.client import RpcClient
from tests.daemon_env import DaemonProc, rows, wait_until
from tests.fakes.a1111 import FakeA1111, infotext
from tests.fakes.comfyui import FakeComfyUI
from tests.generate_env import provider_config
from tests.organize_env import AliceEnv
from tests.test_rerun_generate import GRAPH


@pytest.fixture
def comfy():
    with FakeComfyUI() as server:
        yield server


@pytest.fixture
def sd():
    with FakeA1111() as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, db_url: str, comfy: FakeComfyUI, sd: FakeA1111) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                   providers=provider_config(comfyui=comfy, a1111=sd))
    return e


def filed(env: AliceEnv, content_id: str) -> tuple[int, Path] | None:
    found = rows(env.db_url, "SELECT a.id, l.path FROM locations l JOIN assets a ON a.id = l.asset_id "
                             "WHERE a.content_id = :cid AND l.role = 'organized' AND l.present", cid=content_id)
    return (found[0][0], Path(found[0][1])) if found else None


def user_made(text_key: str, text: str) -> bytes:
    """What the user's own generator wrote: its record in a PNG text chunk, and pixels of its own
    (a GPU rarely repeats itself exactly, so a re-run on the fake is new content, a new asset)."""
    info = PngInfo()
    info.add_text(text_key, text)
    buf = io.BytesIO()
    Image.new("RGB", (24, 24), (10, 200, 30)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def organized_by_name(env: AliceEnv, name: str) -> tuple[int, Path] | None:
    found = rows(env.db_url, "SELECT a.id, l.path FROM locations l JOIN assets a ON a.id = l.asset_id "
                             "WHERE l.role = 'organized' AND l.present AND l.path LIKE :n", n=f"%/{name}")
    return (found[0][0], Path(found[0][1])) if found else None


def drop_and_file(env: AliceEnv, name: str, data: bytes) -> tuple[int, Path]:
    (env.inbox / "loop").mkdir(parents=True, exist_ok=True)
    (env.inbox / "loop" / name).write_bytes(data)
    return wait_until(lambda: organized_by_name(env, name), 60, what=f"the daemon to file {name}")


def run_json(env: AliceEnv, *args: str) -> list[dict[str, Any]]:
    proc = env.run(*args, "--json", timeout=120)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def lineage_of(env: AliceEnv, asset_id: int) -> dict[str, Any]:
    return json.loads(env.run("lineage", str(asset_id), "--json").stdout)


def check_output(env: AliceEnv, request: dict[str, Any], parent_id: int, kind: str) -> tuple[int, Path, dict]:
    assert request["state"] == "done", request
    child = wait_until(lambda: filed(env, request["outputs"][0]["content_id"]), 60,
                       what="the daemon to file the re-run's output")
    child_id, path = child
    side = yaml.safe_load(Path(str(path) + ".yaml").read_text())
    shown = json.loads(env.run("inspect", "--json", str(path)).stdout)["alice"]
    assert side["parents"][0]["kind"] == kind and shown["rerun"]["kind"] == kind
    tree = lineage_of(env, child_id)
    assert [(p["id"], p["kind"]) for p in tree["parents"]] == [(parent_id, kind)]
    assert child_id in [c["id"] for c in lineage_of(env, parent_id)["children"]]
    return child_id, path, shown


def test_a_filed_comfyui_image_recreated_and_varied_on_comfyui(env: AliceEnv, comfy: FakeComfyUI) -> None:
    daemon = DaemonProc(env)
    try:
        daemon.wait_ready()
        original_id, _ = drop_and_file(env, "fox.png", user_made("prompt", json.dumps(GRAPH)))

        [again] = run_json(env, "recreate", str(original_id), "--provider", "comfyui")
        _, path, shown = check_output(env, again, original_id, "recreated_from")
        assert shown["provider"] == "comfyui" and shown["graph"] == GRAPH and shown["rerun"]["overrides"] == {}
        assert path.parent.parent.name == "loop"                  # filed under the original's project

        [varied] = run_json(env, "vary", str(original_id), "--seed", "99")
        child_id, _, shown = check_output(env, varied, original_id, "varied_from")
        assert shown["rerun"]["overrides"] == {"seed": 99}
        sent = [s.json()["prompt"] for s in comfy.seen if s.route == "prompt"]
        changed = [{k for k in GRAPH if GRAPH[k] != g[k]} for g in sent]
        assert changed == [set(), {"3"}] and sent[1]["3"]["inputs"]["seed"] == 99
        found = [json.loads(line) for line in env.run("search", "--child-of", str(original_id), "--json")
                 .stdout.splitlines() if '"id"' in line]
        assert child_id in [f["id"] for f in found]
    finally:
        daemon.terminate()


def test_a_filed_a1111_image_recreated_and_varied_on_a1111(env: AliceEnv, sd: FakeA1111) -> None:
    body = {"prompt": "a castle on a hill", "negative_prompt": "lowres", "steps": 28, "sampler_name": "DPM++ 2M",
            "cfg_scale": 6.0, "width": 512, "height": 768}
    daemon = DaemonProc(env)
    try:
        daemon.wait_ready()
        original_id, _ = drop_and_file(env, "castle.png",
                                       user_made("parameters", infotext(body, 31337, "v1-5-pruned-emaonly")))

        [again] = run_json(env, "recreate", f"asset:{original_id}", "--provider", "a1111")
        _, _, shown = check_output(env, again, original_id, "recreated_from")
        assert shown["provider"] == "a1111" and shown["params"]["seed"] == 31337
        sent = sd.requests[-1]
        assert (sent["prompt"], sent["seed"], sent["steps"], sent["cfg_scale"]) == ("a castle on a hill", 31337, 28, 6.0)

        # Through the daemon's socket, as an assistant would: two seeds, one lineage edge each.
        with RpcClient(env.root / "run" / "alice" / "alice.sock") as client:
            started = client.call("generate.vary", {"of": original_id, "provider": "a1111", "seeds": "7..8",
                                                    "overrides": {"cfg": 4.5}})
            ids = [r["id"] for r in started["requests"]]
            done = [wait_until(lambda rid=rid: (s := client.call("generate.status", {"request_id": rid}))
                               ["state"] in ("done", "failed") and s, 60, what="the varied request") for rid in ids]
            children = []
            for request in done:
                child_id, _, shown = check_output(env, request, original_id, "varied_from")
                children.append((shown["rerun"]["overrides"]["seed"], child_id))
            tree = client.call("assets.lineage", {"asset": original_id})
        assert sorted(s["seed"] for s in sd.requests[-2:]) == [7, 8] and sd.requests[-1]["cfg_scale"] == 4.5
        assert sorted(seed for seed, _ in children) == [7, 8]
        assert {(c["id"], c["kind"]) for c in tree["children"]} >= {(cid, "varied_from") for _, cid in children}
    finally:
        daemon.terminate()
