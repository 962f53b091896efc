"""Multi-pass ComfyUI graphs: the base pass gives the top-level fields, every pass is listed,
values are followed through custom nodes and switches, and locate_base_pass says where they live."""
from __future__ import annotations

import copy

import pytest

from alice.pipeline.detect.comfy_graph import locate_base_pass, read_graph
from tests import comfy_graphs as cg
from tests.test_detect_comfyui import GRAPH as LATENT_HIRES


def test_sdxl_base_and_refiner() -> None:
    g, facts = read_graph(cg.sdxl_base_refiner(), "png")
    assert (facts["sampler_node"], facts["final_node"]) == ("10", "11")
    assert (g.seed, g.steps, g.cfg, g.sampler, g.scheduler) == (111, 25, 8.0, "dpmpp_2m", "karras")
    assert g.model == "sd_xl_base_1.0.safetensors"
    assert (g.prompt, g.negative_prompt, g.width, g.height) == ("a lighthouse at dusk", "blurry", 1024, 1024)
    base, refiner = g.passes
    assert (base["node"], base["seed"], base["model"], base["end_at_step"]) == (
        "10", 111, "sd_xl_base_1.0.safetensors", 20)
    assert refiner["node"] == "11" and refiner["model"] == "sd_xl_refiner_1.0.safetensors"
    assert "seed" not in refiner          # add_noise disable: its noise_seed 0 is not a seed


def test_two_sampler_custom_advanced_passes_with_own_schedulers() -> None:
    g, _ = read_graph(cg.two_custom_advanced(), "png")
    assert (g.seed, g.steps, g.sampler, g.scheduler, g.cfg) == (42, 20, "euler", "simple", 3.5)
    assert (g.model, g.width, g.height, g.prompt) == ("flux1-dev.safetensors", 1024, 768, "a glass city")
    assert [(p["node"], p["seed"], p["steps"], p["scheduler"], p["denoise"]) for p in g.passes] == [
        ("s1", 42, 20, "simple", 1.0), ("s2", 43, 10, "beta", 0.35)]
    assert g.passes[1]["sampler"] == "dpmpp_2m" and g.passes[1]["class"] == "SamplerCustomAdvanced"


def test_wan22_high_and_low_noise_pair() -> None:
    g, _ = read_graph(cg.wan22_high_low(), "mp4")
    assert (g.seed, g.steps, g.cfg, g.width, g.height) == (777, 20, 3.5, 1280, 704)
    assert g.model == "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors"
    assert [p.get("model") for p in g.passes] == ["wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors",
                                                  "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors"]
    assert [p.get("seed") for p in g.passes] == [777, None]


def test_pixel_space_hires_fix() -> None:
    g, _ = read_graph(cg.pixel_hires_fix(), "png")
    assert (g.seed, g.steps, g.sampler, g.scheduler, g.width, g.height) == (
        5150, 28, "euler_ancestral", "normal", 832, 1216)
    assert [(p["node"], p["denoise"]) for p in g.passes] == [("a", 1.0), ("b", 0.45)]


def test_single_img2img_pass_is_its_own_base() -> None:
    graph = cg.pixel_hires_fix()
    for node in ("a", "d1", "lat"):
        del graph[node]
    graph["sc"]["inputs"]["image"] = ["load", 0]
    graph["load"] = {"class_type": "LoadImage", "inputs": {"image": "photo.png"}}
    g, facts = read_graph(graph, "png")
    assert (facts["sampler_node"], facts["fresh"], g.seed, g.passes) == ("b", False, 9, [])


def test_links_through_custom_text_nodes_switches_and_lora_stack() -> None:
    g, _ = read_graph(cg.routed_through_custom_nodes(), "png")
    assert g.prompt == "a knight in the rain"
    assert g.negative_prompt == "cartoon"                     # the boolean switch is False
    assert g.model == "ponyRealism_v22.safetensors"          # Input 2 of the model switch
    assert g.loras == ["add_detail"]                          # slot 2 is Off, slot 3 is None
    assert g.seed == 8675309


