"""Re-running filed files on the user's own generator through the Generator (daemon/generation/rerun.py):
a ComfyUI file's own graph on the ComfyUI fake, an A1111 file's parameters on the A1111 fake, the
outputs delivered with the record, the rerun and the parents inside."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from alice.daemon.catalog.engine import Catalog
from alice.daemon.generation.errors import GenerateError
from alice.daemon.generation.generator import Generator
from alice.daemon.generation.rerun import rerun
from alice.pipeline.detect import comfy_graph
from alice.pipeline.identity import identify
from alice.pipeline.inspect import inspect_file
from alice.pipeline.rerun.overrides import Overrides, parse_seeds
from tests.fakes.a1111 import FakeA1111, infotext, png_with
from tests.fakes.comfyui import FakeComfyUI, output_png
from tests.fakes.server import png_bytes
from tests.generate_env import make_generator

GRAPH: dict[str, Any] = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox in snow", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 640, "height": 832, "batch_size": 1}},
    "3": {"class_type": "KSampler", "inputs": {"seed": 424242, "steps": 25, "cfg": 6.5, "sampler_name": "euler",
                                               "scheduler": "karras", "denoise": 1, "model": ["4", 0],
                                               "positive": ["6", 0], "negative": ["7", 0],
                                               "latent_image": ["5", 0]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "fox"}},
}
# What the graph walk (comfy_graph.locate_base_pass) answers for GRAPH, injected where it is not built yet.
LOCATIONS = {"seed": ("3", "seed"), "steps": ("3", "steps"), "cfg": ("3", "cfg"), "prompt": ("6", "text"),
             "negative_prompt": ("7", "text"), "model": ("4", "ckpt_name")}


@pytest.fixture
def comfy():
    with FakeComfyUI() as server:
        yield server


@pytest.fixture
def sd():
    with FakeA1111() as server:
        yield server


@pytest.fixture
def gen(tmp_path: Path, catalog: Catalog, comfy: FakeComfyUI, sd: FakeA1111):
    g = make_generator(tmp_path, catalog, comfyui=comfy, a1111=sd)
    yield g
    g.close()


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(comfy_graph, "locate_base_pass"):
        monkeypatch.setattr(comfy_graph, "locate_base_pass", lambda nodes: LOCATIONS, raising=False)


def comfy_file(tmp_path: Path, graph: dict[str, Any] = GRAPH) -> Path:
    path = tmp_path / "fox.png"
    path.write_bytes(output_png(graph, 424242))
    return path


def record_of(path: Path) -> dict[str, Any]:
    found = inspect_file(path)
    assert found.raw.get("alice_generation") == 1, found.raw
    return found.raw


def test_a_comfyui_file_is_recreated_from_its_own_graph(gen: Generator, comfy: FakeComfyUI,
                                                        tmp_path: Path) -> None:
    src = comfy_file(tmp_path)
    [rid] = rerun(gen, src, "comfyui", project="foxes")
    status = gen.wait(rid)
    assert status["state"] == "done", status
    assert [s.json()["prompt"] for s in comfy.seen if s.route == "prompt"] == [GRAPH]    # sent unchanged
    out = Path(status["outputs"][0]["path"])
    assert out.parent == tmp_path / "inbox" / "foxes"
    record = record_of(out)
    parent = identify(src, "png", "image").content_id
    assert record["provider"] == "comfyui" and record["params"] == {"graph": GRAPH}
    assert record["rerun"] == {"kind": "recreated_from", "of": parent, "from": "comfyui graph", "overrides": {}}
    assert record["parents"] == [{"content_id": parent, "kind": "recreated_from"}]
    assert inspect_file(out).generation.prompt == "a red fox in snow"
    shown = inspect_file(out).to_json()["alice"]                      # what `alice inspect --json` prints
    assert (shown["provider"], shown["graph"], shown["rerun"]["of"]) == ("comfyui", GRAPH, parent)
    assert "alice" not in inspect_file(src).to_json()


def test_a_comfyui_file_varied_changes_only_the_located_inputs(gen: Generator, comfy: FakeComfyUI,
                                                               tmp_path: Path, walk: None) -> None:
    src = comfy_file(tmp_path)
    ids = rerun(gen, src, "comfyui", overrides=Overrides(prompt="a grey wolf", cfg=4.0), seeds=parse_seeds("7..8"))
    assert len(ids) == 2
    statuses = [gen.wait(rid) for rid in ids]
    sent = [s.json()["prompt"] for s in comfy.seen if s.route == "prompt"]
    assert all(s["state"] == "done" for s in statuses), statuses
    assert sorted(g["3"]["inputs"]["seed"] for g in sent) == [7, 8]
    for graph in sent:
        assert graph["6"]["inputs"]["text"] == "a grey wolf" and graph["3"]["inputs"]["cfg"] == 4.0
        changed = {k for k in GRAPH if GRAPH[k] != graph[k]}
        assert changed == {"3", "6"}
    records = sorted((record_of(Path(s["outputs"][0]["path"])) for s in statuses),
                     key=lambda r: r["rerun"]["overrides"]["seed"])
    assert [r["rerun"]["overrides"] for r in records] == [
        {"prompt": "a grey wolf", "cfg": 4.0, "seed": 7}, {"prompt": "a grey wolf", "cfg": 4.0, "seed": 8}]
    assert {r["rerun"]["kind"] for r in records} == {"varied_from"}
    # The request row keeps no prompt for ComfyUI (it lives in the graph); the output's record shows it.
    assert {inspect_file(Path(st["outputs"][0]["path"])).generation.prompt for st in statuses} == {"a grey wolf"}


def test_varying_without_the_graph_walk_is_a_clear_error(gen: Generator, comfy: FakeComfyUI,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(comfy_graph, "locate_base_pass", raising=False)
    with pytest.raises(GenerateError, match="locate_base_pass.*recreate --provider comfyui"):
        rerun(gen, comfy_file(tmp_path), "comfyui", overrides=Overrides(seed=3))
    assert comfy.seen == []


def test_a_value_the_walk_did_not_locate_is_refused_before_sending(gen: Generator, comfy: FakeComfyUI,
                                                                   tmp_path: Path, walk: None) -> None:
    graph = copy.deepcopy(GRAPH)
    del graph["3"]["inputs"]["denoise"]                   # the graph does not state it: nothing to locate
    with pytest.raises(GenerateError, match="cannot change denoise"):
        rerun(gen, comfy_file(tmp_path, graph), "comfyui", overrides=Overrides(denoise=0.5))
    assert comfy.seen == []


def test_an_a1111_file_is_varied_from_its_parameters(gen: Generator, sd: FakeA1111, tmp_path: Path) -> None:
    body = {"prompt": "a castle on a hill", "negative_prompt": "lowres", "steps": 28, "sampler_name": "DPM++ 2M",
            "cfg_scale": 6.0, "width": 512, "height": 768}
    src = tmp_path / "castle.png"
    src.write_bytes(png_with(infotext(body, 31337, "v1-5-pruned-emaonly"), 31337))
    [rid] = rerun(gen, src, "a1111")
    assert gen.wait(rid)["state"] == "done"
    ids = rerun(gen, src, "a1111", overrides=Overrides(steps=30, model="juggernautXL_v9"), seeds=[5, 6])
    statuses = [gen.wait(r) for r in ids]
    assert all(s["state"] == "done" for s in statuses), statuses
    first, *varied = sd.requests
    assert (first["prompt"], first["seed"], first["steps"], first["cfg_scale"]) == ("a castle on a hill", 31337, 28, 6.0)
    assert first["override_settings"]["sd_model_checkpoint"] == "v1-5-pruned-emaonly.safetensors [6ce0161689]"
    assert sorted(v["seed"] for v in varied) == [5, 6] and all(v["steps"] == 30 for v in varied)
    assert {v["override_settings"]["sd_model_checkpoint"] for v in varied} == {
        "sdxl/juggernautXL_v9.safetensors [c9e3e68f89]"}
    record = record_of(Path(statuses[0]["outputs"][0]["path"]))
    assert record["provider"] == "a1111" and record["model"] == "txt2img"
    assert record["rerun"]["kind"] == "varied_from" and record["rerun"]["from"] == "a1111 parameters"

    # An output alice made is varied again from alice's own record of the payload it sent.
    out = Path(statuses[0]["outputs"][0]["path"])
    [again] = rerun(gen, out, "a1111", overrides=Overrides(cfg=3.5))
    assert gen.wait(again)["state"] == "done"
    last = sd.requests[-1]
    assert (last["cfg_scale"], last["steps"], last["seed"]) == (3.5, 30, record["params"]["seed"])
    assert record_of(Path(gen.status(again)["outputs"][0]["path"]))["rerun"]["from"] == "alice record"


def test_the_wrong_generator_for_a_file_says_which_one_fits(gen: Generator, tmp_path: Path) -> None:
    src = comfy_file(tmp_path)
    with pytest.raises(GenerateError, match="carries a ComfyUI graph.*--provider comfyui"):
        rerun(gen, src, "a1111")
    plain = tmp_path / "plain.png"
    plain.write_bytes(png_bytes())
    with pytest.raises(GenerateError, match="carries no a ComfyUI graph to re-run"):
        rerun(gen, plain, "comfyui")
    with pytest.raises(GenerateError, match="no asset 99"):
        rerun(gen, "asset:99", "comfyui")


def test_the_record_is_kept_with_the_request_for_a_resume(gen: Generator, catalog: Catalog, tmp_path: Path) -> None:
    [rid] = rerun(gen, comfy_file(tmp_path), "comfyui")
    gen.wait(rid)
    from alice.daemon.catalog import requests

    with catalog.session() as s:
        row = requests.get_request(s, rid)
    assert row is not None and row.record_extra["rerun"]["kind"] == "recreated_from"
    assert json.loads(json.dumps(row.record_extra)) == copy.deepcopy(row.record_extra)


def test_an_input_image_the_catalog_has_is_a_graph_input_parent(tmp_path: Path, catalog: Catalog,
                                                                 comfy: FakeComfyUI) -> None:
    from alice.daemon.catalog import lineage, store
    from alice.daemon.ingest.filing import Organizer, Source
    from alice.daemon.provider_host import ProviderHost
    from tests.generate_env import OwnedGenerator, make_config, provider_config
    from tests.rpc_env import picture

    input_dir = tmp_path / "ComfyUI" / "input"
    providers = provider_config(comfyui=comfy)
    providers["comfyui"]["input_dir"] = str(input_dir)
    cfg = make_config(tmp_path, providers)
    gen = OwnedGenerator(cfg, catalog, ProviderHost.build(cfg.providers, env={}))
    try:
        cat = picture(cfg.inboxes[0] / "cats" / "cat.png", 5)
        (input_dir / "refs").mkdir(parents=True)
        (input_dir / "refs" / "cat.png").write_bytes(cat.read_bytes())      # the user put it in ComfyUI's inputs
        filed = Organizer(cfg, catalog).organize(Source(cat, cfg.inboxes[0]))
        assert filed.status == "organized"
        stranger = picture(input_dir / "other.png", 6)                        # an input alice never filed
        comfy.inputs.update({"refs/cat.png": cat.read_bytes(), "other.png": stranger.read_bytes()})
        graph = copy.deepcopy(GRAPH)
        graph["10"] = {"class_type": "LoadImage", "inputs": {"image": "refs/cat.png", "upload": "image"}}
        graph["11"] = {"class_type": "LoadImage", "inputs": {"image": stranger.name, "upload": "image"}}
        src = comfy_file(tmp_path, graph)
        [rid] = rerun(gen, src, "comfyui")
        status = gen.wait(rid)
        assert status["state"] == "done", status
        record = record_of(Path(status["outputs"][0]["path"]))
        assert record["parents"] == [{"content_id": identify(src, "png", "image").content_id, "kind": "recreated_from"},
                                     {"content_id": filed.content_id, "kind": "graph_input"}]
        # Filed, the output links to both parents the catalog has (the original is not filed here: only the cat).
        out = Organizer(cfg, catalog).organize(Source(Path(status["outputs"][0]["path"]), cfg.inboxes[0]))
        with catalog.session() as s:
            child = store.asset_by_content_id(s, out.content_id)
            cat_asset = store.asset_by_content_id(s, filed.content_id)
            assert lineage.parents(s, child.id) == [(cat_asset.id, "graph_input")]
    finally:
        gen.close()


def test_assistants_get_vary_recreate_and_lineage_as_mcp_tools() -> None:
    from alice.daemon.api.mcp import tools

    offered = {t.name: t for t in tools()}
    assert {"generate_vary", "generate_recreate", "assets_lineage"} <= set(offered)
    vary = offered["generate_vary"].input_schema
    assert vary["required"] == ["of", "provider"] and vary["properties"]["provider"]["enum"] == ["comfyui", "a1111"]
    assert "provider" in offered["generate_recreate"].input_schema["properties"]


def test_an_a1111_img2img_is_varied_with_its_source_image(gen: Generator, sd: FakeA1111, catalog: Catalog,
                                                          tmp_path: Path) -> None:
    from alice.daemon.ingest.filing import Organizer, Source

    source = gen.cfg.inboxes[0] / "paint" / "source.png"
    source.parent.mkdir(parents=True)
    source.write_bytes(png_bytes(32, 32, (9, 9, 9)))
    # The request records its source image by content id; a re-run finds it again in the catalog.
    assert Organizer(gen.cfg, catalog).organize(Source(source, gen.cfg.inboxes[0])).status == "organized"
    rid = gen.submit("a1111", "img2img", "a watercolour", {"denoising_strength": 0.4, "seed": 3}, [source], "paint")
    first = gen.wait(rid)
    assert first["state"] == "done", first
    out = Path(first["outputs"][0]["path"])
    [again] = rerun(gen, out, "a1111", overrides=Overrides(denoise=0.7))
    status = gen.wait(again)
    assert status["state"] == "done", status
    sent = sd.requests[-1]
    assert sent["denoising_strength"] == 0.7 and sent["prompt"] == "a watercolour"
    assert sent["init_images"] == sd.requests[0]["init_images"] and len(sent["init_images"]) == 1
    record = record_of(Path(status["outputs"][0]["path"]))
    source_cid = identify(source, "png", "image").content_id
    assert record["model"] == "img2img" and record["references"] == [source_cid]
    assert record["parents"] == [{"content_id": identify(out, "png", "image").content_id, "kind": "varied_from"},
                                 {"content_id": source_cid, "kind": "graph_input"}]
