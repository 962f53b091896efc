"""Detect AI generators from a C2PA manifest (Content Credentials).

A manifest alone proves provenance, not AI: cameras (Truepic, Leica, Pixel,
Samsung) sign captures too. What says "a model made this" is an action's
IPTC digitalSourceType (trainedAlgorithmicMedia, or the composite form for
generative fill). Products that only ever generate (DALL-E, Sora, Firefly,
Titan, BFL...) count even when their manifest predates digitalSourceType.
The tool is named by the softwareAgent of the generative action first (in a
Photoshop manifest that is "Adobe Firefly"), then the claim generator, then
the signer ("OpenAI").

If the active manifest is an ordinary edit, the manifests of its ingredients
are read the same way: a cropped DALL-E image is still a DALL-E image.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alice.pipeline.detect.coerce import to_iso, to_mapping, to_str
from alice.pipeline.detect.product_names import tool_from_name
from alice.pipeline.detect.source_type import is_generative, source_type_term
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

# Brands that also sign camera captures need a digitalSourceType to count.
NEEDS_SOURCE_TYPE = {"google", "samsung"}


@dataclass
class _Reading:
    ai: bool = False
    tool: str | None = None
    evidence: list[str] = field(default_factory=list)
    model: str | None = None
    created_at: str | None = None
    has_source_type: bool = False


def detect(meta: Metadata) -> Detection | None:
    manifest = meta.c2pa
    if not isinstance(manifest, dict):
        return None
    reading = _read_manifest(manifest, "c2pa")
    if not reading.ai:
        for ingredient in manifest.get("ingredient_manifests") or []:
            if isinstance(ingredient, dict):
                candidate = _read_manifest(ingredient, "c2pa:ingredient")
                if candidate.ai:
                    reading.ai, reading.tool = True, candidate.tool
                    reading.evidence += candidate.evidence
                    reading.model = reading.model or candidate.model
                    reading.created_at = reading.created_at or candidate.created_at
                    break
    if not reading.ai:
        return None
    tool = reading.tool
    if tool is None and "google" in (meta.video_tags.get("encoder") or "").lower():
        tool = "google"   # Veo: ©too=Google beside a manifest that names no product
        reading.evidence.append("mp4:encoder=Google")
    return Detection(
        tool=tool or "ai-unknown",
        ai=True,
        evidence=reading.evidence,
        generation=Generation(
            model=reading.model,
            width=meta.width,
            height=meta.height,
            created_at=reading.created_at,
        ),
        raw=_summary(manifest),
    )


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, dict):
        agent = agent.get("name")
    return to_str(agent, cap=200)


def _actions(manifest: dict) -> list[dict]:
    found: list[dict] = []
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, dict) or not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        data = assertion.get("data")
        actions = data.get("actions") if isinstance(data, dict) else None
        found.extend(a for a in actions or [] if isinstance(a, dict))
    return found


def _generator_names(manifest: dict) -> list[str]:
    names = []
    for info in manifest.get("claim_generator_info") or []:
        name = to_str(info.get("name"), cap=200) if isinstance(info, dict) else None
        if name:
            names.append(name)
    generator = to_str(manifest.get("claim_generator"), cap=200)
    if generator:
        names.append(generator)
    return names


def _short(name: str) -> str:
    # "Amazon_Bedrock c2pa-rs/0.32.7" -> "Amazon_Bedrock": the product, not the library list
    return name.split(" c2pa-rs", 1)[0].split(" adobe_c2pa", 1)[0].strip()[:100]


def _read_manifest(manifest: dict, prefix: str) -> _Reading:
    reading = _Reading()
    agents: list[str] = []
    for action in _actions(manifest):
        term = source_type_term(action.get("digitalSourceType"))
        agent = _agent_name(action.get("softwareAgent"))
        params = to_mapping(action.get("parameters"))
        description = to_str(action.get("description") or params.get("description"), cap=200)
        if term:
            reading.has_source_type = True
        if term and is_generative(term):
            if not reading.ai:
                reading.evidence.append(f"{prefix}:digital_source_type={term}")
            reading.ai = True
            reading.created_at = reading.created_at or to_iso(action.get("when"))
            if agent:
                agents.insert(0, agent)
                reading.model = reading.model or agent
            if description and tool_from_name(description):
                agents.append(description)
        elif agent:
            agents.append(agent)

    generators = _generator_names(manifest)
    signature = to_mapping(manifest.get("signature_info"))
    signers = [s for s in (to_str(signature.get("issuer"), cap=200), to_str(signature.get("common_name"), cap=200)) if s]

    for kind, names in (("software_agent", agents), ("claim_generator", generators), ("signer", signers)):
        for name in names:
            tool = tool_from_name(name)
            if tool is None:
                continue
            if not reading.ai and (reading.has_source_type or tool in NEEDS_SOURCE_TYPE or kind == "signer"):
                continue   # a camera or an explicit non-AI source type: the name alone does not make it AI
            if not reading.ai:
                reading.ai = True
            reading.tool = tool
            reading.evidence.append(f"{prefix}:{kind}={_short(name)}")
            break
        if reading.tool:
            break
    if reading.ai and generators and not any(e.startswith(f"{prefix}:claim_generator=") for e in reading.evidence):
        reading.evidence.append(f"{prefix}:claim_generator={_short(generators[0])}")
    if reading.ai:
        reading.created_at = reading.created_at or to_iso(signature.get("time"))
    return reading


def _summary(manifest: dict) -> dict[str, Any]:
    """What the catalog keeps: who made it, what was done, who signed."""
    signature = to_mapping(manifest.get("signature_info"))
    return {
        "claim_generator": to_str(manifest.get("claim_generator"), cap=500),
        "claim_generator_info": _generator_names(manifest)[:8],
        "actions": [
            {
                "action": to_str(a.get("action"), cap=200),
                "software_agent": _agent_name(a.get("softwareAgent")),
                "digital_source_type": source_type_term(a.get("digitalSourceType")),
                "when": to_str(a.get("when"), cap=100),
            }
            for a in _actions(manifest)[:50]
        ],
        "signer": {k: to_str(signature.get(k), cap=200) for k in ("issuer", "common_name", "time")},
        "validation_state": to_str(manifest.get("validation_state"), cap=50),
        "label": to_str(manifest.get("label"), cap=200),
    }
