"""Running the quality cascade on one file: the local stage, then paid stages, with effects.

`run_cascade` is the effectful half of pipeline/quality/cascade.py: it runs
the stage that cascade.next_stages says is due, one at a time, until the
cascade stops, then combines the scores. A paid stage (a vision-language
rating or an aesthetics metric, see pipeline/quality/stages.py) goes through:

  1. the cache (daemon/catalog/quality_cache.py): an answer bought before for
     this content_id, provider and model is used as is, and nothing is sent;
  2. the project's budget (daemon/budget.py, the same rules and the same
     request rows as generation): the estimate is admitted and recorded as a
     generation request, or refused, which ends the cascade with
     {"skipped": "budget"};
  3. the provider call; its cost is recorded on the request row (so the
     project's spend and `alice projects` include quality spending) and the
     answer is cached.

An error, a timeout or a malformed answer from a stage is recorded as that
stage's {"error": ...} and ends the cascade; the file keeps the score of the
stages before it. A video is rated on its middle frame. Nothing here touches
the file itself.
"""
from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from alice.daemon import budget
from alice.daemon.catalog import quality_cache, requests, spend, store
from alice.daemon.catalog.engine import Catalog
from alice.pipeline.quality.cascade import StageResultError, combine, next_stages
from alice.pipeline.quality.config import TECHNICAL, QualityConfig
from alice.pipeline.quality.errors import AssessmentError
from alice.pipeline.quality.stages import PaidStage, parse_stage
from alice.pipeline.record import AssetRecord
from alice.providers.base import Provider
from alice.providers.errors import BudgetExceeded, ProviderError, ProviderMalformedResponse
from alice.providers.pricing import CostEstimate
from alice.providers.vision import MAX_EDGE, PROMPT, VisionProvider

T = TypeVar("T")

# Upper bound of a vision rating's tokens: the image at the largest size the
# APIs keep (~1600 tokens), the instructions, the metadata context, the answer cap.
_VISION_INPUT_TOKENS = 1600 + len(PROMPT) // 3 + 700
_MAX_CONTEXT = 2000


class AssessError(ValueError):
    """The assessment cannot be made as asked (unknown stage, missing file)."""


# -- one event loop for every provider call ------------------------------------------------
# A provider's httpx client keeps connections bound to the loop that opened
# them, so all calls go through one long-lived loop in a daemon thread.
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="alice-assess-loop", daemon=True).start()
        loop = _loop
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def close_providers(providers: Mapping[str, Provider]) -> None:
    """Close the providers' HTTP clients on the loop they were used on."""
    async def close_all() -> None:
        for p in providers.values():
            await p.aclose()

    _run(close_all())


# -- the cascade ---------------------------------------------------------------------------

@dataclasses.dataclass
class Target:
    """What run_cascade needs to know about the file besides its bytes."""

    path: Path
    content_id: str | None = None
    media: str | None = None           # image | video; None: read from the file
    project: str | None = None         # whose budget pays; None: the asset's, if catalogued,
    fallback_project: str | None = None  # ... else this one
    context: str | None = None         # e.g. the prompt, so a vision model can judge fidelity;
                                       # None: read from the file's metadata when a vision stage runs
    technical: dict[str, Any] | None = None  # the local stage's result if already taken (filing)


def stages_for(cfg: QualityConfig, stages: Sequence[str] | None) -> QualityConfig:
    """The config with `stages` (if given) as its cascade; unknown stage names raise AssessError."""
    if stages is not None:
        if not stages or stages[0] != TECHNICAL:
            raise AssessError(f"stages must start with '{TECHNICAL}', got {list(stages)!r}")
        cfg = dataclasses.replace(cfg, stages=tuple(stages))
    for name in cfg.stages[1:]:
        try:
            parse_stage(name)
        except ValueError as exc:
            raise AssessError(str(exc)) from None
    return cfg


