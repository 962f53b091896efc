"""A per-provider circuit breaker: stop hammering a service that is down.

closed: calls go through; `failure_threshold` consecutive failures open it.
open: calls are refused until `cooldown_s` has passed since it opened.
half_open: exactly one probe call goes through; its success closes the
circuit, its failure opens it again for another cool-down.

The breaker is used from one event loop; it has no awaits, so its state
changes are atomic with respect to other coroutines.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class CircuitState(str, Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CircuitSnapshot:
    """What `alice status` and the metrics show."""

    state: CircuitState
    consecutive_failures: int
    failure_threshold: int
    retry_in_s: float          # 0 unless open
    total_failures: int
    total_successes: int
    times_opened: int

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "failure_threshold": self.failure_threshold,
            "retry_in_s": round(self.retry_in_s, 3),
            "total_failures": self.total_failures,
            "total_successes": self.total_successes,
            "times_opened": self.times_opened,
        }


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown_s < 0:
            raise ValueError("cooldown_s must not be negative")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self._total_failures = 0
        self._total_successes = 0
        self._times_opened = 0

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._cooled_down():
            return CircuitState.HALF_OPEN
        return self._state

    def retry_in_s(self) -> float:
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown_s - self._clock())

    def allow(self) -> bool:
        """Whether a call may be sent now. A True in half-open claims the one probe slot."""
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.OPEN:
            if not self._cooled_down():
                return False
            self._state = CircuitState.HALF_OPEN
            self._probe_in_flight = False
        if self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        self._total_successes += 1
        self._consecutive = 0
        self._probe_in_flight = False
        self._state = CircuitState.CLOSED

    def record_failure(self) -> None:
        self._total_failures += 1
        self._consecutive += 1
        self._probe_in_flight = False
        if self._state is CircuitState.HALF_OPEN or self._consecutive >= self.failure_threshold:
            self._open()

    def release(self) -> None:
        """The call ended without telling us anything (rate limited, cancelled):
        free the probe slot so the next call can probe, and change nothing else."""
        self._probe_in_flight = False

    def snapshot(self) -> CircuitSnapshot:
        return CircuitSnapshot(
            state=self.state,
            consecutive_failures=self._consecutive,
            failure_threshold=self.failure_threshold,
            retry_in_s=self.retry_in_s(),
            total_failures=self._total_failures,
            total_successes=self._total_successes,
            times_opened=self._times_opened,
        )

    def _open(self) -> None:
        if self._state is not CircuitState.OPEN:
            self._times_opened += 1
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self.cooldown_s
