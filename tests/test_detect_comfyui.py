"""ComfyUI: graphs in PNG chunks, WebP EXIF, save-node comments and video tags, read by walking."""
from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.detect.comfy_graph import read_graph
from alice.pipeline.inspect import inspect_file
from alice.pipeline.metadata import Metadata
from tests import fixturegen as fg

# Node ids deliberately unusual: the walk must not depend on them.
GRAPH = {
    "901": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
    "17": {"class_type": "LoraLoader", "inputs": {"lora_name": "detail.safetensors", "model": ["901", 0],
                                                  "clip": ["901", 1]}},
    "a": {"class_type": "CLIPTextEncode", "inputs": {"text": ["p1", 0], "clip": ["17", 1]}},
    "p1": {"class_type": "PrimitiveString", "inputs": {"value": "a red fox in snow"}},
    "b": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["17", 1]}},
    "lat": {"class_type": "EmptyLatentImage", "inputs": {"width": 640, "height": 832, "batch_size": 1}},
    "seed": {"class_type": "Seed (rgthree)", "inputs": {"seed": 424242}},
    "s1": {"class_type": "KSampler", "inputs": {"seed": ["seed", 0], "steps": "25", "cfg": 6.5,
                                                "sampler_name": "dpmpp_2m", "scheduler": "karras", "denoise": 1,
                                                "model": ["17", 0], "positive": ["a", 0], "negative": ["b", 0],
                                                "latent_image": ["lat", 0]}},
    "up": {"class_type": "LatentUpscaleBy", "inputs": {"samples": ["s1", 0], "scale_by": 1.5}},
    "s2": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 10, "cfg": 5, "sampler_name": "euler",
                                                "scheduler": "normal", "denoise": 0.4, "model": ["17", 0],
                                                "positive": ["a", 0], "negative": ["b", 0],
                                                "latent_image": ["up", 0]}},
    "dec": {"class_type": "VAEDecode", "inputs": {"samples": ["s2", 0], "vae": ["901", 2]}},
    "save": {"class_type": "SaveImage", "inputs": {"images": ["dec", 0], "filename_prefix": "x"}},
}
WORKFLOW = {"last_node_id": 1, "nodes": [{"id": 1, "type": "KSampler", "widgets_values": [99, "fixed", 12, 4.0,
                                                                                        "euler", "normal", 1]}]}


def _meta(**kw) -> Metadata:
    return Metadata(path=None, format=kw.pop("format", "png"), media="image", **kw)


def test_walk_reports_base_pass_texts_model_loras() -> None:
    generation, facts = read_graph(GRAPH, "png")
    assert (facts["sampler_node"], facts["final_node"]) == ("s1", "s2")
    assert generation.prompt == "a red fox in snow"
    assert generation.negative_prompt == "blurry"
    assert (generation.seed, generation.steps, generation.cfg) == (424242, 25, 6.5)
    assert generation.model == "dreamshaper_8.safetensors"
    assert generation.loras == ["detail"]
    assert [(p["node"], p["seed"], p["denoise"]) for p in generation.passes] == [("s1", 424242, 1), ("s2", 7, 0.4)]


def test_linked_seed_and_string_steps_are_resolved() -> None:
    graph = {k: v for k, v in GRAPH.items() if k not in ("up", "s2")}
    graph["dec"] = {"class_type": "VAEDecode", "inputs": {"samples": ["s1", 0]}}
    generation, _ = read_graph(graph)
    assert (generation.seed, generation.steps, generation.width, generation.height) == (424242, 25, 640, 832)


def test_sampler_custom_advanced_chain() -> None:
    graph = {
        "u": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors"}},
        "t": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse"}},
        "g": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["t", 0]}},
        "guider": {"class_type": "BasicGuider", "inputs": {"model": ["u", 0], "conditioning": ["g", 0]}},
        "n": {"class_type": "RandomNoise", "inputs": {"noise_seed": 55}},
        "k": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "sch": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20, "model": ["u", 0]}},
        "l": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768}},
        "s": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["n", 0], "guider": ["guider", 0],
                                                                "sampler": ["k", 0], "sigmas": ["sch", 0],
                                                                "latent_image": ["l", 0]}},
    }
    g, _ = read_graph(graph)
    assert (g.prompt, g.seed, g.steps, g.cfg, g.sampler, g.scheduler, g.model) == (
        "a lighthouse", 55, 20, 3.5, "euler", "simple", "flux1-dev.safetensors")
    assert (g.width, g.height) == (1024, 768)


def test_cyclic_and_dangling_links_terminate() -> None:
    graph = {
        "1": {"class_type": "KSampler", "inputs": {"seed": ["2", 0], "steps": 5, "positive": ["3", 0],
                                                   "model": ["9", 0]}},
        "2": {"class_type": "Loop", "inputs": {"seed": ["2", 0]}},
        "3": {"class_type": "Cond", "inputs": {"conditioning": ["4", 0]}},
        "4": {"class_type": "Cond", "inputs": {"conditioning": ["3", 0]}},
    }
    g, _ = read_graph(graph)
    assert g.steps == 5 and g.seed is None and g.prompt is None