def run_cascade(target: Target | Path | str, cfg: QualityConfig, providers: Mapping[str, Provider],
                catalog: Catalog | None, stages: Sequence[str] | None = None) -> dict[str, Any]:
    """Score one file through the cascade; never raises for a bad file or a failing service.

    Returns {"path", "content_id", "media", "project", "score", "stars",
    "stages": {name: result}, "cost_usd", "error"}. score/stars are None only
    when the technical stage itself failed (then "error" says why).
    Paid stages need `catalog` (cache and budget); without it they are
    recorded as {"skipped": "catalog"}.
    """
    cfg = stages_for(cfg, stages)
    if not isinstance(target, Target):
        target = Target(Path(target))
    _identify(target)
    out: dict[str, Any] = {"path": str(target.path), "content_id": target.content_id, "media": target.media,
                           "project": target.project, "score": None, "stars": None, "stages": {},
                           "cost_usd": "0", "error": None}
    results: dict[str, Any] = out["stages"]
    spent = Decimal(0)
    while due := next_stages(results, cfg):
        name = due[0]
        if name == TECHNICAL:
            results[name] = target.technical if target.technical is not None else _technical(target, cfg)
            continue
        result, cost = _paid_stage(parse_stage(name), target, providers, catalog, cfg.video_timeout_s)
        results[name] = result
        spent += cost
    out["cost_usd"] = str(spent)
    technical = results[TECHNICAL]
    if technical.get("error"):
        out["error"] = technical["error"]
        return out
    try:
        out["score"], out["stars"] = combine(results, cfg)
    except StageResultError as exc:      # a cached or provider score out of range: keep what is sound
        out["error"] = str(exc)
    return out


def record_rescorer(cfg: QualityConfig, providers: Mapping[str, Provider],
                    catalog: Catalog) -> Callable[[AssetRecord], None] | None:
    """For filing: a function that runs the paid stages on a freshly analysed record (whose
    technical stage the importer already ran) and sets its quality and stars. None when
    the cascade has no paid stage, so filing stays free of network calls."""
    if len(cfg.stages) == 1:
        return None
    stages_for(cfg, None)           # unknown stage names fail now, not per file

    def rescore(rec: AssetRecord) -> None:
        technical = (rec.quality or {}).get(TECHNICAL)
        if not isinstance(technical, dict) or rec.media not in ("image", "video"):
            return
        target = Target(Path(rec.source_path), content_id=rec.content_id, media=rec.media, project=rec.project,
                        context=rec.generation.prompt or "", technical=technical)
        try:
            out = run_cascade(target, cfg, providers, catalog)
        except AssessError as exc:
            rec.warnings.append(f"quality: {exc}")
            return
        if out["score"] is None:
            return
        rec.quality = {"score": out["score"], "stars": out["stars"], **out["stages"]}
        rec.stars = out["stars"]
        for name, result in out["stages"].items():
            if result.get("error"):
                rec.warnings.append(f"quality: {name}: {result['error']}")

    return rescore


def _identify(target: Target) -> None:
    """Media kind and content id from the file. Sniffing the head is enough for both;
    the full metadata read (for the prompt) waits until a vision stage needs it."""
    if target.content_id is not None and target.media is not None:
        return
    from alice.pipeline.identity import UnreadableMedia, identify
    from alice.pipeline.sniff import HEAD_SIZE, sniff

    try:
        with open(target.path, "rb") as fh:
            fmt, media = sniff(fh.read(HEAD_SIZE))
        target.media = target.media or media
        if target.content_id is None:
            target.content_id = identify(target.path, fmt, media).content_id
    except UnreadableMedia:
        target.content_id = None           # the technical stage will say what is wrong
    except OSError as exc:
        raise AssessError(f"cannot read {target.path}: {exc.strerror or exc}") from None


def _prompt_of(path: Path) -> str | None:
    from alice.pipeline.inspect import inspect_file

    try:
        prompt = inspect_file(path).generation.prompt
    except OSError:
        return None
    return str(prompt)[:_MAX_CONTEXT] if prompt else None


