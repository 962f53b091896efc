from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.metadata import Metadata

RESOURCES = [{"type": "checkpoint", "modelName": "Pony Diffusion V6 XL", "modelVersionId": 290640},
             {"type": "lora", "modelName": "Detail Tweaker", "weight": 0.6}]


def test_civitai_resources_in_usercomment() -> None:
    text = ("a knight\nNegative prompt: bad\nSteps: 30, Sampler: Euler a, CFG scale: 5, Seed: 11, Size: 832x1216, "
            f"Civitai resources: {json.dumps(RESOURCES)}, Civitai metadata: {{}}")
    detection = detect(Metadata(path=None, format="jpeg", media="image", exif={"UserComment": text}))
    g = detection.generation
    assert detection.tool == "civitai"
    assert (g.prompt, g.seed, g.model, g.loras) == ("a knight", 11, "Pony Diffusion V6 XL", ["Detail Tweaker"])
    assert "civitai:Civitai resources" in detection.evidence


def test_plain_a1111_text_is_not_civitai() -> None:
    detection = detect(Metadata(path=None, format="png", media="image",
                                text={"parameters": "a knight\nSteps: 30, Seed: 11, Version: v1.9.0"}))
    assert detection.tool == "a1111"
