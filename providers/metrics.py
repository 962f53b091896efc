"""Prometheus series for provider calls, on the default registry the daemon exports."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from .circuit import CircuitState

REQUESTS = Counter(
    "alice_provider_requests_total",
    "HTTP attempts to AI providers, by outcome",
    ["provider", "outcome"],   # ok, transient, rejected, auth, refused_open_circuit
)
RETRIES = Counter("alice_provider_retries_total", "Retried provider attempts", ["provider"])
LATENCY = Histogram(
    "alice_provider_request_seconds", "Provider HTTP attempt latency", ["provider"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
CIRCUIT = Gauge(
    "alice_provider_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["provider"],
)
ESTIMATED_COST = Counter(
    "alice_provider_estimated_cost_usd_total", "Estimated USD of admitted paid requests",
    ["provider", "model"],
)

_STATE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


def set_circuit(provider: str, state: CircuitState) -> None:
    CIRCUIT.labels(provider).set(_STATE_VALUE[state])