def _technical(target: Target, cfg: QualityConfig) -> dict[str, Any]:
    from alice.pipeline.quality.technical import assess_image, assess_video

    if target.media not in ("image", "video"):
        return {"error": f"{target.path}: not an image or video ({target.media}); nothing to assess"}
    try:
        result = assess_image(target.path, cfg) if target.media == "image" else assess_video(target.path, cfg)
    except (AssessmentError, OSError) as exc:
        return {"error": str(exc)}
    return result.to_dict()


def _paid_stage(stage: PaidStage, target: Target, providers: Mapping[str, Provider],
                catalog: Catalog | None, timeout: float) -> tuple[dict[str, Any], Decimal]:
    """(the stage's result, what this run paid for it). `timeout` bounds a video frame grab."""
    provider = providers.get(stage.provider)
    why = _why_not(stage, target, provider, catalog)
    if why is not None:
        return _skipped(stage, *why), Decimal(0)
    assert catalog is not None and provider is not None and target.content_id is not None
    # Held across lookup, call and store: two processes given the same bytes buy one answer.
    key = f"quality:{target.content_id}:{stage.kind}:{stage.provider}:{stage.model}"
    with store.content_lock(catalog.engine, key):
        return _cached_or_bought(stage, target, provider, catalog, timeout)


def _why_not(stage: PaidStage, target: Target, provider: Provider | None,
             catalog: Catalog | None) -> tuple[str, str] | None:
    """(skip code, reason) when the stage cannot run for this file, else None."""
    if target.media not in ("image", "video"):
        return "media", f"{stage.kind} stages rate images and videos; this is {target.media}"
    if target.content_id is None:
        return "content", "the file's content id could not be computed"
    if catalog is None:
        return "catalog", "paid stages need the catalog for their cache and the project budget"
    if provider is None:
        return "provider", (f"provider {stage.provider!r} is not configured or is disabled "
                            f"(providers.{stage.provider} in the config)")
    if not _can_run(provider, stage):
        return "provider", f"{stage.provider} cannot run {stage.kind} stages"
    if not provider.settings.has_key:
        return "key", f"no API key for {stage.provider}: set providers.{stage.provider}.api_key or its variable"
    return None


def _cached_or_bought(stage: PaidStage, target: Target, provider: Provider,
                      catalog: Catalog, timeout: float) -> tuple[dict[str, Any], Decimal]:
    assert target.content_id is not None
    with catalog.session() as s:
        hit = quality_cache.lookup(s, target.content_id, stage.kind, stage.provider, stage.model)
        project = target.project or _asset_project(s, target.content_id) or target.fallback_project
    if hit is not None:
        return {**hit.result, "cached": True, "paid_usd": _money(hit.cost_usd)}, Decimal(0)
    if project is None:
        return _skipped(stage, "project", "no project to charge: pass a project for files not in the catalog"), \
            Decimal(0)
    target.project = project
    try:
        estimate = _estimate(provider, stage)
        still = _still(target, timeout)
    except ProviderError as exc:
        return _error(stage, exc), Decimal(0)
    except AssessmentError as exc:      # a video frame could not be taken; nothing was sent
        return {"error": str(exc), "error_type": type(exc).__name__, "provider": stage.provider,
                "model": stage.model}, Decimal(0)
    rid, refused = _admit(catalog, stage, project, estimate, target.content_id)
    if refused is not None:
        return _skipped(stage, "budget", str(refused)), Decimal(0)

    try:
        answer, cost = _call(provider, stage, target, still)
    except ProviderError as exc:
        # A malformed answer was still produced, and billed, by the service.
        cost = estimate.usd if isinstance(exc, ProviderMalformedResponse) else None
        with catalog.session() as s:
            requests.update_request(s, rid, state="failed", cost_usd=cost, error=str(exc))
            _pause_if_spent(s, project)
        return _error(stage, exc), cost or Decimal(0)
    with catalog.session() as s:
        requests.update_request(s, rid, state="done", cost_usd=cost)
        quality_cache.store_answer(s, target.content_id, stage.kind, stage.provider, stage.model, answer, cost)
        _pause_if_spent(s, project)
    return {**answer, "cached": False, "paid_usd": _money(cost)}, cost or Decimal(0)