def test_power_lora_loader_entries_switched_off_are_not_used() -> None:
    graph = cg.routed_through_custom_nodes()
    graph["apply"] = {"class_type": "Power Lora Loader (rgthree)", "inputs": {
        "model": ["msw", 0], "clip": ["ckptB", 1],
        "lora_1": {"on": True, "lora": "skin.safetensors", "strength": 0.8},
        "lora_2": {"on": False, "lora": "anime.safetensors", "strength": 1}}}
    g, _ = read_graph(graph, "png")
    assert g.loras == ["skin"]


def test_cycles_through_switch_nodes_terminate() -> None:
    g, _ = read_graph(cg.switch_cycle(), "png")
    assert g.seed == 8675309 and g.prompt is None and g.model is None


@pytest.mark.parametrize("build, expected", [
    (cg.two_custom_advanced, {"seed": ("n1", "noise_seed"), "steps": ("sch1", "steps"), "cfg": ("fg", "guidance"),
                              "sampler": ("sel1", "sampler_name"), "scheduler": ("sch1", "scheduler"),
                              "denoise": ("sch1", "denoise"), "prompt": ("txt", "text"),
                              "model": ("unet", "unet_name"), "width": ("lat", "width"),
                              "height": ("lat", "height")}),
    (cg.sdxl_base_refiner, {"seed": ("10", "noise_seed"), "steps": ("10", "steps"), "cfg": ("10", "cfg"),
                            "sampler": ("10", "sampler_name"), "scheduler": ("10", "scheduler"),
                            "prompt": ("pos", "text"), "negative_prompt": ("neg", "text"),
                            "model": ("ckpt", "ckpt_name"), "width": ("lat", "width"), "height": ("lat", "height")}),
    (cg.routed_through_custom_nodes, {"seed": ("seed", "seed"), "prompt": ("tm", "text"),
                                      "negative_prompt": ("negB", "text"), "model": ("ckptB", "ckpt_name"),
                                      "denoise": ("k", "denoise"), "steps": ("k", "steps"), "cfg": ("k", "cfg"),
                                      "sampler": ("k", "sampler_name"), "scheduler": ("k", "scheduler"),
                                      "width": ("lat", "width"), "height": ("lat", "height")}),
    (lambda: LATENT_HIRES, {"seed": ("seed", "seed"), "prompt": ("p1", "value"), "negative_prompt": ("b", "text"),
                            "model": ("901", "ckpt_name"), "steps": ("s1", "steps"), "cfg": ("s1", "cfg"),
                            "sampler": ("s1", "sampler_name"), "scheduler": ("s1", "scheduler"),
                            "denoise": ("s1", "denoise"), "width": ("lat", "width"), "height": ("lat", "height")}),
])
def test_locate_base_pass(build, expected: dict) -> None:
    assert locate_base_pass(build()) == expected


_NEW_VALUES = {"seed": 99, "steps": 7, "cfg": 2.5, "sampler": "heun", "scheduler": "exponential",
               "prompt": "a new prompt", "negative_prompt": "a new negative", "model": "other.safetensors",
               "width": 512, "height": 640}


@pytest.mark.parametrize("build", [cg.two_custom_advanced, cg.sdxl_base_refiner, cg.wan22_high_low,
                                   cg.pixel_hires_fix, cg.routed_through_custom_nodes])
def test_writing_at_a_location_changes_that_field(build) -> None:
    """The vary contract: a literal written where locate_base_pass points is what the walk reads back."""
    graph = build()
    for name, (node, key) in locate_base_pass(graph).items():
        if name not in _NEW_VALUES:
            continue
        changed = copy.deepcopy(graph)
        changed[node]["inputs"][key] = _NEW_VALUES[name]
        generation, _ = read_graph(changed)
        assert getattr(generation, name) == _NEW_VALUES[name], name


def test_locate_base_pass_of_garbage_is_empty() -> None:
    assert locate_base_pass({}) == {}
    assert locate_base_pass({"1": {"class_type": "SaveImage", "inputs": {"images": ["2", 0]}}}) == {}
