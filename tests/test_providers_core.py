"""The provider building blocks on their own: circuit breaker, backoff, Retry-After,
redaction, pricing and settings."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from types import SimpleNamespace

import httpx
import pytest

from alice.providers.circuit import CircuitBreaker, CircuitState
from alice.providers.config import ProviderSettings
from alice.providers.errors import ProviderConfigError
from alice.providers.pricing import Price, PriceTable, PricingError, Unit
from alice.providers.redaction import Redactor, Secret
from alice.providers.retry import Backoff, TransientStatus, is_retryable, parse_retry_after
from tests.fakes.harness import Clock

# -- circuit breaker ---------------------------------------------------------

def test_circuit_opens_after_threshold_consecutive_failures() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=3, cooldown_s=10, clock=clock)
    cb.record_failure()
    cb.record_failure()
    cb.record_success()                      # resets the streak
    cb.record_failure()
    cb.record_failure()
    assert cb.state is CircuitState.CLOSED and cb.allow()
    cb.record_failure()
    assert cb.state is CircuitState.OPEN and not cb.allow()
    assert cb.retry_in_s() == 10
    clock.advance(4)
    assert cb.retry_in_s() == 6 and not cb.allow()


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=1, cooldown_s=5, clock=clock)
    cb.record_failure()
    clock.advance(5)
    assert cb.state is CircuitState.HALF_OPEN
    assert cb.allow() is True
    assert cb.allow() is False               # a second caller waits for the probe
    cb.release()                             # probe ended with no verdict (e.g. 429)
    assert cb.allow() is True
    cb.record_success()
    assert cb.state is CircuitState.CLOSED and cb.allow() and cb.allow()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    cb = CircuitBreaker(failure_threshold=2, cooldown_s=5, clock=clock)
    cb.record_failure()
    cb.record_failure()
    clock.advance(6)
    assert cb.allow()
    cb.record_failure()
    assert cb.state is CircuitState.OPEN and cb.retry_in_s() == 5
    snap = cb.snapshot().to_dict()
    assert snap["state"] == "open" and snap["times_opened"] == 2 and snap["total_failures"] == 3


def test_circuit_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker(cooldown_s=-1)


# -- retry policy --------------------------------------------------------------

def test_retry_after_forms() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=lambda: now) == 30.0
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=lambda: now) == 0.0
    for junk in ("soon", "-5", "nan", "inf", ""):
        assert parse_retry_after({"retry-after": junk}) is None
    assert parse_retry_after({}) is None


def _state(attempt: int, exc: BaseException) -> SimpleNamespace:
    return SimpleNamespace(attempt_number=attempt, outcome=SimpleNamespace(exception=lambda: exc))


def test_backoff_is_full_jitter_under_a_growing_ceiling() -> None:
    ceilings = []
    backoff = Backoff(base_s=0.5, max_s=4, retry_after_cap_s=60, rng=lambda lo, hi: ceilings.append((lo, hi)) or hi)
    for attempt in range(1, 6):
        backoff(_state(attempt, httpx.ConnectError("x")))
    assert ceilings == [(0.0, 0.5), (0.0, 1.0), (0.0, 2.0), (0.0, 4), (0.0, 4)]


def test_backoff_prefers_retry_after_but_caps_it() -> None:
    backoff = Backoff(base_s=0.5, max_s=4, retry_after_cap_s=30, rng=lambda lo, hi: 99)
    assert backoff(_state(1, TransientStatus(429, "slow", 12))) == 12
    assert backoff(_state(1, TransientStatus(429, "slow", 3600))) == 30
    assert backoff(_state(1, TransientStatus(503, "down", None))) == 99


def test_only_transient_errors_are_retryable() -> None:
    req = httpx.Request("GET", "http://x")
    assert is_retryable(TransientStatus(500, "", None), idempotent=False)
    assert is_retryable(httpx.ConnectError("refused", request=req), idempotent=False)
    assert is_retryable(httpx.ReadTimeout("slow", request=req), idempotent=True)
    assert not is_retryable(httpx.ReadTimeout("slow", request=req), idempotent=False)
    assert not is_retryable(ValueError("bug"), idempotent=True)


# -- redaction -------------------------------------------------------------------

def test_secret_does_not_print_itself() -> None:
    s = Secret("  sk-live-abcdef123456 ")
    assert s.reveal() == "sk-live-abcdef123456"
    assert "abcdef" not in repr(s) and "abcdef" not in str(s) and "abcdef" not in f"{s}"
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(s)
    with pytest.raises(ValueError):
        Secret("   ")


def test_redactor_masks_nested_values_and_prefers_longest() -> None:
    r = Redactor([Secret("abcdef123456"), "abcdef123456-extended", None, "abc"])
    event = {"msg": "key abcdef123456-extended and abcdef123456", "n": 3,
             "list": ["x abcdef123456"], "err": RuntimeError("boom abcdef123456")}
    out = r.processor(None, "info", event)
    assert out["msg"] == "key *** and ***" and out["n"] == 3 and out["list"] == ["x ***"]
    assert out["err"] == "RuntimeError: boom ***"
    assert r.redact("abc is too short to be a key") == "abc is too short to be a key"
    assert r.redact_bytes(b'{"detail": "bad key abcdef123456"}') == b'{"detail": "bad key ***"}'


# -- pricing ---------------------------------------------------------------------

def test_estimates_in_each_unit() -> None:
    table = PriceTable("t", {
        "img": Price(Unit.IMAGE, Decimal("0.04")),
        "mp": Price(Unit.MEGAPIXEL, Decimal("0.025")),
        "vid": Price(Unit.VIDEO_SECOND, Decimal("0.28"), default_quantity=Decimal(5)),
        "llm": Price(Unit.MILLION_TOKENS, Decimal("3"), output_usd=Decimal("15")),
    })
    assert table.estimate("img", {"num_images": 3}).usd == Decimal("0.1200")
    mp = table.estimate("mp", {"width": 2048, "height": 1024})
    assert mp.usd == Decimal("0.0500") and mp.quantity == 2 and "2 MP" in mp.basis
    assert table.estimate("mp", {"width": 512, "height": 512}).usd == Decimal("0.0250")   # rounds up to 1 MP
    assert table.estimate("vid", {}).usd == Decimal("1.4000")
    assert table.estimate("vid", {"duration_s": "10"}).usd == Decimal("2.8000")
    llm = table.estimate("llm", {"input_tokens": 1_000_000, "output_tokens": 100_000})
    assert llm.usd == Decimal("4.5000") and llm.to_dict()["unit"] == "million_tokens"


def test_pricing_errors_are_actionable() -> None:
    table = PriceTable("fal", {"v": Price(Unit.VIDEO_SECOND, Decimal("1"))})
    with pytest.raises(PricingError, match="providers.fal.prices.nope"):
        table.estimate("nope", {})
    with pytest.raises(PricingError, match="duration_s"):
        table.estimate("v", {})
    with pytest.raises(PricingError, match="number"):
        table.estimate("v", {"duration_s": "ten"})
    with pytest.raises(PricingError, match=">= 0"):
        table.estimate("v", {"duration_s": -3})


def test_price_overrides_from_config() -> None:
    table = PriceTable("bfl", {"flux-dev": Price(Unit.IMAGE, Decimal("0.025"))})
    new = table.with_overrides({"flux-dev": {"unit": "image", "usd": "0.03"},
                                "my-model": {"unit": "megapixel", "usd": 0.01}})
    assert new.price("flux-dev").usd == Decimal("0.03") and new.price("my-model").unit is Unit.MEGAPIXEL
    assert table.price("flux-dev").usd == Decimal("0.025")       # the original is untouched
    for bad, match in [({"unit": "furlong", "usd": 1}, "unit must be one of"),
                       ({"unit": "image"}, "usd is required"),
                       ({"unit": "image", "usd": True}, "not a boolean"),
                       ({"unit": "million_tokens", "usd": 1}, "output_usd"),
                       ({"unit": "image", "usd": 1, "colour": "red"}, "unknown keys"),
                       (0.04, "must be a mapping")]:
        with pytest.raises(PricingError, match=match):
            table.with_overrides({"flux-dev": bad})


# -- settings --------------------------------------------------------------------

def test_settings_defaults_and_env_fallback() -> None:
    s = ProviderSettings.from_mapping("fal", None, env={"FAL_KEY": "fal-env-key-123"})
    assert s.base_url == "https://queue.fal.run" and s.api_key.reveal() == "fal-env-key-123"
    assert "fal-env-key-123" not in repr(s)
    assert ProviderSettings.from_mapping("fal", {}, env={}).has_key is False
    cfg = ProviderSettings.from_mapping("fal", {"api_key": "from-config-1"}, env={"FAL_KEY": "env-key-999"})
    assert cfg.api_key.reveal() == "from-config-1"
    custom = ProviderSettings.from_mapping("openai", {"api_key_env": "MY_OAI"}, env={"MY_OAI": "sk-custom-1",
                                                                                      "OPENAI_API_KEY": "other"})
    assert custom.api_key.reveal() == "sk-custom-1"
    assert ProviderSettings.from_mapping("bfl", {"base_url": "http://127.0.0.1:8080/"}, env={}).base_url == \
        "http://127.0.0.1:8080"


@pytest.mark.parametrize("data, match", [
    ({"base_url": "ftp://x"}, "http\\(s\\) URL"),
    ({"base_url": 5}, "base_url is required"),
    ({"timeout_s": "fast"}, "timeout_s must be a number"),
    ({"max_retries": 2.5}, "whole number"),
    ({"max_retries": True}, "must be a number"),
    ({"cooldown_s": -1}, ">= 0"),
    ({"failure_threshold": 0}, "at least 1"),
    ({"api_key": ""}, "non-empty string"),
    ({"api_key": 12345678}, "non-empty string"),
    ({"prices": []}, "prices must be a mapping"),
    ({"enabled": "yes"}, "true or false"),
    ({"timeout": 3}, "unknown keys \\['timeout'\\]"),
])
def test_settings_reject_bad_values(data, match: str) -> None:
    with pytest.raises(ProviderConfigError, match=match):
        ProviderSettings.from_mapping("fal", data, env={})


def test_custom_provider_needs_a_base_url() -> None:
    with pytest.raises(ProviderConfigError, match="base_url is required"):
        ProviderSettings.from_mapping("mystery", {}, env={})
    with pytest.raises(ProviderConfigError, match="must be a mapping"):
        ProviderSettings.from_mapping("fal", ["not", "a", "mapping"], env={})
