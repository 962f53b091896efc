from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.inspect import inspect_file
from alice.pipeline.metadata import Metadata
from tests import fixturegen as fg

FIELDS = {"prompt": "a dragon", "negative_prompt": "text", "seed": "42", "use_stable_diffusion_model":
          "C:\\models\\sd-v1-5.safetensors", "sampler_name": "euler_a", "num_inference_steps": "25",
          "guidance_scale": "7.5", "width": "512", "height": "768"}


def test_one_chunk_per_field(tmp_path) -> None:
    data = fg.make_png([fg.text_chunk(k, v) for k, v in FIELDS.items()])
    info = inspect_file(fg.write(tmp_path, "ed.png", data))
    g = info.generation
    assert info.tool == "easydiffusion"
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg, g.sampler, g.model, g.width) == (
        "a dragon", "text", 42, 25, 7.5, "euler_a", "sd-v1-5.safetensors", 512)


def test_older_capitalised_fields() -> None:
    meta = Metadata(path=None, format="png", media="image",
                    text={"Prompt": "a hill", "Negative Prompt": "x", "Seed": "1",
                          "Stable Diffusion model": "sd15", "Steps": "20"})
    detection = detect(meta)
    assert detection.tool == "easydiffusion" and detection.generation.model == "sd15"


def test_jpeg_usercomment_json() -> None:
    meta = Metadata(path=None, format="jpeg", media="image", exif={"UserComment": json.dumps(FIELDS)})
    assert detect(meta).tool == "easydiffusion"


def test_bare_prompt_chunk_is_not_enough() -> None:
    assert detect(Metadata(path=None, format="png", media="image", text={"prompt": "a dragon"})).tool is None
