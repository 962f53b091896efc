"""The set of configured providers, and how `alice providers [--json]` shows them."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from alice.pipeline.quality.stages import StageOffer

from .a1111 import A1111Provider
from .anthropic import AnthropicProvider
from .base import BudgetCheck, Provider
from .bfl import BflProvider
from .comfyui import ComfyUiProvider
from .config import ProvidersConfig
from .fal import FalProvider
from .hedra import HedraProvider
from .metrics import ProviderMetrics
from .openai import OpenAIProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    cls.name: cls for cls in (FalProvider, BflProvider, HedraProvider, OpenAIProvider, AnthropicProvider,
                              ComfyUiProvider, A1111Provider)
}


def quality_stage_offers() -> tuple[StageOffer, ...]:
    """The paid quality stages the provider classes declare (QUALITY_STAGES, DEFAULT_FOR_STAGES),
    for pipeline.quality.stages.parse_stage."""
    return tuple(StageOffer(kind, name, model, kind in cls.DEFAULT_FOR_STAGES)
                 for name, cls in PROVIDER_CLASSES.items() for kind, model in cls.QUALITY_STAGES.items())


def build_providers(
    settings: ProvidersConfig | Mapping[str, Any] | None,
    *,
    env: Mapping[str, str] | None = None,
    budget_check: BudgetCheck | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    metrics: ProviderMetrics | None = None,
) -> dict[str, Provider]:
    """One provider per known, enabled service: from the parsed `providers:` section
    (Config.providers), or from a raw mapping, which is parsed here with `env`.
    Services missing from the config still appear (their key may be in the
    environment; ComfyUI and A1111 at their default local URLs). All of them record
    into `metrics` (the daemon passes the one its /metrics endpoint serves)."""
    metrics = metrics if metrics is not None else ProviderMetrics()
    if not isinstance(settings, ProvidersConfig):
        settings = ProvidersConfig.from_mapping(settings, env)
    return {name: PROVIDER_CLASSES[name](s, transport=transport, budget_check=budget_check, metrics=metrics)
            for name, s in settings.settings.items()}


def describe(providers: Mapping[str, Provider]) -> list[dict[str, Any]]:
    """JSON-ready rows: name, base URL, key configured, circuit health, models with prices."""
    rows = []
    for name, provider in sorted(providers.items()):
        models = []
        for m in provider.models:
            price = provider.prices.prices.get(m.id)
            models.append({"id": m.id, "kind": m.kind, "description": m.description,
                           "price": None if price is None else price.to_dict()})
        rows.append({"name": name, "base_url": provider.settings.base_url, **provider.health(), "models": models})
    return rows


def describe_text(rows: list[dict[str, Any]]) -> str:
    """The human-readable form of `describe()` for `alice providers`."""
    lines = []
    for row in rows:
        circuit = row["circuit"]
        state = circuit["state"] + (f" (retry in {circuit['retry_in_s']:.0f}s)" if circuit["state"] == "open" else "")
        key = "local" if not row["key_required"] else "key set" if row["key_configured"] else "NO KEY"
        lines.append(f"{row['name']:<10} {key:<8} circuit {state:<10} {row['base_url']}")
        for m in row["models"]:
            p = m["price"]
            price = "no price" if p is None else (
                f"${p['usd']}/Mtok in, ${p['output_usd']}/Mtok out" if p["unit"] == "million_tokens"
                else f"${p['usd']} per {p['unit'].replace('_', ' ')}")
            lines.append(f"    {m['id']:<48} {m['kind']:<13} {price}")
    return "\n".join(lines)
