"""Files built byte for byte the way third-party savers and hosted generators write them:
ComfyUI save nodes (IFD0 UserComment), NovelAI WebP, Civitai's own JPEGs, summaries beside graphs,
A1111 key spellings and A1111-format text written by ComfyUI nodes."""
from __future__ import annotations

import json

import pytest

from alice.pipeline.detect import detect
from alice.pipeline.inspect import inspect_file
from alice.pipeline.metadata import Metadata
from tests import comfy_graphs as cg
from tests import fixturegen as fg

WORKFLOW = {"last_node_id": 3, "nodes": [{"id": 1, "type": "KSampler", "widgets_values": [1, "fixed", 2]}]}


# -- 1. ComfyUI through third-party save nodes: UserComment in IFD0, no charset prefix ----------------
@pytest.mark.parametrize("container", ["jpeg", "webp"])
@pytest.mark.parametrize("as_ascii_type", [False, True])
@pytest.mark.parametrize("prompt_as_string", [False, True])
def test_save_node_usercomment_in_ifd0(tmp_path, container: str, as_ascii_type: bool, prompt_as_string: bool) -> None:
    graph = cg.pixel_hires_fix()
    bundle = json.dumps({"prompt": json.dumps(graph) if prompt_as_string else graph, "workflow": WORKFLOW})
    value = bundle if as_ascii_type else fg.ascii_comment(bundle)       # ASCII (2) or UNDEFINED (7) typed tag
    exif = fg.make_exif({fg.USER_COMMENT: value, fg.SOFTWARE: "ComfyUI"})
    data = fg.make_jpeg(exif) if container == "jpeg" else fg.make_webp(exif)
    info = inspect_file(fg.write(tmp_path, f"save.{container}", data))
    assert info.tool == "comfyui", info.evidence
    assert "exif:UserComment:prompt" in info.evidence
    assert (info.generation.seed, info.generation.model) == (5150, "waiIllustriousSDXL_v160.safetensors")
    assert info.generation.model_name == "waiIllustriousSDXL_v160"


def test_ifd0_comment_kept_beside_a_standard_one(tmp_path) -> None:
    """A1111 text in the Exif sub-IFD stays the UserComment; the IFD0 graph is still found."""
    bundle = json.dumps({"prompt": cg.two_custom_advanced()})
    exif = fg.make_exif({fg.USER_COMMENT: fg.ascii_comment(bundle)},
                        {fg.USER_COMMENT: fg.user_comment("a cat\nSteps: 3, Seed: 4")})
    info = inspect_file(fg.write(tmp_path, "both.jpg", fg.make_jpeg(exif)))
    assert info.tool == "comfyui" and info.generation.seed == 42
    assert "exif:IFD0UserComment:prompt" in info.evidence


# -- 4. NovelAI WebP: UserComment JSON mirroring the PNG chunks, Comment itself a JSON string ----------
NAI_COMMENT = {"prompt": "1girl, rain", "uc": "lowres, bad hands", "seed": 3141592, "steps": 28, "scale": 5.0,
               "sampler": "k_euler_ancestral", "noise_schedule": "karras", "width": 832, "height": 1216}


@pytest.mark.parametrize("with_software_tag", [True, False])
def test_novelai_webp(tmp_path, with_software_tag: bool) -> None:
    record = {"Comment": json.dumps(NAI_COMMENT), "Description": "1girl, rain", "Generation time": "2.1",
              "Software": "NovelAI", "Source": "NovelAI Diffusion V4.5 4BDE2A90", "Title": "NovelAI generated image"}
    ifd0 = {fg.IMAGE_DESCRIPTION: "\x00\x00\x00\x001girl, rain"}
    if with_software_tag:
        ifd0[fg.SOFTWARE] = "NovelAI"
    exif = fg.make_exif(ifd0, {fg.USER_COMMENT: fg.user_comment(json.dumps(record), "ascii")})
    info = inspect_file(fg.write(tmp_path, "nai.webp", fg.make_webp(exif)))
    g = info.generation
    assert info.tool == "novelai"
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg, g.sampler) == (
        "1girl, rain", "lowres, bad hands", 3141592, 28, 5.0, "k_euler_ancestral")
    assert g.model == "NovelAI Diffusion V4.5 4BDE2A90" and (g.width, g.height) == (832, 1216)


