"""One paid quality stage for one file: cache, budget, provider call, cost.

  1. the cache (daemon/catalog/quality_cache.py): an answer bought before for
     this content_id, provider and model is used as is, and nothing is sent;
  2. the project's budget (daemon/generation/budget.py, the same rules and the same
     request rows as generation): the estimate is admitted and recorded as a
     generation request, or refused: {"skipped": "budget"};
  3. the provider call; its cost is recorded on the request row (so the
     project's spend and `alice projects` include quality spending) and the
     answer is cached.

An advisory lock per (content, stage kind, provider, model) is held across
the three, so two processes given the same bytes buy one answer. Errors,
timeouts and malformed answers come back as {"error": ...}, never raised.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alice.daemon.catalog import quality_cache, requests, spend, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.generation import budget
from alice.daemon.provider_host import ProviderHost
from alice.pipeline.quality.errors import AssessmentError
from alice.pipeline.quality.stages import PaidStage
from alice.pipeline.quality.still import still_for_rating
from alice.providers.base import Provider
from alice.providers.errors import BudgetExceeded, ProviderError, ProviderMalformedResponse
from alice.providers.pricing import CostEstimate
from alice.providers.vision import MAX_CONTEXT, MAX_EDGE

if TYPE_CHECKING:
    from alice.daemon.quality.assess import Target


def run_paid_stage(stage: PaidStage, target: Target, providers: ProviderHost,
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
        return _cached_or_bought(providers, stage, target, provider, catalog, timeout)


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
    if stage.kind not in provider.QUALITY_STAGES:
        return "provider", f"{stage.provider} cannot run {stage.kind} stages"
    if not provider.can_send:
        return "key", f"no API key for {stage.provider}: set providers.{stage.provider}.api_key or its variable"
    return None


def _cached_or_bought(providers: ProviderHost, stage: PaidStage, target: Target, provider: Provider,
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
        estimate = provider.stage_estimate(stage.kind, stage.model)
        still = still_for_rating(target.path, target.media or "image", MAX_EDGE, timeout)
    except ProviderError as exc:
        return _error(stage, exc), Decimal(0)
    except AssessmentError as exc:      # a video frame could not be taken; nothing was sent
        return {"error": str(exc), "error_type": type(exc).__name__, "provider": stage.provider,
                "model": stage.model}, Decimal(0)
    rid, refused = _admit(catalog, stage, project, estimate, target.content_id)
    if refused is not None:
        return _skipped(stage, "budget", str(refused)), Decimal(0)

    try:
        answer, cost = _call(providers, provider, stage, target, still)
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


def _call(host: ProviderHost, provider: Provider, stage: PaidStage, target: Target,
          still: bytes | Path) -> tuple[dict[str, Any], Decimal | None]:
    """The provider's answer for `still` (the image, or a video's middle frame) as a
    JSON-ready dict, and what it cost."""
    answer = host.run(provider.run_stage(stage.kind, still, model=stage.model, context=lambda: _context(target)))
    data = answer.to_dict()
    data.pop("cost_usd", None)       # a string there; the cost is reported as paid_usd
    return data, answer.cost_usd


def _pause_if_spent(s: Any, project: str) -> None:
    proj = spend.lock_project(s, project)
    if budget.exhausted(proj) and spend.pause(s, proj.id):
        store.append_event(s, "project.paused", None, None, {
            "project": project, "budget_usd": str(proj.budget), "spent_usd": str(proj.spent)})


def _error(stage: PaidStage, exc: ProviderError) -> dict[str, Any]:
    return {"error": str(exc), "error_type": type(exc).__name__, "provider": stage.provider, "model": stage.model}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _context(target: Target) -> str | None:
    """What a stage that judges prompt fidelity is told: the file's prompt, read once."""
    if target.context is None:
        target.context = _prompt_of(target.path) or ""
    context = target.context or None
    if target.media == "video":
        context = "This is a frame from the middle of a video." + (f" {context}" if context else "")
    return context


def _prompt_of(path: Path) -> str | None:
    from alice.pipeline.inspect import inspect_file

    try:
        prompt = inspect_file(path).generation.prompt
    except OSError:
        return None
    return str(prompt)[:MAX_CONTEXT] if prompt else None
