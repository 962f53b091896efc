"""Rating an image with a vision-language model (issue 6, stage 2).

The model is asked for one JSON object {score, defects, tags, summary}. Models
wrap JSON in prose or code fences despite instructions, so we find the object
leniently, then hold it to a strict schema: a wrong shape is
ProviderMalformedResponse, never a guessed rating.
"""
from __future__ import annotations

import io
import json
import re
import warnings
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
from PIL import Image, UnidentifiedImageError

from .base import Context, Provider
from .errors import ProviderMalformedResponse, ProviderRequestError
from .pricing import CostEstimate
from .results import StageAnswer, VisionRating

MAX_INPUT_BYTES = 64 * 1024 * 1024
# Both Anthropic and OpenAI downscale past ~1568 px on the long edge anyway, and
# Anthropic rejects images over 5 MB: sending more only costs upload time.
MAX_EDGE = 1568
MAX_SEND_BYTES = 5 * 1024 * 1024
# Anthropic's documented rule of thumb is width*height/750 tokens; past MAX_EDGE both APIs
# keep about this many.
MAX_IMAGE_TOKENS = 1600
MAX_CONTEXT = 2000              # characters of context (the prompt) sent with a rating
_CONTEXT_TOKENS = 700           # ... and the tokens they and their heading can take
_MAX_PIXELS = 100_000_000
_SENDABLE = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}

PROMPT = """You are a strict photo and AI-image quality reviewer.
Rate the attached image and answer with ONLY one JSON object, no prose:
{"score": <integer 0-100, 0 unusable, 50 mediocre, 90+ flawless>,
 "defects": [<short phrases for each visible flaw, e.g. "extra fingers", "blurry face",
             "garbled text", "jpeg artifacts", "cropped subject"; [] if none>],
 "tags": [<3-12 lowercase subject/style tags, e.g. "portrait", "neon", "cat">],
 "summary": "<one sentence>"}"""

RATING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["score", "defects", "tags"],
    "properties": {
        "score": {"type": "number", "minimum": 0, "maximum": 100},
        "defects": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 300}},
        "tags": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}},
        "summary": {"type": ["string", "null"], "maxLength": 2000},
    },
}
_VALIDATOR = jsonschema.Draft202012Validator(RATING_SCHEMA)   # built once: validate() rebuilds per call
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def parse_rating(provider: str, text: str) -> dict[str, Any]:
    """The rating object in a model's answer: fenced, bare, or inside prose."""
    if not isinstance(text, str) or not text.strip():
        raise ProviderMalformedResponse(provider, "the model gave an empty answer instead of a rating")
    candidate = _find_object(text)
    if candidate is None:
        raise ProviderMalformedResponse(provider, f"no JSON object in the model's answer: {text[:200]!r}")
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(candidate))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "rating"
        raise ProviderMalformedResponse(provider, f"rating does not fit the schema at {where}: {error.message[:200]}")
    if isinstance(candidate["score"], bool) or candidate["score"] != int(candidate["score"]):
        raise ProviderMalformedResponse(provider, f"score must be a whole number 0-100, got {candidate['score']!r}")
    return candidate


def _find_object(text: str) -> dict[str, Any] | None:
    chunks = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in chunks:
        for start in (i for i, ch in enumerate(chunk) if ch == "{"):
            try:
                obj, _ = decoder.raw_decode(chunk, start)
            except ValueError:
                continue
            if isinstance(obj, dict) and "score" in obj:
                return obj
    return None


def build_rating(provider: str, model: str, text: str, cost_usd: Decimal | None) -> VisionRating:
    data = parse_rating(provider, text)
    tags: list[str] = []
    for tag in data["tags"]:
        t = tag.strip().lower()
        if t and t not in tags:
            tags.append(t)
    return VisionRating(
        score=int(data["score"]),
        defects=[d.strip() for d in data["defects"] if d.strip()],
        tags=tags, raw=text, cost_usd=cost_usd, provider=provider, model=model,
        summary=data.get("summary"),
    )