# -- 5. Civitai's own files: UTF-16 UserComment, API graph + extraMetadata -----------------------------
EXTRA = {"prompt": "portrait of a sailor", "negativePrompt": "lowres", "seed": 2024, "steps": 25, "cfgScale": 4,
         "sampler": "Euler a", "width": 832, "height": 1216, "baseModel": "SDXL"}
AIR = "urn:air:sdxl:checkpoint:civitai:827184@1410435"


def _civitai_graph() -> dict:
    graph = cg.pixel_hires_fix()
    for node in ("d1", "sc", "e", "b"):
        del graph[node]
    graph["d2"]["inputs"]["samples"] = ["a", 0]
    graph["ckpt"]["inputs"]["ckpt_name"] = AIR
    return graph


def _civitai_upscale_graph() -> dict:
    return {
        "1": {"class_type": "LoadImage", "inputs": {
            "image": "https://orchestration.civitai.com/v2/consumer/blobs/7GQ5ZK0J3X0SW4B2QJ1T9R6E80.jpeg"}},
        "2": {"class_type": "UpscaleModelLoader",
              "inputs": {"model_name": "urn:air:other:upscaler:civitai:147759@164821"}},
        "3": {"class_type": "ImageUpscaleWithModel", "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "ComfyUI"}},
    }


@pytest.mark.parametrize("codec", ["utf-16-be", "utf-16-le"])
def test_civitai_generation(tmp_path, codec: str) -> None:
    graph = _civitai_graph()
    graph["extraMetadata"] = json.dumps(EXTRA)
    exif = fg.make_exif({}, {fg.USER_COMMENT: fg.user_comment(json.dumps(graph), codec)})
    info = inspect_file(fg.write(tmp_path, "civitai.jpeg", fg.make_jpeg(exif)))
    g = info.generation
    assert info.tool == "civitai", info.evidence
    assert any(e.startswith("civitai:resource=urn:air:") for e in info.evidence)
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg) == ("portrait of a sailor", "lowres", 2024, 25, 4.0)
    assert (g.sampler, g.scheduler, g.model) == ("euler_ancestral", "normal", AIR)   # what ran, from the graph


def test_civitai_upscaled_file_reads_the_original_generation(tmp_path) -> None:
    graph = _civitai_upscale_graph()
    graph["extraMetadata"] = json.dumps(EXTRA)
    exif = fg.make_exif({}, {fg.USER_COMMENT: fg.user_comment(json.dumps(graph), "utf-16-le")})
    info = inspect_file(fg.write(tmp_path, "upscaled.jpeg", fg.make_jpeg(exif)))
    g = info.generation
    assert info.tool == "civitai"
    assert (g.prompt, g.seed, g.steps, g.cfg, g.sampler, g.width) == ("portrait of a sailor", 2024, 25, 4.0,
                                                                      "Euler a", 832)


def test_civitai_png_with_extra_metadata_chunk() -> None:
    graph = cg.pixel_hires_fix()
    meta = Metadata(path=None, format="png", media="image",
                    text={"prompt": json.dumps(graph), "extraMetadata": json.dumps(EXTRA)})
    detection = detect(meta)
    assert detection.tool == "civitai" and detection.generation.prompt == "portrait of a sailor"
    assert detection.generation.seed == 2024 and detection.generation.sampler == "euler_ancestral"


def test_civitai_url_alone_names_the_tool() -> None:
    meta = Metadata(path=None, format="jpeg", media="image",
                    exif={"UserComment": json.dumps(_civitai_upscale_graph())})
    detection = detect(meta)
    assert detection.tool == "civitai" and "civitai:url=orchestration.civitai.com" in detection.evidence


def test_plain_comfyui_graph_is_not_civitai() -> None:
    meta = Metadata(path=None, format="png", media="image", text={"prompt": json.dumps(cg.pixel_hires_fix())})
    assert detect(meta).tool == "comfyui"


