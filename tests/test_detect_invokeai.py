from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.metadata import Metadata


def _detect(**text):
    return detect(Metadata(path=None, format="png", media="image", text=text))


def test_v3_invokeai_metadata() -> None:
    record = {"positive_prompt": "a boat", "negative_prompt": "rust", "seed": 5, "steps": 30, "cfg_scale": 7,
              "scheduler": "dpmpp_2m", "model": {"name": "sdxl", "hash": "blake3:ab"}, "width": 896,
              "height": 1152, "loras": [{"model": {"name": "style"}, "weight": 0.7}]}
    detection = _detect(invokeai_metadata=json.dumps(record), invokeai_graph="{}")
    g = detection.generation
    assert detection.tool == "invokeai"
    assert (g.prompt, g.negative_prompt, g.seed, g.sampler, g.model, g.model_hash) == (
        "a boat", "rust", 5, "dpmpp_2m", "sdxl", "blake3:ab")
    assert g.loras == ["style"] and (g.width, g.height) == (896, 1152)


def test_v2_sd_metadata_with_bracket_negative() -> None:
    record = {"model_weights": "sd15", "app_id": "invoke-ai/InvokeAI",
              "image": {"prompt": [{"prompt": "a dog [cat, bird]", "weight": 1}], "seed": 1, "steps": 10,
                        "cfg_scale": 7.5, "sampler": "k_lms", "width": 512, "height": 512}}
    g = _detect(**{"sd-metadata": json.dumps(record)}).generation
    assert (g.prompt, g.negative_prompt, g.model, g.cfg) == ("a dog", "cat, bird", "sd15", 7.5)


def test_v1_dream_command_line() -> None:
    detection = _detect(Dream='"a tree at dusk [fog]" -s 40 -S 123 -W 640 -H 480 -C 7.5 -A k_euler_a')
    g = detection.generation
    assert detection.tool == "invokeai"
    assert (g.prompt, g.negative_prompt, g.steps, g.seed, g.width, g.height, g.cfg, g.sampler) == (
        "a tree at dusk", "fog", 40, 123, 640, 480, 7.5, "k_euler_a")


def test_graph_only_is_still_invokeai() -> None:
    assert _detect(invokeai_graph='{"nodes": {}}').tool == "invokeai"


def test_unbalanced_quotes_in_dream_do_not_crash() -> None:
    assert _detect(Dream='"unterminated -s 5').tool == "invokeai"


def test_loras_that_are_not_a_list_are_ignored() -> None:
    """Found by tests/test_inspect_fuzz.py: a double-encoded record with "loras": true."""
    meta = Metadata(path=None, format="png", media="image",
                    text={"invokeai_metadata": json.dumps(json.dumps({"loras": True, "seed": 3}))})
    detection = detect(meta)
    assert not [w for w in meta.warnings if "failed:" in w], meta.warnings
    assert detection.tool == "invokeai" and detection.generation.loras == []
