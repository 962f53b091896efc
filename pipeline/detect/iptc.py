"""Detect AI from IPTC fields in XMP: DigitalSourceType and the credit line.

`Iptc4xmpExt:DigitalSourceType` = trainedAlgorithmicMedia (or the composite
form) is the industry's "made by a model" flag; it often names no tool, which
gives `ai-unknown`. Google also writes photoshop:Credit "Made with Google AI"
(or "Edited with Google AI"), which names the tool even without the flag.
This runs after the tool-specific detectors, so it only speaks for files that
nothing more specific recognised.
"""
from __future__ import annotations

import re

from alice.pipeline.detect.coerce import to_iso, to_str
from alice.pipeline.detect.product_names import tool_from_name
from alice.pipeline.detect.source_type import is_generative, source_type_term
from alice.pipeline.extract.xmp import packet_of, read_xmp
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

# "Made with Google AI", "Edited with Google AI", "Created with ... AI"
_AI_CREDIT_RE = re.compile(r"\b(made|edited|created|generated)\s+(with|by)\b.*\bAI\b", re.IGNORECASE)


def detect(meta: Metadata) -> Detection | None:
    props = read_xmp(packet_of(meta))
    if not props:
        return None
    source_type = props.get("Iptc4xmpExt:DigitalSourceType")
    credit = to_str(props.get("photoshop:Credit"), cap=500)
    creator_tool = to_str(props.get("xmp:CreatorTool"), cap=500)
    evidence: list[str] = []
    if is_generative(source_type):
        evidence.append(f"xmp:iptc:DigitalSourceType={source_type_term(source_type)}")
    elif source_type_term(source_type):
        # A stated non-generative source (a capture, a composite of captures)
        # outranks a credit line: phones credit "AI" for non-generative edits too.
        return None
    credit_tool = tool_from_name(credit) if credit and _AI_CREDIT_RE.search(credit) else None
    if credit_tool:
        evidence.append(f"xmp:photoshop:Credit={credit}")
    if not evidence:
        return None
    tool = credit_tool or tool_from_name(creator_tool)
    if tool and not credit_tool:
        evidence.append(f"xmp:xmp:CreatorTool={creator_tool}")
    return Detection(
        tool=tool or "ai-unknown",
        ai=True,
        evidence=evidence,
        generation=Generation(
            width=meta.width,
            height=meta.height,
            created_at=to_iso(props.get("xmp:CreateDate") or props.get("photoshop:DateCreated")),
        ),
        raw={k: props[k] for k in ("Iptc4xmpExt:DigitalSourceType", "photoshop:Credit", "xmp:CreatorTool",
                                   "xmp:CreateDate", "dc:description") if k in props and len(props[k]) < 10_000},
    )