# -- 6. Summaries that disagree with the graph ------------------------------------------------------
def test_stabilitymatrix_renamed_sampler_comes_from_the_graph() -> None:
    graph = cg.pixel_hires_fix()
    text = "1girl, library\nSteps: 28, Sampler: Euler Ancestral Karras, CFG scale: 6, Seed: 5150, Size: 832x1216"
    record = {"PositivePrompt": "1girl, library", "Seed": 5150, "Steps": 28, "CfgScale": 6,
              "Sampler": "Euler Ancestral Karras", "ModelName": "waiIllustriousSDXL_v160"}
    meta = Metadata(path=None, format="png", media="image",
                    text={"parameters": text, "parameters-json": json.dumps(record), "prompt": json.dumps(graph)})
    detection = detect(meta)
    g = detection.generation
    assert detection.tool == "stabilitymatrix"
    assert (g.sampler, g.scheduler, g.seed, g.model) == ("euler_ancestral", "normal", 5150, "waiIllustriousSDXL_v160")


# -- 7. Spelling variants of A1111 keys ---------------------------------------------------------------
@pytest.mark.parametrize("line", [
    "Steps: 30, Sampler: Euler, CFG Scale: 7.5, Seed: 12, Size: 512x768",
    "steps: 30, sampler: Euler, cfg scale: 7.5, seed: 12, size: 512x768",
    "Steps: 30, Sampler: Euler, cfg_scale: 7.5, SEED: 12, Size: 512x768",
])
def test_a1111_keys_are_case_and_space_tolerant(line: str) -> None:
    meta = Metadata(path=None, format="png", media="image", text={"parameters": f"a cat\nnegative prompt: dog\n{line}"})
    g = detect(meta).generation
    assert (g.prompt, g.negative_prompt, g.steps, g.cfg, g.seed, g.width) == ("a cat", "dog", 30, 7.5, 12, 512)


# -- 8. A1111-format text written by ComfyUI nodes ------------------------------------------------------
SAVER_TEXT = ("1girl, library\nNegative prompt: lowres\nSteps: 28, Sampler: euler_ancestral_karras, CFG scale: 6.0, "
              "Seed: 1125899906842624, Size: 832x1216, Model: waiIllustriousSDXL_v160.safetensors, "
              'Hashes: {"model": "a5f58eb1c3", "lora:add_detail": "7c6bde1c1c"}')


def test_a1111_text_from_comfyui_node_is_comfyui() -> None:
    detection = detect(Metadata(path=None, format="png", media="image", text={"parameters": SAVER_TEXT}))
    g = detection.generation
    assert detection.tool == "comfyui", detection.evidence
    assert (g.sampler, g.scheduler, g.seed) == ("euler_ancestral", "karras", 1125899906842624)
    assert (g.model, g.model_name, g.loras) == ("waiIllustriousSDXL_v160.safetensors", "waiIllustriousSDXL_v160",
                                                ["add_detail"])


@pytest.mark.parametrize("mark", ["Sampler: dpmpp_2m", "Seed: 5000000000", "Model: m.safetensors"])
def test_each_comfyui_mark_alone_decides(mark: str) -> None:
    text = f"a cat\nSteps: 20, {mark}"
    assert detect(Metadata(path=None, format="png", media="image", text={"parameters": text})).tool == "comfyui"


@pytest.mark.parametrize("text", [
    "a cat\nSteps: 20, Sampler: DPM++ 2M, Seed: 5, Model: dreamshaper_8",
    "a cat\nSteps: 20, Sampler: dpmpp_2m, Seed: 5000000000, Model: m.safetensors, Version: v1.10.1",
    'a cat\nSteps: 20, Sampler: Euler a, Seed: 5, Hashes: {"model": "abc"}',     # A1111's Civitai extension
])
def test_a1111_text_without_marks_or_with_a1111_version_stays_a1111(text: str) -> None:
    assert detect(Metadata(path=None, format="png", media="image", text={"parameters": text})).tool == "a1111"


# -- conventions -----------------------------------------------------------------------------------
def test_placeholder_seed_is_never_reported() -> None:
    text = "a cat\nSteps: 20, Sampler: Euler a, Seed: -1, Version: v1.10.1"
    assert detect(Metadata(path=None, format="png", media="image", text={"parameters": text})).generation.seed is None
