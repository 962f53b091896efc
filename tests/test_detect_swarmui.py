from __future__ import annotations

import json

from alice.pipeline.detect import detect
from alice.pipeline.inspect import inspect_file
from alice.pipeline.metadata import Metadata
from tests import fixturegen as fg

RECORD = {"sui_image_params": {"prompt": "a castle", "negativeprompt": "fog", "model": "juggernautXL",
                               "seed": "77", "steps": 30, "cfgscale": 6, "sampler": "dpmpp_2m",
                               "scheduler": "karras", "width": 1024, "height": 1024, "loras": ["a", "b"],
                               "swarm_version": "0.9.5"},
          "sui_extra_data": {"date": "2024-06-01", "prep_time": "1s"}}
GRAPH = {"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 2, "sampler_name": "x"}}}


def test_swarmui_wins_over_its_comfyui_prompt_chunk() -> None:
    meta = Metadata(path=None, format="png", media="image",
                    text={"parameters": json.dumps(RECORD), "prompt": json.dumps(GRAPH)})
    detection = detect(meta)
    assert detection.tool == "swarmui"
    g = detection.generation
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg, g.model) == ("a castle", "fog", 77, 30, 6.0,
                                                                              "juggernautXL")
    assert g.loras == ["a", "b"] and g.created_at == "2024-06-01T00:00:00"
    assert "swarmui:swarm_version=0.9.5" in detection.evidence


def test_swarmui_jpeg_usercomment(tmp_path) -> None:
    exif = fg.make_exif(exif_ifd={fg.USER_COMMENT: fg.user_comment(json.dumps(RECORD))})
    info = inspect_file(fg.write(tmp_path, "s.jpg", fg.make_jpeg(exif)))
    assert info.tool == "swarmui" and info.evidence[0] == "exif:UserComment"


def test_broken_json_is_not_swarmui() -> None:
    meta = Metadata(path=None, format="png", media="image", text={"parameters": '{"sui_image_params": {'})
    assert detect(meta).tool is None
