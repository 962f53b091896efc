"""NovelAI: PNG `Software`="NovelAI", `Description` (prompt), `Source` (model), `Comment` JSON.

The same record arrives through stealth pnginfo (alpha LSBs) and, for
WebP/JPEG downloads, as JSON in EXIF UserComment; `from_record` serves all three.
"""
from __future__ import annotations

from typing import Any

from alice.pipeline.detect.coerce import to_str
from alice.pipeline.detect.sources import exif_text, load_json_object, text_evidence
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_KEYS = ("Title", "Description", "Software", "Source", "Generation time", "Comment")


def _v4_caption(value: Any) -> str | None:
    if isinstance(value, dict):
        caption = value.get("caption")
        if isinstance(caption, dict):
            return to_str(caption.get("base_caption"))
    return None


def is_novelai(record: dict) -> bool:
    software = str(record.get("Software", ""))
    return "novelai" in software.lower()


def from_record(record: dict, evidence: list[str]) -> Detection:
    """Detection from a {"Software", "Description", "Source", "Comment": JSON} record."""
    comment = load_json_object(record.get("Comment")) or {}
    prompt = to_str(comment.get("prompt")) or _v4_caption(comment.get("v4_prompt")) \
        or to_str(record.get("Description"))
    negative = to_str(comment.get("uc")) or _v4_caption(comment.get("v4_negative_prompt"))
    generation = Generation(
        prompt=prompt, negative_prompt=negative, seed=comment.get("seed"), steps=comment.get("steps"),
        cfg=comment.get("scale"), sampler=comment.get("sampler"), scheduler=comment.get("noise_schedule"),
        model=to_str(record.get("Source")), width=comment.get("width"), height=comment.get("height"),
    )
    raw = {key: record[key] for key in _KEYS if key in record}
    if comment:
        raw["Comment"] = comment
    return Detection(tool="novelai", ai=True, evidence=evidence, generation=generation, raw=raw)


def detect(meta: Metadata) -> Detection | None:
    if is_novelai(meta.text):
        chunks = {key: meta.text[key] for key in _KEYS if key in meta.text}
        evidence = [f"{text_evidence(meta, 'Software')}=NovelAI"]
        if "Comment" in chunks:
            evidence.append(text_evidence(meta, "Comment"))
        return from_record(chunks, evidence)
    software = exif_text(meta, "Software")
    user_comment = load_json_object(meta.exif.get("UserComment"))
    if software and "novelai" in software.lower():
        # WebP/JPEG downloads: UserComment holds the PNG chunks as one JSON object, whose
        # `Comment` is itself a JSON string; older files put the bare Comment JSON there.
        record = dict(user_comment) if user_comment and ("Comment" in user_comment or "Software" in user_comment) \
            else {"Comment": meta.exif.get("UserComment")}
        record.setdefault("Software", software)
        for key, tag in (("Description", "ImageDescription"), ("Source", "Model")):
            if not record.get(key) and exif_text(meta, tag):
                record[key] = meta.exif[tag]
        evidence = [f"exif:Software={software}"] + (["exif:UserComment"] if user_comment else [])
        return from_record({k: v for k, v in record.items() if v}, evidence)
    if user_comment and is_novelai(user_comment):
        return from_record(user_comment, ["exif:UserComment:Software=NovelAI"])
    return None
