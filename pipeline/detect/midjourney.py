"""Detect Midjourney images and read the prompt and parameters.

Midjourney downloads carry PNG text chunks `Author` (the user), `Creation
Time` and `Description` = "<prompt> --ar 16:9 --v 6.1 Job ID: <uuid>", plus
XMP with Iptc4xmpExt:DigImageGUID (the job id) and DigitalSourceType. JPEG
and WebP downloads carry the same description in EXIF ImageDescription or
XMP dc:description. Files renamed by Discord keep the pattern
`user_prompt_words_<uuid>.png`, which counts only beside an AI marker.
"""
from __future__ import annotations

import re
from typing import Any

from alice.pipeline.detect.coerce import to_int, to_iso, to_str
from alice.pipeline.detect.source_type import is_generative
from alice.pipeline.extract.xmp import packet_of, read_xmp
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_JOB_RE = re.compile(rf"\s*Job ID:\s*({_UUID})\s*$")
_PARAM_NAMES = (
    "ar|aspect|v|version|niji|s|stylize|c|chaos|q|quality|seed|sameseed|style|w|weird|tile|no|iw|"
    "cref|sref|cw|sw|p|personalize|raw|r|repeat|stop|video|motion|draft|exp|hd|test|testp|uplight|upbeta"
)
_PARAM_RE = re.compile(rf"(?:^|\s)--({_PARAM_NAMES})\b(.*?)(?=\s--[a-z]|$)", re.IGNORECASE | re.DOTALL)
_FILENAME_RE = re.compile(rf"^[A-Za-z0-9.]+_.+_{_UUID}(_\d+)?\.(png|jpe?g|webp)$", re.IGNORECASE)


def detect(meta: Metadata) -> Detection | None:
    props = read_xmp(packet_of(meta))
    description, source = _description(meta, props)
    job = _JOB_RE.search(description or "")
    text = description[:job.start()] if job and description else (description or "")
    params = {m.group(1).lower(): m.group(2).strip() for m in _PARAM_RE.finditer(text)}
    author = to_str(meta.text.get("Author"), cap=200)
    guid = to_str(props.get("Iptc4xmpExt:DigImageGUID"), cap=100)
    generative = is_generative(props.get("Iptc4xmpExt:DigitalSourceType"))
    named_like_mj = bool(meta.path and _FILENAME_RE.match(meta.path.name))

    evidence: list[str] = []
    if job:
        evidence.append(f"{source}:Description=Job ID")
    if params and (job or author or guid or generative):
        evidence.append(f"{source}:Description=--params")
    if not evidence and not (named_like_mj and generative and guid):
        return None
    if author:
        evidence.append("png:text:Author")
    if guid:
        evidence.append("xmp:iptc:DigImageGUID")
    if named_like_mj:
        evidence.append("filename:midjourney")

    first_param = _PARAM_RE.search(text)
    prompt = to_str(text[:first_param.start()] if first_param else text)
    return Detection(
        tool="midjourney",
        ai=True,
        evidence=evidence,
        generation=Generation(
            prompt=prompt,
            negative_prompt=to_str(params.get("no")),
            seed=to_int(params.get("seed") or params.get("sameseed")),
            model=_model(params),
            width=meta.width,
            height=meta.height,
            created_at=_created_at(meta.text.get("Creation Time") or props.get("xmp:CreateDate")),
        ),
        raw=_raw(params, job.group(1) if job else guid, author),
    )


def _description(meta: Metadata, props: Any) -> tuple[str | None, str]:
    for source, value in (("png:text", meta.text.get("Description")),
                          ("exif", meta.exif.get("ImageDescription")),
                          ("xmp:dc", props.get("dc:description"))):
        text = to_str(value)
        if text:
            return text, source
    return None, ""


def _model(params: dict[str, str]) -> str | None:
    if "niji" in params:
        return f"niji {params['niji']}".strip()
    version = params.get("v") or params.get("version")
    return f"midjourney v{version}" if version else None


def _created_at(value: Any) -> str | None:
    iso = to_iso(value)
    if iso or not isinstance(value, str):
        return iso
    # Imported here: the email package costs ~5 ms of `alice inspect` start-up, for old files only.
    from email.utils import parsedate_to_datetime

    try:   # older downloads write RFC 2822 dates ("Fri, 29 Mar 2024 17:35:43 GMT")
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return None


def _raw(params: dict[str, str], job_id: str | None, author: str | None) -> dict[str, Any]:
    raw: dict[str, Any] = {"params": {k: v[:1000] for k, v in list(params.items())[:50]}}
    if job_id:
        raw["job_id"] = job_id
    if author:
        raw["author"] = author
    if "ar" in params or "aspect" in params:
        raw["aspect_ratio"] = params.get("ar") or params.get("aspect")
    return raw
