"""Fooocus and its forks (RuinedFooocus, Fooocus-MRE).

 - Fooocus: `parameters` JSON (or A1111 text) with `fooocus_scheme`; the JSON has
   "version": "Fooocus v2.x"; JPEG/WebP: UserComment + EXIF Software "Fooocus v...".
 - RuinedFooocus: `parameters` JSON with "Prompt"/"Negative" and "software".
 - Fooocus-MRE: a `Comment` JSON record naming Fooocus.
"""
from __future__ import annotations

import re

from alice.pipeline.detect.a1111_text import parse_a1111
from alice.pipeline.detect.coerce import to_size, to_str
from alice.pipeline.detect.sources import exif_text, load_json_object, parameter_texts, text_evidence
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata


def _names_fooocus(record: dict) -> str | None:
    for key in ("version", "software", "Software", "metadata_scheme"):
        value = to_str(record.get(key), 256)
        if value and "fooocus" in value.lower():
            return f"{key}={value}"
    return None


def _loras(value: object) -> list[str]:
    names = []
    for item in value if isinstance(value, list) else []:
        name = item[0] if isinstance(item, (list, tuple)) and item else item
        if isinstance(name, dict):
            name = name.get("name") or name.get("model")
        text = to_str(name)
        if text and text != "None":
            names.append(re.sub(r"\.safetensors$", "", text))
    return names


def _size(record: dict) -> tuple[int | None, int | None]:
    resolution = record.get("resolution")
    if isinstance(resolution, str):
        resolution = resolution.strip("()[] ")
    width, height = to_size(resolution)
    if width is None:
        width, height = to_size({"width": record.get("width"), "height": record.get("height")})
    return width, height


def from_json(record: dict) -> Generation:
    width, height = _size(record)
    return Generation(
        prompt=record.get("prompt") or record.get("Prompt"),
        negative_prompt=record.get("negative_prompt") or record.get("Negative"),
        seed=record.get("seed"),
        steps=record.get("steps"),
        cfg=record.get("guidance_scale") if "guidance_scale" in record else record.get("cfg"),
        sampler=record.get("sampler") or record.get("sampler_name"),
        scheduler=record.get("scheduler"),
        model=record.get("base_model") or record.get("base_model_name"),
        model_hash=record.get("base_model_hash"),
        width=width, height=height,
        loras=_loras(record.get("loras")),
    )


def _file_marker(meta: Metadata) -> str | None:
    """Evidence that the file itself (not the record) says Fooocus: fooocus_scheme or EXIF Software."""
    scheme = to_str(meta.text.get("fooocus_scheme"), 64)
    if scheme:
        return f"{text_evidence(meta, 'fooocus_scheme')}={scheme}"
    software = exif_text(meta, "Software")
    if software and "fooocus" in software.lower():
        return f"exif:Software={software}"
    return None


def detect(meta: Metadata) -> Detection | None:
    marker = _file_marker(meta)
    for source, text in parameter_texts(meta):
        record = load_json_object(text)
        if record is not None:
            named = _names_fooocus(record)
            why = f"fooocus:{named}" if named else marker
            if why:
                return Detection(tool="fooocus", ai=True, evidence=[source, why],
                                 generation=from_json(record), raw=record)
            continue
        parsed = parse_a1111(text)
        if parsed is None:
            continue
        version = parsed.get("Version") or ""
        why = f"a1111:Version={version}" if "fooocus" in version.lower() else marker
        if why:
            return Detection(tool="fooocus", ai=True, evidence=[source, why],
                             generation=parsed.generation(), raw=parsed.raw())
    if marker:
        return Detection(tool="fooocus", ai=True, evidence=[marker])
    return None
