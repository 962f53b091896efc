"""Detect the Chinese national AIGC label (TC260 / GB 45438-2025).

Chinese platforms (Jimeng, Doubao, Kling, Hailuo, ...) must label generated
content with a JSON record: in images as XMP `TC260:AIGC` (namespace
http://www.tc260.org.cn/ns/AIGC/1.0/), in MP4 as an `AIGC` key under
moov/udta/meta, and in PNG sometimes as an `AIGC` text chunk.
`Label` 1/2/3 = generated / possibly / suspected generated. ContentProducer
is usually a company code, sometimes a name; a name we recognise gives its
tool, anything else `aigc-cn`.
"""
from __future__ import annotations

import json
from typing import Any

from alice.pipeline.detect.coerce import json_safe, to_str
from alice.pipeline.detect.product_names import tool_from_name
from alice.pipeline.extract.xmp import packet_of, read_xmp
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

MAX_LABEL = 64 * 1024
AI_LABELS = {"1", "2", "3"}


def _label_source(meta: Metadata) -> tuple[str, str] | None:
    value = read_xmp(packet_of(meta)).get("TC260:AIGC")
    if value:
        return "xmp:TC260:AIGC", value
    for source, tags in (("png:text", meta.text), ("mp4", meta.video_tags)):
        for key, value in tags.items():
            if key.upper() == "AIGC" and isinstance(value, str) and value.strip():
                return f"{source}:{key}", value
    return None


def _field(record: dict[str, Any], name: str) -> Any:
    for key, value in record.items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value
    return None


def detect(meta: Metadata) -> Detection | None:
    found = _label_source(meta)
    if found is None:
        return None
    source, text = found
    try:
        record = json.loads(text[:MAX_LABEL])
    except ValueError:
        record = None
    if not isinstance(record, dict):
        meta.warnings.append(f"AIGC label in {source} is not a JSON object; ignored")
        return None
    label = to_str(_field(record, "Label"), cap=20)
    if label is not None and label not in AI_LABELS:
        return None
    producer = to_str(_field(record, "ContentProducer"), cap=500)
    tool = tool_from_name(producer) or "aigc-cn"
    evidence = [f"{source}:Label={label}" if label else source]
    if producer:
        evidence.append(f"{source}:ContentProducer={producer[:100]}")
    return Detection(
        tool=tool,
        ai=True,
        evidence=evidence,
        generation=Generation(width=meta.width, height=meta.height),
        raw=json_safe(record),
    )
