from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.metadata import Metadata

RECORD = {"prompt": "a goldfish", "negative_prompt": "", "steps": 30, "guidance_scale": 4, "seed": "695241",
          "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras", "base_model": "juggernautXL_v8",
          "base_model_hash": "aeb7", "resolution": "(768, 1280)", "loras": [["add_detail.safetensors", 0.5]],
          "version": "Fooocus v2.4.3"}


def _meta(**kw) -> Metadata:
    return Metadata(path=None, format=kw.pop("format", "png"), media="image", **kw)


def test_json_parameters_with_scheme() -> None:
    detection = detect(_meta(text={"parameters": json.dumps(RECORD), "fooocus_scheme": "fooocus"}))
    g = detection.generation
    assert detection.tool == "fooocus"
    assert (g.prompt, g.negative_prompt, g.seed, g.cfg, g.model, g.width, g.height) == (
        "a goldfish", None, 695241, 4.0, "juggernautXL_v8", 768, 1280)
    assert g.loras == ["add_detail"]


def test_a1111_scheme_text() -> None:
    text = "a goldfish\nNegative prompt: x\nSteps: 30, Seed: 5, Version: Fooocus v2.4.3"
    detection = detect(_meta(text={"parameters": text, "fooocus_scheme": "a1111"}))
    assert detection.tool == "fooocus" and detection.generation.steps == 30


def test_jpeg_software_and_usercomment() -> None:
    detection = detect(_meta(format="jpeg", exif={"Software": "Fooocus v2.5.0",
                                                 "UserComment": json.dumps(RECORD)}))
    assert detection.tool == "fooocus" and detection.generation.seed == 695241


def test_ruinedfooocus_and_mre() -> None:
    ruined = {"Prompt": "a ship", "Negative": "fog", "steps": 20, "cfg": 8, "seed": 1, "width": 512,
              "height": 512, "base_model_name": "sdxl", "software": "RuinedFooocus"}
    detection = detect(_meta(text={"parameters": json.dumps(ruined)}))
    assert detection.tool == "fooocus"
    assert (detection.generation.prompt, detection.generation.negative_prompt) == ("a ship", "fog")
    mre = {"prompt": "a hill", "seed": 3, "software": "Fooocus-MRE"}
    assert detect(_meta(text={"Comment": json.dumps(mre)})).tool == "fooocus"