def test_png_prompt_chunk() -> None:
    detection = detect(_meta(text={"prompt": json.dumps(GRAPH), "workflow": json.dumps(WORKFLOW)}))
    assert detection.tool == "comfyui"
    assert detection.evidence[:2] == ["png:text:prompt", "png:text:workflow"]
    assert detection.raw["prompt"]["s2"]["class_type"] == "KSampler"


def test_workflow_only_uses_widget_values() -> None:
    detection = detect(_meta(text={"workflow": json.dumps(WORKFLOW)}))
    assert detection.tool == "comfyui"
    assert (detection.generation.seed, detection.generation.steps) == (99, 12)


def test_webp_exif_make_model(tmp_path) -> None:
    exif = fg.make_exif({fg.MAKE: "workflow:" + json.dumps(WORKFLOW), fg.MODEL: "prompt:" + json.dumps(GRAPH)})
    for name, block in (("h.webp", exif), ("n.webp", exif[6:])):
        info = inspect_file(fg.write(tmp_path, name, fg.make_webp(block, animated=True)))
        assert info.tool == "comfyui" and info.media == "video"
        assert info.generation.seed == 424242
        assert "exif:Model=prompt:" in info.evidence


def test_third_party_usercomment_json_and_image_description() -> None:
    bundle = json.dumps({"prompt": json.dumps(GRAPH), "workflow": WORKFLOW})
    detection = detect(_meta(format="jpeg", exif={"UserComment": bundle}))
    assert detection.tool == "comfyui" and detection.generation.seed == 424242
    detection = detect(_meta(format="jpeg", exif={"ImageDescription": "Workflow: " + json.dumps(WORKFLOW)}))
    assert detection.tool == "comfyui" and detection.generation.steps == 12


def test_video_node_comment_tag() -> None:
    meta = Metadata(path=None, format="mp4", media="video",
                    video_tags={"comment": json.dumps({"prompt": GRAPH, "workflow": WORKFLOW})})
    detection = detect(meta)
    assert detection.tool == "comfyui" and detection.evidence[0] == "video:tag:comment:prompt"
    assert detection.generation.prompt == "a red fox in snow"


def test_prompt_chunk_that_is_plain_text_is_not_comfyui() -> None:
    assert detect(_meta(text={"prompt": "a cat"})).tool is None
    assert detect(_meta(text={"prompt": "{not json"})).tool is None


def test_real_mp4_with_video_node_comment(tmp_path) -> None:
    """VideoHelperSuite-style: the graph travels in the container's comment tag."""
    import subprocess

    import imageio_ffmpeg

    path = tmp_path / "comfy.mp4"
    comment = json.dumps({"prompt": GRAPH, "workflow": WORKFLOW})
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "color=c=red:s=32x32:d=0.1", "-metadata", f"comment={comment}", "-c:v", "mpeg4", str(path)],
                   check=True, timeout=60)
    info = inspect_file(path)
    assert (info.format, info.media, info.tool) == ("mp4", "video", "comfyui")
    assert info.generation.prompt == "a red fox in snow" and info.generation.seed == 424242


def test_controlnet_node_carrying_both_sides_does_not_mix_prompts() -> None:
    graph = {
        "p": {"class_type": "CLIPTextEncode", "inputs": {"text": "a castle"}},
        "n": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres"}},
        "cn": {"class_type": "ControlNetApplyAdvanced", "inputs": {"positive": ["p", 0], "negative": ["n", 0],
                                                                   "control_net": ["x", 0], "strength": 1}},
        "s": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20, "sampler_name": "euler",
                                                   "positive": ["cn", 0], "negative": ["cn", 1]}},
    }
    generation, _ = read_graph(graph)
    assert (generation.prompt, generation.negative_prompt) == ("a castle", "lowres")


def test_efficiency_nodes_loader_holding_both_prompts() -> None:
    graph = {
        "load": {"class_type": "Efficient Loader", "inputs": {"ckpt_name": "realvis.safetensors",
                                                              "positive": "a meadow", "negative": "people",
                                                              "lora_name": "None", "empty_latent_width": 768}},
        "s": {"class_type": "KSampler (Efficient)", "inputs": {"seed": 3, "steps": 25, "cfg": 7,
                                                               "sampler_name": "euler", "model": ["load", 0],
                                                               "positive": ["load", 1], "negative": ["load", 2]}},
    }
    generation, _ = read_graph(graph)
    assert (generation.prompt, generation.negative_prompt, generation.model) == ("a meadow", "people", "realvis.safetensors")
    assert generation.loras == []


def test_efficient_loader_latent_is_fresh_noise() -> None:
    graph = {
        "load": {"class_type": "Efficient Loader", "inputs": {"ckpt_name": "realvis.safetensors", "positive": "a",
                                                              "negative": "b", "empty_latent_width": 768,
                                                              "empty_latent_height": 512}},
        "s": {"class_type": "KSampler (Efficient)", "inputs": {"seed": 3, "steps": 25, "cfg": 7, "denoise": 1,
                                                               "sampler_name": "euler", "model": ["load", 0],
                                                               "positive": ["load", 1], "negative": ["load", 2],
                                                               "latent_image": ["load", 3]}},
    }
    generation, facts = read_graph(graph)
    assert facts["fresh"] and (generation.width, generation.height) == (768, 512)
