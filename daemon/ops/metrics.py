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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    ProcessCollector,
    start_http_server,
)

from alice.providers.metrics import ProviderMetrics

WATCHER_MODES = ("inotify", "polling", "error")


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
        self.queue_depth = Gauge("alice_queue_depth", "Jobs in the queue by state", ["state"], registry=r)
        self.failures = Counter("alice_failures", "Failures by pipeline stage", ["stage"], registry=r)
        self.watcher_mode = Gauge(
            "alice_watcher_mode", "1 for the way each inbox is currently watched (inotify, polling, error)",
            ["inbox", "mode"], registry=r)
        # Provider series (requests, retries, latency, circuit, cost) on this same registry:
        # the app hands this to every provider it builds.
        self.providers = ProviderMetrics(r)
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
