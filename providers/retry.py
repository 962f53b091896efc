"""Which failures are worth another try, and how long to wait before it.

Transient: connection failures, 429 and 5xx. A read timeout (or a dropped
connection after the request went out) is transient only for requests that
are safe to repeat: re-sending a job submission whose answer we never saw can
start, and bill, the same generation twice.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from tenacity import RetryCallState


class TransientStatus(Exception):
    """A 429 or 5xx answer, raised inside the retry loop so tenacity can retry it."""

    def __init__(self, status: int, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


def is_transient_status(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    if isinstance(exc, TransientStatus):
        return True
    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True   # the request never reached the service
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError)):
        return idempotent
    return False


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], datetime] | None = None) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI/Anthropic) or `Retry-After`
    (delta-seconds or an HTTP date). None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0 and value == value:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return value if value >= 0 and value == value and value != float("inf") else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


class Backoff:
    """Exponential backoff with full jitter; a 429's Retry-After wins, up to a cap."""

    def __init__(self, base_s: float, max_s: float, retry_after_cap_s: float,
                 rng: Callable[[float, float], float] = random.uniform) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self.retry_after_cap_s = retry_after_cap_s
        self._rng = rng

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientStatus) and exc.retry_after_s is not None:
            return min(exc.retry_after_s, self.retry_after_cap_s)
        ceiling = min(self.max_s, self.base_s * (2 ** (state.attempt_number - 1)))
        return self._rng(0.0, ceiling)
