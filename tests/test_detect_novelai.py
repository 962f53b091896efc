from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.metadata import Metadata

COMMENT = {"prompt": "1girl, sky", "steps": 28, "sampler": "k_euler", "seed": 99, "scale": 5.5, "uc": "lowres",
           "width": 832, "height": 1216, "noise_schedule": "karras", "signed_hash": "abc"}


def test_png_chunks() -> None:
    meta = Metadata(path=None, format="png", media="image",
                    text={"Software": "NovelAI", "Source": "NovelAI Diffusion V3 7BCCAA2C", "Description": "x",
                          "Comment": json.dumps(COMMENT)})
    detection = detect(meta)
    g = detection.generation
    assert detection.tool == "novelai"
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg, g.scheduler, g.model) == (
        "1girl, sky", "lowres", 99, 28, 5.5, "karras", "NovelAI Diffusion V3 7BCCAA2C")
    assert detection.raw["Comment"]["signed_hash"] == "abc"


def test_v4_caption_prompt_and_description_fallback() -> None:
    comment = {"v4_prompt": {"caption": {"base_caption": "a fox"}}, "seed": "None", "steps": "28.0"}
    meta = Metadata(path=None, format="png", media="image",
                    text={"Software": "NovelAI", "Comment": json.dumps(comment)})
    g = detect(meta).generation
    assert (g.prompt, g.seed, g.steps) == ("a fox", None, 28)


def test_webp_usercomment_json() -> None:
    record = {"Software": "NovelAI", "Description": "desc", "Comment": json.dumps(COMMENT)}
    meta = Metadata(path=None, format="webp", media="image", exif={"UserComment": json.dumps(record)})
    detection = detect(meta)
    assert detection.tool == "novelai" and detection.generation.seed == 99


def test_comment_that_is_not_json() -> None:
    meta = Metadata(path=None, format="png", media="image",
                    text={"Software": "NovelAI", "Description": "only a prompt", "Comment": "{broken"})
    detection = detect(meta)
    assert detection.tool == "novelai" and detection.generation.prompt == "only a prompt"
