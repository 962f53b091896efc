"""Building the provider set from config and describing it for `alice providers [--json]`."""
from __future__ import annotations

import json

import pytest

from alice.providers.circuit import CircuitState
from alice.providers.errors import ProviderConfigError
from alice.providers.registry import build_providers, describe, describe_text

KEY = "sk-registry-secret-42424242"


@pytest.mark.anyio
async def test_all_services_listed_with_models_prices_and_health() -> None:
    providers = build_providers(
        {"fal": {"prices": {"fal-ai/flux/dev": {"unit": "megapixel", "usd": "0.03"}}},
         "hedra": {"enabled": False}},
        env={"ANTHROPIC_API_KEY": KEY},
    )
    try:
        assert sorted(providers) == ["a1111", "anthropic", "bfl", "comfyui", "fal", "openai"]
        rows = describe(providers)
        blob = json.dumps(rows)
        assert KEY not in blob
        by_name = {r["name"]: r for r in rows}
        assert by_name["anthropic"]["key_configured"] is True and by_name["anthropic"]["healthy"] is True
        assert by_name["fal"]["key_configured"] is False and by_name["fal"]["healthy"] is False
        flux = next(m for m in by_name["fal"]["models"] if m["id"] == "fal-ai/flux/dev")
        assert flux["price"] == {"unit": "megapixel", "usd": "0.03"} and flux["kind"] == "image"
        assert by_name["bfl"]["circuit"]["state"] == "closed"
        # The user's own generators need no key: healthy without one, at their default local ports, free.
        for name, url in (("comfyui", "http://127.0.0.1:8188"), ("a1111", "http://127.0.0.1:7860")):
            row = by_name[name]
            assert (row["key_required"], row["key_configured"], row["healthy"]) == (False, False, True)
            assert row["base_url"] == url and "local" in row["capabilities"]
            assert all(m["price"]["usd"] == "0" for m in row["models"])
        assert by_name["fal"]["key_required"] is True and "generate" in by_name["fal"]["capabilities"]

        for _ in range(providers["bfl"].breaker.failure_threshold):
            providers["bfl"].breaker.record_failure()
        assert providers["bfl"].breaker.state is CircuitState.OPEN
        text = describe_text(describe(providers))
        assert "bfl        NO KEY   circuit open (retry in 30s)" in text
        assert "comfyui    local    circuit closed     http://127.0.0.1:8188" in text
        assert "$3/Mtok in, $15/Mtok out" in text and KEY not in text
    finally:
        for p in providers.values():
            await p.aclose()


def test_config_mistakes_are_reported() -> None:
    with pytest.raises(ProviderConfigError, match="unknown providers \\['midjourney'\\]"):
        build_providers({"midjourney": {}}, env={})
    with pytest.raises(ProviderConfigError, match="must be a mapping"):
        build_providers(["fal"], env={})
    with pytest.raises(ProviderConfigError, match="providers.bfl.prices.flux-dev"):
        build_providers({"bfl": {"prices": {"flux-dev": {"unit": "image"}}}}, env={})
    with pytest.raises(ProviderConfigError, match="providers.comfyui.base_url must be an http"):
        build_providers({"comfyui": {"base_url": "localhost:8188"}}, env={})


@pytest.mark.anyio
async def test_local_generators_take_their_url_and_a1111_waits_longer_by_default() -> None:
    providers = build_providers({"comfyui": {"base_url": "http://gpu-box.lan:8188/"},
                                 "a1111": {"base_url": "http://127.0.0.1:7861"}}, env={})
    try:
        assert providers["comfyui"].settings.base_url == "http://gpu-box.lan:8188"
        assert providers["comfyui"].settings.timeout_s == 60.0
        # A1111 answers txt2img only when the images exist: one request lasts a whole generation.
        assert providers["a1111"].settings.timeout_s == 600.0
    finally:
        for p in providers.values():
            await p.aclose()
    with pytest.raises(ProviderConfigError, match="providers.a1111.input_dir: only \\['comfyui'\\]"):
        build_providers({"a1111": {"input_dir": "/srv/in"}}, env={})
    with pytest.raises(ProviderConfigError, match="providers.comfyui.input_dir must be a folder path"):
        build_providers({"comfyui": {"input_dir": 5}}, env={})
    overridden = build_providers({"a1111": {"timeout_s": 30}, "comfyui": {"input_dir": " /srv/ComfyUI/input "}},
                                 env={})
    try:
        assert overridden["a1111"].settings.timeout_s == 30.0
        assert overridden["comfyui"].settings.input_dir == "/srv/ComfyUI/input"
    finally:
        for p in overridden.values():
            await p.aclose()


@pytest.mark.anyio
async def test_new_models_can_be_added_from_config() -> None:
    providers = build_providers(
        {"anthropic": {"extra_models": {"claude-opus-9": "vision"},
                       "prices": {"claude-opus-9": {"unit": "million_tokens", "usd": 15, "output_usd": 75}}}},
        env={},
    )
    try:
        claude = providers["anthropic"]
        assert claude.model("claude-opus-9").kind == "vision"
        assert claude.estimate("claude-opus-9", {"input_tokens": 1_000_000}).usd == 15
        row = next(r for r in describe(providers) if r["name"] == "anthropic")
        assert any(m["id"] == "claude-opus-9" for m in row["models"])
    finally:
        for p in providers.values():
            await p.aclose()
    with pytest.raises(ProviderConfigError, match="need a price"):
        build_providers({"fal": {"extra_models": {"fal-ai/new": "image"}}}, env={})
    with pytest.raises(ProviderConfigError, match="extra_models must map"):
        build_providers({"fal": {"extra_models": {"fal-ai/new": "hologram"}}}, env={})


def test_every_provider_declares_what_it_can_do() -> None:
    from alice.providers.base import Provider
    from alice.providers.capabilities import Capability
    from alice.providers.registry import PROVIDER_CLASSES
    from alice.providers.vision import VisionProvider

    for name, cls in PROVIDER_CLASSES.items():
        caps = cls.CAPABILITIES
        assert caps, f"{name} declares no capabilities"
        # The declarations agree with what the classes implement, so callers can trust them.
        assert (Capability.VISION in caps) == issubclass(cls, VisionProvider), name
        assert (Capability.QUALITY in caps) == callable(getattr(cls, "measure_quality", None)), name
        assert (Capability.SYNCHRONOUS in caps) == (cls.generate is not Provider.generate), name
        assert (Capability.LOCAL in caps) == (not cls.REQUIRES_KEY), name
        # A quality stage kind is served by the capability that runs it, with a model it lists.
        assert ("vision" in cls.QUALITY_STAGES) == (Capability.VISION in caps), name
        assert ("aesthetic" in cls.QUALITY_STAGES) == (Capability.QUALITY in caps), name
        assert cls.DEFAULT_FOR_STAGES <= set(cls.QUALITY_STAGES), name
        assert all(model in {m.id for m in cls.MODELS} for model in cls.QUALITY_STAGES.values()), name


def test_each_quality_stage_kind_has_exactly_one_default_provider() -> None:
    from alice.providers.registry import quality_stage_offers

    offers = quality_stage_offers()
    for kind in {o.kind for o in offers}:
        assert len([o for o in offers if o.kind == kind and o.default]) == 1, kind
