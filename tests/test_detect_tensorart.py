from __future__ import annotations

import json

from alice.pipeline.inspect import inspect_file
from tests import fixturegen as fg

DATA = {"prompt": "少女, 花", "negativePrompt": "lowres", "seed": "-1", "steps": 25, "cfgScale": 7,
        "width": 768, "height": 1024, "baseModel": {"modelFileName": "majicmix.safetensors", "hash": "abc"},
        "models": [{"type": "LORA", "modelFileName": "hanfu"}]}
GRAPH = {"3": {"class_type": "KSampler", "inputs": {"seed": 555, "steps": 25, "sampler_name": "dpmpp_2m",
                                                    "scheduler": "karras", "positive": ["6", 0]}},
         "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "graph prompt"}}}


def test_generation_data_utf8_text_chunk_plus_graph(tmp_path) -> None:
    data = fg.make_png([fg.text_chunk("generation_data", json.dumps(DATA, ensure_ascii=False), encoding="utf-8"),
                        fg.text_chunk("prompt", json.dumps(GRAPH))])
    info = inspect_file(fg.write(tmp_path, "ta.png", data))
    g = info.generation
    assert info.tool == "tensorart"
    assert (g.prompt, g.negative_prompt, g.model, g.model_hash, g.loras) == (
        "少女, 花", "lowres", "majicmix.safetensors", "abc", ["hanfu"])
    assert g.seed == 555                                         # -1 is TensorArt's "random"
    assert (g.sampler, g.scheduler) == ("dpmpp_2m", "karras")      # filled in from the graph
