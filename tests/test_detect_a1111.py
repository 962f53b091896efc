"""A1111 text and the tools that share it: Forge, SD.Next, ComfyUI image savers."""
from __future__ import annotations

import pytest

from alice.pipeline.detect import detect
from alice.pipeline.detect.a1111_text import parse_a1111, parse_params_line
from alice.pipeline.inspect import inspect_file
from alice.pipeline.metadata import Metadata
from tests import fixturegen as fg

TEXT = (
    "a cat <lora:catStyle:0.8>, masterpiece\nsecond line\n"
    "Negative prompt: ugly, blurry\n"
    'Steps: 20.0, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, '
    'Model hash: abc123, Model: sdxl_base, Lora hashes: "catStyle: 111, other: 222", Version: {version}'
)


def _meta(**text: str) -> Metadata:
    return Metadata(path=None, format="png", media="image", text=text)


@pytest.mark.parametrize("version, extra, tool", [
    ("v1.10.1", "", "a1111"),
    ("f2.0.1v1.10.1-previous-669-gdfdcbab6", "", "forge"),
    ("neo", "", "forge"),
    ("classic", "", "forge"),
    ("2f28ee4", ", App: SD.Next", "sdnext"),
])
def test_tool_told_apart_by_version_and_app(version: str, extra: str, tool: str) -> None:
    detection = detect(_meta(parameters=TEXT.format(version=version) + extra))
    assert detection.tool == tool and detection.ai
    g = detection.generation
    assert g.prompt == "a cat <lora:catStyle:0.8>, masterpiece\nsecond line"
    assert g.negative_prompt == "ugly, blurry"
    assert (g.seed, g.steps, g.cfg, g.sampler, g.scheduler) == (1234, 20, 7.5, "DPM++ 2M", "Karras")
    assert (g.model, g.model_hash, g.width, g.height) == ("sdxl_base", "abc123", 512, 768)
    assert g.loras == ["catStyle", "other"]
    assert detection.evidence[0] == "png:text:parameters"


def test_quoted_values_keep_their_commas() -> None:
    params = parse_params_line('Steps: 5, Sampler: "A, B", Hashes: {"model": "1", "vae": "2"}, Seed: 3')
    assert params == {"Steps": "5", "Sampler": "A, B", "Hashes": '{"model": "1", "vae": "2"}', "Seed": "3"}


def test_wrong_types_become_none() -> None:
    parsed = parse_a1111("p\nSteps: many, Seed: None, CFG scale: high, Size: big")
    g = parsed.generation()
    assert (g.steps, g.seed, g.cfg, g.width) == (None, None, None, None)


def test_text_without_steps_is_not_a1111() -> None:
    assert parse_a1111("just a caption") is None
    assert detect(_meta(parameters="just a caption")).tool is None


def test_extras_tab_postprocessing_chunk() -> None:
    detection = detect(_meta(postprocessing="Postprocess upscale by: 4, Postprocess upscaler: R-ESRGAN"))
    assert detection.tool == "a1111" and detection.evidence == ["png:text:postprocessing"]


def test_comfyui_image_saver_text_is_comfyui() -> None:
    text = "p\nSteps: 28, Sampler: Euler, Seed: 5, Model: flux.safetensors, Lora_0 Model name: a.safetensors"
    detection = detect(_meta(parameters=text))
    assert detection.tool == "comfyui"
    assert detection.generation.loras == ["a"]


@pytest.mark.parametrize("container", ["png", "png-itxt", "png-after-idat", "jpeg-be", "jpeg-le", "webp"])
def test_every_container_carries_the_text(tmp_path, container: str) -> None:
    text = TEXT.format(version="v1.9.0") + " ünï"
    if container == "png":
        data = fg.make_png([fg.text_chunk("parameters", text, encoding="utf-8")])
    elif container == "png-itxt":
        data = fg.make_png([fg.itxt_chunk("parameters", text)])
    elif container == "png-after-idat":
        data = fg.make_png(after=[fg.itxt_chunk("parameters", text, compressed=True)])
    elif container.startswith("jpeg"):
        order = "utf-16-be" if container == "jpeg-be" else "utf-16-le"
        data = fg.make_jpeg(fg.make_exif(exif_ifd={fg.USER_COMMENT: fg.user_comment(text, order)}))
    else:
        data = fg.make_webp(fg.make_exif(exif_ifd={fg.USER_COMMENT: fg.user_comment(text)}))
    info = inspect_file(fg.write(tmp_path, "f.bin", data))
    assert info.tool == "a1111"
    assert info.generation.seed == 1234
    assert info.generation.prompt.startswith("a cat")
