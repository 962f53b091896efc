"""Draw Things: XMP xmp:CreatorTool = "Draw Things", exif:UserComment = JSON {c, uc, model, seed, ...}."""
from __future__ import annotations

from alice.pipeline.detect.coerce import to_size, to_str
from alice.pipeline.detect.sources import load_json_object
from alice.pipeline.extract.xmp import packet_of, read_xmp
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def _loras(listed: object) -> list[str]:
    """[{"file": "x.safetensors", "weight": 0.6}, ...] (older versions: bare names)."""
    names = (to_str(lora.get("file") if isinstance(lora, dict) else lora)
             for lora in (listed if isinstance(listed, list) else []))
    return [name for name in names if name]


def detect(meta: Metadata) -> Detection | None:
    packet = packet_of(meta)
    if not packet or "Draw Things" not in packet:
        return None
    properties = read_xmp(packet)
    creator = properties.get("xmp:CreatorTool", "")
    if not creator.strip().lower().startswith("draw things"):
        return None
    record = load_json_object(properties.get("exif:UserComment")) or {}
    width, height = to_size(record.get("size"))
    generation = Generation(
        prompt=record.get("c"), negative_prompt=record.get("uc"), seed=record.get("seed"),
        steps=record.get("steps"), cfg=record.get("scale"), sampler=record.get("sampler"),
        model=record.get("model"), width=width, height=height,
        loras=_loras(record.get("lora")),
    )
    evidence = [f"xmp:CreatorTool={creator}"]
    if record:
        evidence.append("xmp:exif:UserComment")
    return Detection(tool="drawthings", ai=True, evidence=evidence, generation=generation, raw=record)
