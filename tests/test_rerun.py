"""Re-run request builders (pipeline/rerun): a file's own ComfyUI graph with overrides
at located node inputs, seed ranges, input images, and A1111 payloads from records."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from alice.daemon.generation.deliver import stage_output
from alice.pipeline.detect import detect
from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.generation import Generation
from alice.pipeline.metadata import Metadata
from alice.pipeline.rerun import a1111, comfy
from alice.pipeline.rerun.overrides import MAX_SEEDS, Overrides, RerunError, parse_seeds, per_seed
from alice.providers.comfyui import WORKFLOW, ComfyUiProvider
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.harness import provider_for

# A two-pass graph: the base pass (s1) takes its seed from a seed node and its prompt
# from a string node; the hires pass (s2) has its own seed that a vary must not touch.
GRAPH: dict[str, Any] = {
    "901": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl/dreamshaper_8.safetensors"}},
    "a": {"class_type": "CLIPTextEncode", "inputs": {"text": ["p1", 0], "clip": ["901", 1]}},
    "p1": {"class_type": "PrimitiveString", "inputs": {"value": "a red fox in snow"}},
    "b": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["901", 1]}},
    "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": 640, "height": 832, "batch_size": 1}},
    "seed": {"class_type": "Seed (rgthree)", "inputs": {"seed": 424242}},
    "s1": {"class_type": "KSampler", "inputs": {"seed": ["seed", 0], "steps": 25, "cfg": 6.5,
                                                "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1,
                                                "model": ["901", 0], "positive": ["a", 0], "negative": ["b", 0],
                                                "latent_image": ["lat", 0]}},
    "up": {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["s1", 0], "scale_by": 1.5}},
    "s2": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 10, "cfg": 5, "sampler_name": "euler",
                                                "scheduler": "normal", "denoise": 0.4, "model": ["901", 0],
                                                "positive": ["a", 0], "negative": ["b", 0],
                                                "latent_image": ["up", 0]}},
    "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["s2", 0], "vae": ["901", 2]}},
    "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "x"}},
}
# What comfy_graph.locate_base_pass would answer for GRAPH, written by hand here.
LOCATIONS: dict[str, tuple[str, str]] = {
    "seed": ("seed", "seed"), "steps": ("s1", "steps"), "cfg": ("s1", "cfg"), "sampler": ("s1", "sampler_name"),
    "scheduler": ("s1", "scheduler"), "denoise": ("s1", "denoise"), "prompt": ("p1", "value"),
    "negative_prompt": ("b", "text"), "model": ("901", "ckpt_name"), "width": ("lat", "width"),
    "height": ("lat", "height"),
}


# -- ComfyUI ------------------------------------------------------------------------------

def test_overrides_land_at_the_located_inputs_and_nowhere_else() -> None:
    before = copy.deepcopy(GRAPH)
    out = comfy.apply(GRAPH, LOCATIONS, Overrides(seed=5, steps=30, cfg=4.0, prompt="a grey wolf", width=768,
                                                  sampler="euler_ancestral", negative_prompt="text"))
    assert GRAPH == before                                  # the record's graph is not modified
    assert out["seed"]["inputs"]["seed"] == 5 and out["s1"]["inputs"]["seed"] == ["seed", 0]
    assert out["s2"]["inputs"]["seed"] == 7 and out["s2"]["inputs"]["steps"] == 10   # the hires pass is left alone
    assert (out["s1"]["inputs"]["steps"], out["s1"]["inputs"]["cfg"]) == (30, 4.0)
    assert out["s1"]["inputs"]["sampler_name"] == "euler_ancestral"
    assert out["p1"]["inputs"]["value"] == "a grey wolf" and out["b"]["inputs"]["text"] == "text"
    assert out["lat"]["inputs"]["width"] == 768 and out["lat"]["inputs"]["height"] == 832
    changed = {k for k in GRAPH if GRAPH[k] != out[k]}
    assert changed == {"seed", "s1", "p1", "b", "lat"}


def test_no_overrides_is_the_graph_as_recorded() -> None:
    assert comfy.apply(GRAPH, LOCATIONS, Overrides()) == GRAPH
    assert comfy.apply(GRAPH, {}, Overrides()) == GRAPH     # a recreate needs no locations


def test_a_model_named_by_stem_gets_the_recorded_extension() -> None:
    out = comfy.apply(GRAPH, LOCATIONS, Overrides(model="juggernaut"))
    assert out["901"]["inputs"]["ckpt_name"] == "juggernaut.safetensors"
    out = comfy.apply(GRAPH, LOCATIONS, Overrides(model="flux1-dev.gguf"))
    assert out["901"]["inputs"]["ckpt_name"] == "flux1-dev.gguf"


def test_a_seed_range_expands_to_one_graph_per_seed() -> None:
    graphs = comfy.graphs(GRAPH, LOCATIONS, Overrides(cfg=3.0), parse_seeds("100..103"))
    assert [g["seed"]["inputs"]["seed"] for g in graphs] == [100, 101, 102, 103]
    assert all(g["s1"]["inputs"]["cfg"] == 3.0 for g in graphs)
    assert comfy.graphs(GRAPH, LOCATIONS, Overrides(seed=9)) == [comfy.apply(GRAPH, LOCATIONS, Overrides(seed=9))]


def test_an_override_without_a_location_is_an_error_not_a_guess() -> None:
    partial = {k: v for k, v in LOCATIONS.items() if k != "denoise"}
    with pytest.raises(RerunError, match="cannot change denoise: the graph walk found no node input for it"):
        comfy.apply(GRAPH, partial, Overrides(denoise=0.5))


@pytest.mark.parametrize("location, match", [
    (("nope", "seed"), "names node 'nope', which is not in this graph"),
    (("s1", "noise_seed"), "names input 'noise_seed' of node 's1' \\(KSampler\\), which has no such input"),
    (("s1",), "must be \\(node id, input name\\)"),
])
def test_a_location_that_does_not_fit_the_graph_is_an_error(location: Any, match: str) -> None:
    with pytest.raises(RerunError, match=match):
        comfy.apply(GRAPH, {**LOCATIONS, "seed": location}, Overrides(seed=1))


def test_the_graph_comes_from_the_detection_record() -> None:
    meta = Metadata(path=None, format="png", media="image", text={"prompt": json.dumps(GRAPH)})
    assert comfy.api_graph(detect(meta).raw) == GRAPH
    with pytest.raises(RerunError, match="only ComfyUI's UI workflow"):
        comfy.api_graph({"workflow": {"nodes": []}})
    with pytest.raises(RerunError, match="holds no ComfyUI API graph"):
        comfy.api_graph({"parameters": "a1111 text"})
    with pytest.raises(RerunError, match="node 'x' of the graph has no class_type"):
        comfy.api_graph({"prompt": {"x": {"inputs": {}}}})


def test_input_images_a_graph_loads() -> None:
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "refs/cat.png", "upload": "image"}},
        "2": {"class_type": "LoadImage", "inputs": {"image": "ComfyUI_00001_.png [output]"}},
        "3": {"class_type": "LoadImageMask", "inputs": {"image": "mask.png", "channel": "alpha"}},
        "4": {"class_type": "VHS_LoadVideo", "inputs": {"video": "clip.mp4", "frame_load_cap": 16}},
        "5": {"class_type": "LoadImageFromUrl", "inputs": {"image": "https://example.com/a.png"}},
        "6": {"class_type": "LoadImage", "inputs": {"image": ["7", 0]}},
        "7": {"class_type": "KSampler", "inputs": {"image": "not-a-loader.png"}},
    }
    found = comfy.input_images(graph)
    assert [(i.node_id, i.name, i.folder, i.media) for i in found] == [
        ("1", "refs/cat.png", "input", "image"), ("2", "ComfyUI_00001_.png", "output", "image"),
        ("3", "mask.png", "input", "image"), ("4", "clip.mp4", "input", "video")]
    renamed = comfy.rename_inputs(graph, {"refs/cat.png": "alice-abc.png", "mask.png": "alice-def.png"})
    assert renamed["1"]["inputs"]["image"] == "alice-abc.png" and renamed["3"]["inputs"]["image"] == "alice-def.png"
    assert renamed["2"] == graph["2"] and graph["1"]["inputs"]["image"] == "refs/cat.png"


@pytest.mark.anyio
async def test_a_filed_comfyui_image_varied_runs_on_a_comfyui_server(tmp_path: Path) -> None:
    """File -> detection -> graph with a new seed -> ComfyUI -> output whose record has that seed."""
    graph = {k: v for k, v in copy.deepcopy(GRAPH).items() if k not in ("seed", "p1")}
    graph["s1"]["inputs"]["seed"] = 424242
    graph["a"]["inputs"]["text"] = "a red fox in snow"
    graph["901"]["inputs"]["ckpt_name"] = "juggernaut.safetensors"
    locations = {"seed": ("s1", "seed"), "prompt": ("a", "text")}
    record = detect(Metadata(path=None, format="png", media="image", text={"prompt": json.dumps(graph)}))
    [varied] = comfy.graphs(comfy.api_graph(record.raw), locations, Overrides(seed=77, prompt="a grey wolf"))
    with FakeComfyUI() as fake:
        fake.node_types.update({"LatentUpscaleBy"})
        async with provider_for(ComfyUiProvider, "comfyui", fake, api_key=None) as provider:
            result = await provider.generate(WORKFLOW, {"graph": varied})
            path = await stage_output(result.outputs[0], tmp_path)
    with Image.open(path) as img:
        text = dict(img.text)
    again = detect(Metadata(path=None, format="png", media="image", text=text))
    assert again.tool == "comfyui" and again.generation.prompt == "a grey wolf"
    ran = again.raw["prompt"]
    assert ran["s1"]["inputs"]["seed"] == 77 and ran["s2"]["inputs"]["seed"] == 7    # base pass varied only


# -- overrides and seeds ---------------------------------------------------------------------

@pytest.mark.parametrize("text, seeds", [("5..8", [5, 6, 7, 8]), ("5-8", [5, 6, 7, 8]), (" 3 .. 3 ", [3]),
                                         ("7", [7]), (9, [9])])
def test_seed_ranges(text: Any, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, match", [
    ("8..5", "runs backwards; write 5..8"), (f"0..{MAX_SEEDS}", f"at most {MAX_SEEDS} at once"),
    ("five", "N or N..M"), ("-3", "N or N..M"), (True, "N or N..M"),
    (f"{2**64}..{2**64 + 1}", "seed must be between 0 and"),
])
def test_bad_seed_ranges(text: Any, match: str) -> None:
    with pytest.raises(RerunError, match=match):
        parse_seeds(text)


@pytest.mark.parametrize("kwargs, match", [
    ({"seed": -1}, "seed must be between"), ({"seed": 1.5}, "seed must be a whole number"),
    ({"steps": 0}, "steps must be between 1"), ({"cfg": float("nan")}, "cfg must be a number"),
    ({"denoise": 1.5}, "denoise must be between 0 and 1"), ({"width": 8}, "width must be between 16"),
    ({"prompt": 5}, "prompt must be text"), ({"model": "  "}, "model must not be empty"),
    ({"steps": True}, "steps must be a whole number"),
])
def test_overrides_are_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(RerunError, match=match):
        Overrides(**kwargs)


def test_overrides_from_a_request() -> None:
    o = Overrides.from_dict({"seed": 3, "prompt": "x"})
    assert o.given() == {"seed": 3, "prompt": "x"}
    with pytest.raises(RerunError, match="unknown overrides \\['guidance'\\]"):
        Overrides.from_dict({"guidance": 3})
    with pytest.raises(RerunError, match="either a seed or a seed range"):
        per_seed(Overrides(seed=1), [2, 3])


# -- A1111 -------------------------------------------------------------------------------

A1111_TEXT = ("masterpiece, a castle <lora:detail:0.6>\nNegative prompt: lowres\n"
              "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6, Seed: 31337, Size: 512x768, "
              "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.35, Clip skip: 2, "
              "Hires upscale: 2, Hires steps: 12, Hires upscaler: R-ESRGAN 4x+, Variation seed: 99, "
              "Variation seed strength: 0.2, ENSD: 31337, Version: v1.10.1")


def test_a1111_payload_from_a_parsed_record() -> None:
    parsed = parse_a1111(A1111_TEXT)
    assert parsed is not None
    body = a1111.payload(parsed.generation(), parsed.raw())
    assert body == {
        "prompt": "masterpiece, a castle <lora:detail:0.6>", "negative_prompt": "lowres", "seed": 31337,
        "steps": 28, "cfg_scale": 6.0, "sampler_name": "DPM++ 2M", "scheduler": "Karras", "width": 512,
        "height": 768,
        "override_settings": {"sd_model_checkpoint": "v1-5-pruned-emaonly", "CLIP_stop_at_last_layers": 2,
                              "eta_noise_seed_delta": 31337},
        "override_settings_restore_afterwards": True, "subseed": 99, "subseed_strength": 0.2,
        "enable_hr": True, "hr_scale": 2.0, "hr_upscaler": "R-ESRGAN 4x+", "hr_second_pass_steps": 12,
        "denoising_strength": 0.35,
    }


def test_a1111_overrides_and_seed_ranges() -> None:
    parsed = parse_a1111(A1111_TEXT)
    assert parsed is not None
    bodies = a1111.payloads(parsed.generation(), parsed.raw(),
                            Overrides(prompt="a tower", steps=40, cfg=5.5, model="juggernautXL_v9", denoise=0.5),
                            parse_seeds("1..3"))
    assert [b["seed"] for b in bodies] == [1, 2, 3]
    body = bodies[0]
    assert (body["prompt"], body["steps"], body["cfg_scale"]) == ("a tower", 40, 5.5)
    assert body["override_settings"]["sd_model_checkpoint"] == "juggernautXL_v9"
    assert body["denoising_strength"] == 0.5 and body["negative_prompt"] == "lowres"


def test_a1111_payload_edges() -> None:
    plain = Generation(prompt="x", seed=1, model=None, model_hash="abcdef1234")
    # No model name: the hash still pins the checkpoint (the provider resolves hashes).
    assert a1111.payload(plain)["override_settings"]["sd_model_checkpoint"] == "abcdef1234"
    # img2img: the denoise is the img2img strength; init images are the provider's job.
    body = a1111.payload(plain, {"Denoising strength": "0.6"}, img2img=True)
    assert body["denoising_strength"] == 0.6 and "init_images" not in body and "enable_hr" not in body
    with pytest.raises(RerunError, match="denoise applies to img2img or a Hires fix pass"):
        a1111.payload(plain, {}, Overrides(denoise=0.3))
    assert a1111.payload(Generation()) == {"prompt": "", "negative_prompt": ""}