def _admit(catalog: Catalog, stage: PaidStage, project: str, estimate: CostEstimate,
           content_id: str) -> tuple[int, BudgetExceeded | None]:
    """Admit the estimate against the project's budget and record the request, under the
    project lock (daemon/catalog/spend.py) as generation does: (request id, refusal or None)."""
    with catalog.session() as s:
        proj = spend.lock_project(s, project)
        refused: BudgetExceeded | None = None
        try:
            budget.admit(proj, estimate)
        except BudgetExceeded as exc:
            refused = exc
        rid = requests.record_request(
            s, project_id=proj.id, provider=stage.provider, model=stage.model, prompt=None,
            params={"purpose": "quality", "stage": stage.name}, reference_ids=[content_id],
            estimate_usd=estimate.usd, state="refused" if refused else "recorded",
            error=str(refused) if refused else None)
    return rid, refused


def _skipped(stage: PaidStage, why: str, reason: str) -> dict[str, Any]:
    return {"skipped": why, "reason": reason, "provider": stage.provider, "model": stage.model}


def _asset_project(s: Any, content_id: str) -> str | None:
    row = store.asset_by_content_id(s, content_id)
    return None if row is None else row.project_name


def _estimate(provider: Provider, stage: PaidStage) -> CostEstimate:
    if stage.kind == "vision":
        return provider.estimate(stage.model, {"input_tokens": _VISION_INPUT_TOKENS,
                                               "output_tokens": VisionProvider.MAX_OUTPUT_TOKENS})
    return provider.estimate(stage.model, {"inputs": [{}]})


def _can_run(provider: Provider, stage: PaidStage) -> bool:
    if stage.kind == "vision":
        return isinstance(provider, VisionProvider)
    return callable(getattr(provider, "measure_quality", None))


def _call(provider: Provider, stage: PaidStage, target: Target,
          still: bytes | Path) -> tuple[dict[str, Any], Decimal | None]:
    """The provider's answer for `still` (the image, or a video's middle frame) as a
    JSON-ready dict, and what it cost."""
    if stage.kind == "vision":
        assert isinstance(provider, VisionProvider)
        if target.context is None:
            target.context = _prompt_of(target.path) or ""
        context = target.context or None
        if target.media == "video":
            context = "This is a frame from the middle of a video." + (f" {context}" if context else "")
        answer: Any = _run(provider.rate_image(still, model=stage.model, context=context))
    else:
        answer = _run(provider.measure_quality(still, model=stage.model))  # type: ignore[attr-defined]
    data = answer.to_dict()
    data.pop("cost_usd", None)       # a string there; the cost is reported as paid_usd
    return data, answer.cost_usd


def _still(target: Target, timeout: float) -> bytes | Path:
    """What a paid stage looks at: the image itself, or a video's middle frame as a JPEG
    no larger than the vision APIs keep (raises AssessmentError if no frame comes out)."""
    if target.media != "video":
        return target.path
    import io

    from PIL import Image

    from alice.pipeline.quality.frames import grab_frame, probe_video

    duration, (width, height) = probe_video(target.path, timeout)
    scale = min(1.0, MAX_EDGE / max(width, height, 1))
    size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
    frame = grab_frame(target.path, (duration or 0.0) / 2, size, timeout)
    if frame is None:
        raise AssessmentError(f"{target.path.name}: ffmpeg gave no frame to rate")
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _pause_if_spent(s: Any, project: str) -> None:
    proj = spend.lock_project(s, project)
    if budget.exhausted(proj) and spend.pause(s, proj.id):
        store.append_event(s, "project.paused", None, None, {
            "project": project, "budget_usd": str(proj.budget), "spent_usd": str(proj.spent)})


def _error(stage: PaidStage, exc: ProviderError) -> dict[str, Any]:
    return {"error": str(exc), "error_type": type(exc).__name__, "provider": stage.provider, "model": stage.model}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


