from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.metadata import Metadata


def test_diffusers_json_parameters() -> None:
    record = {"prompt": "a robot", "negative_prompt": "", "resolution": "832 x 1216", "guidance_scale": 7,
              "num_inference_steps": 28, "style_preset": "Anime", "seed": 5, "sampler": "Euler a",
              "Model": "Animagine XL 3.1", "Model hash": "e3c47aedb0"}
    detection = detect(Metadata(path=None, format="png", media="image", text={"parameters": json.dumps(record)}))
    g = detection.generation
    assert detection.tool == "huggingface"
    assert (g.prompt, g.negative_prompt, g.steps, g.cfg, g.width, g.height, g.model) == (
        "a robot", None, 28, 7.0, 832, 1216, "Animagine XL 3.1")


def test_other_json_parameters_are_not_huggingface() -> None:
    detection = detect(Metadata(path=None, format="png", media="image", text={"parameters": '{"prompt": "x"}'}))
    assert detection.tool is None
