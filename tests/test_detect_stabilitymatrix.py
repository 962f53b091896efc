from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.metadata import Metadata

PARAMS = {"PositivePrompt": "a valley", "NegativePrompt": "haze", "Seed": 9, "Steps": 24, "CfgScale": 6.5,
          "Sampler": "euler", "Scheduler": "normal", "ModelName": "sdxl.safetensors", "ModelHash": "ff",
          "Width": 832, "Height": 1216}
GRAPH = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 2, "sampler_name": "x"}}}


def test_parameters_json_wins_over_comfy_prompt() -> None:
    meta = Metadata(path=None, format="png", media="image",
                    text={"parameters": "a valley\nSteps: 24, Seed: 9, Version: x", "parameters-json":
                          json.dumps(PARAMS), "smproj": "{}", "prompt": json.dumps(GRAPH)})
    detection = detect(meta)
    g = detection.generation
    assert detection.tool == "stabilitymatrix"
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg, g.model, g.width) == (
        "a valley", "haze", 9, 24, 6.5, "sdxl.safetensors", 832)


def test_smproj_alone_with_a1111_text() -> None:
    meta = Metadata(path=None, format="png", media="image",
                    text={"parameters": "a hill\nSteps: 10, Seed: 3", "smproj": "{}"})
    detection = detect(meta)
    assert detection.tool == "stabilitymatrix" and detection.generation.seed == 3