def prepare_image(provider: str, source: bytes | Path | str) -> tuple[bytes, str, int, int]:
    """Bytes a vision API accepts (PNG/JPEG/GIF/WebP, <= 5 MB, <= 1568 px edge), re-encoding
    anything else as JPEG. Returns (bytes, media type, width, height)."""
    blob = _read(provider, source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(blob)) as img:
                width, height = img.size
                if width * height > _MAX_PIXELS:
                    raise ProviderRequestError(provider, f"image is {width}x{height}, too large to rate")
                fmt = img.format or ""
                if fmt in _SENDABLE and len(blob) <= MAX_SEND_BYTES and max(width, height) <= MAX_EDGE:
                    img.load()     # a truncated file would be paid for and then refused by the API
                    return blob, _SENDABLE[fmt], width, height
                img.draft("RGB", (MAX_EDGE, MAX_EDGE))   # JPEG: decode at reduced scale, cheaply
                frame = img.convert("RGB")
                frame.thumbnail((MAX_EDGE, MAX_EDGE))
                out = io.BytesIO()
                frame.save(out, "JPEG", quality=88)
                return out.getvalue(), "image/jpeg", frame.width, frame.height
    except ProviderRequestError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ProviderRequestError(provider, f"cannot rate this file: {type(exc).__name__}: {str(exc)[:200]}") from None
    except (OSError, ValueError, SyntaxError) as exc:    # truncated or corrupt image data
        raise ProviderRequestError(provider, f"cannot decode the image: {str(exc)[:200]}") from None


def _read(provider: str, source: bytes | Path | str) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        blob = bytes(source)
    elif isinstance(source, (str, Path)):
        path = Path(source)
        try:
            with open(path, "rb") as fh:
                blob = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise ProviderRequestError(provider, f"cannot read {path}: {exc.strerror}") from None
    else:
        raise ProviderRequestError(provider, f"image must be bytes or a path, not {type(source).__name__}")
    if len(blob) > MAX_INPUT_BYTES:
        raise ProviderRequestError(provider, f"image is over {MAX_INPUT_BYTES} bytes")
    if not blob:
        raise ProviderRequestError(provider, "image is empty")
    return blob


class VisionProvider(Provider):
    """A provider that can rate images. Subclasses implement `_vision_call`."""

    DEFAULT_VISION_MODEL: str = ""
    MAX_OUTPUT_TOKENS = 800

    def stage_estimate(self, kind: str, model: str) -> CostEstimate:
        """The largest image the APIs keep, the instructions and the longest context."""
        if kind not in self.QUALITY_STAGES:
            raise self._no_stage(kind)
        return self._rating_estimate(model, MAX_IMAGE_TOKENS + len(PROMPT) // 3 + _CONTEXT_TOKENS)

    async def run_stage(self, kind: str, image: bytes | Path, *, model: str,
                        context: Context = lambda: None) -> StageAnswer:
        if kind not in self.QUALITY_STAGES:
            raise self._no_stage(kind)
        return await self.rate_image(image, model=model, context=context())

    def _rating_estimate(self, model: str, input_tokens: int) -> CostEstimate:
        return self.estimate(model, {"input_tokens": input_tokens, "output_tokens": self.MAX_OUTPUT_TOKENS})

    async def rate_image(self, image: bytes | Path | str, *, model: str | None = None,
                         context: str | None = None) -> VisionRating:
        """Score 0-100, defects and tags for one image. `context` (e.g. the prompt that
        made it) is added to the instructions so the model can judge prompt fidelity."""
        model = model or self.DEFAULT_VISION_MODEL
        if self.model(model).kind != "vision":
            raise ProviderRequestError(self.name, f"{model} cannot rate images; use a vision model")
        blob, media_type, width, height = prepare_image(self.name, image)
        prompt = PROMPT if not context else f"{PROMPT}\n\nContext from the file's metadata:\n{context[:MAX_CONTEXT]}"
        image_tokens = min(MAX_IMAGE_TOKENS, max(85, width * height // 750))
        self.check_budget(self._rating_estimate(model, image_tokens + len(prompt) // 3))
        text, tokens_in, tokens_out = await self._vision_call(model, blob, media_type, prompt)
        cost = self.prices.estimate(model, {"input_tokens": tokens_in, "output_tokens": tokens_out}).usd
        rating = build_rating(self.name, model, text, cost)
        self._emit("info", "provider.rated", model=model, score=rating.score, usd=str(cost))
        return rating

    async def _vision_call(self, model: str, blob: bytes, media_type: str, prompt: str) -> tuple[str, int, int]:
        """Send one image + prompt; return (answer text, input tokens, output tokens)."""
        raise NotImplementedError


def usage_int(provider: Provider, usage: Any, key: str) -> int:
    value = usage.get(key) if isinstance(usage, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise provider._malformed("usage", f"{key} missing or not a count: {value!r}")
    return value
