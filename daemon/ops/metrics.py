"""Prometheus metrics for `alice run`, in their own registry, served on localhost.

An own CollectorRegistry (not prometheus_client's global one) so that two
daemons in one test process, or a library that also uses the global registry,
never collide, and so tests see exactly these series.

Label values are kept to small fixed sets (a watcher mode "error: <details>"
becomes "error", an unknown tool "unknown") because every distinct label value
is a time series kept for the life of the process.
"""
from __future__ import annotations

import errno
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    start_http_server,
)

WATCHER_MODES = ("inotify", "polling", "error")
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "half-open": 1, "open": 2}
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class MetricsServerError(Exception):
    """The metrics endpoint cannot be served; the message names the setting to change."""


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread
    host: str

    @property
    def port(self) -> int:
        """The bound port (useful when 0 asked for an ephemeral one)."""
        return self.server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@dataclass
class DaemonMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    server: MetricsServer | None = None

    def __post_init__(self) -> None:
        r = self.registry
        self.files_processed = Counter(
            "alice_files_processed", "Files the pipeline finished, by detected tool and outcome",
            ["tool", "outcome"], registry=r)
        self.stage_duration = Histogram(
            "alice_stage_duration_seconds", "Time spent per pipeline stage", ["stage"],
            buckets=STAGE_BUCKETS, registry=r)
        self.queue_depth = Gauge("alice_queue_depth", "Jobs in the queue by state", ["state"], registry=r)
        self.failures = Counter("alice_failures", "Failures by pipeline stage", ["stage"], registry=r)
        self.watcher_mode = Gauge(
            "alice_watcher_mode", "1 for the way each inbox is currently watched (inotify, polling, error)",
            ["inbox", "mode"], registry=r)
        self.provider_circuit = Gauge(
            "alice_provider_circuit_state", "Circuit breaker per provider: 0 closed, 1 half-open, 2 open",
            ["provider"], registry=r)
        ProcessCollector(registry=r)  # memory/fds/CPU: a daemon that runs for months must show leaks
        GCCollector(registry=r)
        self._queue_states: set[str] = set()

    # -- recording ------------------------------------------------------------

    def observe_file(self, result: Any) -> None:
        """Count a finished file. Takes the organizer's Result (or anything with
        .status, .tool and optionally .extra["stage"] for failures)."""
        outcome = str(getattr(result, "status", None) or "unknown")
        tool = str(getattr(result, "tool", None) or "unknown")
        self.files_processed.labels(tool=tool, outcome=outcome).inc()
        if outcome == "failed":
            extra = getattr(result, "extra", None) or {}
            self.failures.labels(stage=str(extra.get("stage", "organize"))).inc()

    def observe_failure(self, stage: str) -> None:
        self.failures.labels(stage=stage).inc()

    def observe_stage(self, stage: str, seconds: float) -> None:
        self.stage_duration.labels(stage=stage).observe(seconds)

    @contextmanager
    def time_stage(self, stage: str) -> Iterator[None]:
        """Time a block as one observation of `stage` (also when it raises)."""
        with self.stage_duration.labels(stage=stage).time():
            yield

    def set_queue_depth(self, counts: Mapping[str, int]) -> None:
        """Set every state's count; a state missing from `counts` that was seen before drops to 0."""
        for state in self._queue_states - set(counts):
            self.queue_depth.labels(state=state).set(0)
        for state, n in counts.items():
            self.queue_depth.labels(state=state).set(n)
        self._queue_states |= set(counts)

    def set_watcher_modes(self, modes: Mapping[str, str]) -> None:
        """From InboxWatcher.mode_by_inbox(): exactly one mode per inbox is 1."""
        for inbox, mode in modes.items():
            current = mode.split(":", 1)[0].strip()
            current = current if current in WATCHER_MODES else "error"
            for m in WATCHER_MODES:
                self.watcher_mode.labels(inbox=inbox, mode=m).set(1 if m == current else 0)

    def set_provider_circuit(self, provider: str, state: str) -> None:
        """state: "closed" | "half_open" | "open"."""
        if state not in CIRCUIT_STATES:
            raise ValueError(f"circuit state {state!r} is not one of: closed, half_open, open")
        self.provider_circuit.labels(provider=provider).set(CIRCUIT_STATES[state])

    # -- serving --------------------------------------------------------------

    @classmethod
    def serve(cls, host: str = "127.0.0.1", port: int = 0) -> DaemonMetrics:
        """New metrics, already served on host:port (0: an ephemeral port, see .server.port)."""
        metrics = cls()
        metrics.server = start_metrics_server(port, host, registry=metrics.registry)
        return metrics

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


def start_metrics_server(port: int, host: str = "127.0.0.1",
                         registry: CollectorRegistry | None = None) -> MetricsServer:
    """Serve `registry` (a fresh DaemonMetrics' registry if None) at http://host:port/metrics
    on a daemon thread. Raises MetricsServerError when the port cannot be bound."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise MetricsServerError(f"metrics.port must be a whole number 0-65535, got {port!r}")
    reg = registry if registry is not None else DaemonMetrics().registry
    try:
        server, thread = start_http_server(port, addr=host, registry=reg)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise MetricsServerError(f"metrics port {port} on {host} is already in use; set metrics.port "
                                     "to a free port (or 0 for any free port)") from e
        raise MetricsServerError(f"cannot serve metrics on {host}:{port}: {e.strerror or e}; "
                                 "check metrics.host and metrics.port") from e
    return MetricsServer(server, thread, host)
