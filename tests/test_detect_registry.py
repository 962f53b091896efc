"""The registry: order, isolation of failing detectors, and cleaning of what they return."""
from __future__ import annotations

import types

from alice.pipeline import detect as registry
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def _meta() -> Metadata:
    return Metadata(path=None, format="png", media="image", text={"parameters": "a\nSteps: 3, Seed: 1"})


def test_order_puts_specific_formats_first() -> None:
    order = registry.ORDER
    assert order[0] == "alice" and order[-1] == "stealth"
    for specific in ("swarmui", "tensorart", "stabilitymatrix", "civitai"):
        assert order.index(specific) < order.index("comfyui")
    for reuser in ("fooocus", "civitai", "stabilitymatrix"):
        assert order.index(reuser) < order.index("a1111")


def test_raising_detector_is_a_warning_and_the_next_runs() -> None:
    def boom(meta):
        raise KeyError("oops")

    broken = [(name, types.SimpleNamespace(detect=boom) if name == "swarmui" else module, err)
              for name, module, err in registry.detectors()]
    meta = _meta()
    detection = registry.detect(meta, broken)
    assert detection.tool == "a1111"
    assert any("detector swarmui failed: KeyError" in w for w in meta.warnings)


def test_returned_values_are_coerced_and_made_json_safe() -> None:
    sloppy = Detection(tool="x", ai=True, evidence=[], raw={"n": float("nan"), "b": b"bytes", 1: {2}},
                       generation=Generation(seed="None", steps="20.0", cfg="7,5", width="512",
                                             loras=["a", None, 3], created_at="2024:01:02 03:04:05"))
    modules = [("alice", types.SimpleNamespace(detect=lambda meta: sloppy), None)]
    detection = registry.detect(_meta(), modules)
    g = detection.generation
    assert (g.seed, g.steps, g.cfg, g.width) == (None, 20, 7.5, 512)
    assert g.loras == ["a", "3"] and g.created_at == "2024-01-02T03:04:05"
    assert detection.raw == {"n": None, "b": "bytes", "1": [2]}
    assert detection.evidence == ["alice:matched"]


def test_nothing_matches_is_none() -> None:
    detection = registry.detect(Metadata(path=None, format="png", media="image"))
    assert detection.tool is None and detection.ai is False and detection.evidence == []
