"""Test-side helpers: settings pointed at a fake, a fake clock, a recording sleep,
and the check that an API key appears nowhere."""
from __future__ import annotations

import asyncio
from typing import Any

from alice.providers.config import ProviderSettings

from .server import FakeService


def settings_for(name: str, fake: FakeService, **overrides: Any) -> ProviderSettings:
    data: dict[str, Any] = {
        "base_url": fake.url, "api_key": fake.api_key,
        "timeout_s": 2.0, "connect_timeout_s": 1.0,
        "backoff_base_s": 0.001, "backoff_max_s": 0.01, "retry_after_cap_s": 5.0,
        "poll_interval_s": 0.001, "poll_timeout_s": 5.0,
        "max_retries": 2, "failure_threshold": 3, "cooldown_s": 10.0,
    }
    data.update(overrides)
    return ProviderSettings.from_mapping(name, data, env={})


def provider_for(cls: type, name: str, fake: FakeService, *, clock: Any = None, sleep: Any = None,
                 budget_check: Any = None, **overrides: Any) -> Any:
    """A `cls` provider pointed at `fake` with test timings (settings_for); instant sleeps
    unless `sleep` is given, and the real clock and no budget hook unless given."""
    kwargs: dict[str, Any] = {}
    if clock is not None:
        kwargs["clock"] = clock
    if budget_check is not None:
        kwargs["budget_check"] = budget_check
    return cls(settings_for(name, fake, **overrides), sleep=sleep or Sleeps(), **kwargs)


class Clock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sleeps:
    """Records each backoff/poll wait instead of sleeping it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


def assert_no_secret(secret: str, *texts: Any) -> None:
    for text in texts:
        assert secret not in str(text), f"API key leaked into: {str(text)[:300]}"
        assert secret not in repr(text), f"API key leaked into repr: {repr(text)[:300]}"
