"""AUTOMATIC1111 and the front ends that write its text unchanged: Forge, SD.Next.

The `Version:` value tells them apart (Forge writes "f2.0.1v1.10.1-...",
"neo" or "classic"; SD.Next adds "App: SD.Next"). ComfyUI save nodes that
imitate the format are recognised by their own keys. The Extras tab writes
only a `postprocessing` chunk, which still marks the file as A1111 output.
"""
from __future__ import annotations

import re

from alice.pipeline.detect.a1111_text import A1111Text, parse_a1111
from alice.pipeline.detect.sources import parameter_texts, text_value
from alice.pipeline.generation import Detection, Generation
from alice.pipeline.metadata import Metadata

_FORGE_VERSION = re.compile(r"^(f\d|neo\b|classic\b)|forge", re.IGNORECASE)
_COMFY_SAVER_KEY = re.compile(r"^Lora_\d+ Model name$")


def tool_for(parsed: A1111Text) -> tuple[str, str]:
    """(slug, evidence) for A1111-format text, from its Version/App keys."""
    params = parsed.params
    version = params.get("Version", "")
    app = params.get("App", "")
    if app and re.search(r"sd\.?next", app, re.IGNORECASE):
        return "sdnext", f"a1111:App={app}"
    if version and _FORGE_VERSION.search(version):
        return "forge", f"a1111:Version={version}"
    if version.lower().startswith("comfyui"):
        return "comfyui", f"a1111:Version={version}"
    if version.lower().startswith("fooocus"):
        return "fooocus", f"a1111:Version={version}"
    if not version and any(_COMFY_SAVER_KEY.match(key) for key in params):
        # ComfyUI Image Saver nodes write numbered LoRA keys and no Version.
        return "comfyui", "a1111:Lora_N Model name (ComfyUI image saver)"
    if version:
        return "a1111", f"a1111:Version={version}"
    return "a1111", "a1111:Steps line"


def detect(meta: Metadata) -> Detection | None:
    for source, text in parameter_texts(meta):
        parsed = parse_a1111(text)
        if parsed is None:
            continue
        tool, why = tool_for(parsed)
        return Detection(tool=tool, ai=True, evidence=[source, why],
                         generation=parsed.generation(), raw=parsed.raw())
    found = text_value(meta, "postprocessing", "extras")
    if found:
        source, text = found
        return Detection(tool="a1111", ai=True, evidence=[source], generation=Generation(),
                         raw={"postprocessing": text})
    return None
