"""Prometheus series for provider calls, on the registry the caller serves.

No collector lives at module level: a daemon builds one ProviderMetrics on the
registry its `/metrics` endpoint serves and hands it to every provider it
builds, so the series it exports are the ones its providers update. A provider
built without one (a library user, a test) records into a private registry
that nobody serves.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .circuit import CircuitState

_STATE_VALUE = {CircuitState.CLOSED: 0, CircuitState.HALF_OPEN: 1, CircuitState.OPEN: 2}


class ProviderMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "alice_provider_requests_total", "HTTP attempts to AI providers, by outcome",
            ["provider", "outcome"],   # ok, transient, rejected, auth, refused_open_circuit
            registry=r)
        self.retries = Counter("alice_provider_retries_total", "Retried provider attempts", ["provider"],
                               registry=r)
        self.latency = Histogram(
            "alice_provider_request_seconds", "Provider HTTP attempt latency", ["provider"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=r)
        self.circuit = Gauge(
            "alice_provider_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["provider"],
            registry=r)
        self.estimated_cost = Counter(
            "alice_provider_estimated_cost_usd_total", "Estimated USD of admitted paid requests",
            ["provider", "model"], registry=r)

    def set_circuit(self, provider: str, state: CircuitState) -> None:
        self.circuit.labels(provider).set(_STATE_VALUE[state])
