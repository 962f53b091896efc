"""DaemonMetrics scraped over real HTTP on 127.0.0.1."""
from __future__ import annotations

import socket
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from alice.daemon.ops.metrics import DaemonMetrics, MetricsServerError, start_metrics_server
from alice.providers.circuit import CircuitState


@pytest.fixture
def served():
    m = DaemonMetrics.serve("127.0.0.1", 0)
    yield m
    m.close()


def scrape(m: DaemonMetrics) -> dict[tuple[str, tuple], float]:
    resp = httpx.get(f"http://127.0.0.1:{m.server.port}/metrics", timeout=10, trust_env=False)
    assert resp.status_code == 200
    out = {}
    for fam in text_string_to_metric_families(resp.text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_ephemeral_port_is_reported_and_scrapable(served):
    assert served.server.port > 0
    assert served.server.url == f"http://127.0.0.1:{served.server.port}/metrics"
    samples = scrape(served)
    assert any(name == "process_resident_memory_bytes" for name, _ in samples)


def test_files_queue_failures_watchers_circuits(served):
    m = served
    m.observe_file(SimpleNamespace(status="organized", tool="comfyui"))
    m.observe_file(SimpleNamespace(status="organized", tool="comfyui"))
    m.observe_file(SimpleNamespace(status="failed", tool=None, extra={"stage": "hash"}))
    m.set_queue_depth({"pending": 5, "leased": 2})
    m.set_queue_depth({"pending": 1})
    m.set_watcher_modes({"/in/a": "inotify", "/in/b": "error: inbox does not exist"})
    m.providers.set_circuit("fal", CircuitState.OPEN)

    s = scrape(m)
    assert s[("alice_files_processed_total", (("outcome", "organized"), ("tool", "comfyui")))] == 2
    assert s[("alice_files_processed_total", (("outcome", "failed"), ("tool", "unknown")))] == 1
    assert s[("alice_failures_total", (("stage", "hash"),))] == 1
    assert s[("alice_queue_depth", (("state", "pending"),))] == 1
    assert s[("alice_queue_depth", (("state", "leased"),))] == 0
    assert s[("alice_watcher_mode", (("inbox", "/in/a"), ("mode", "inotify")))] == 1
    assert s[("alice_watcher_mode", (("inbox", "/in/a"), ("mode", "polling")))] == 0
    assert s[("alice_watcher_mode", (("inbox", "/in/b"), ("mode", "error")))] == 1
    assert not any(dict(lbl).get("mode", "").startswith("error:") for _, lbl in s)
    assert s[("alice_provider_circuit_state", (("provider", "fal"),))] == 2


def test_mode_change_moves_the_one(served):
    served.set_watcher_modes({"/in": "inotify"})
    served.set_watcher_modes({"/in": "polling"})
    s = scrape(served)
    assert s[("alice_watcher_mode", (("inbox", "/in"), ("mode", "inotify")))] == 0
    assert s[("alice_watcher_mode", (("inbox", "/in"), ("mode", "polling")))] == 1


def test_own_registry_not_the_global_one(served):
    served.observe_file(SimpleNamespace(status="organized", tool="midjourney"))
    assert REGISTRY.get_sample_value("alice_files_processed_total",
                                     {"tool": "midjourney", "outcome": "organized"}) is None
    other = DaemonMetrics()  # a second instance must not clash ("Duplicated timeseries")
    assert other.registry.get_sample_value("alice_files_processed_total",
                                           {"tool": "midjourney", "outcome": "organized"}) is None


def test_port_in_use_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MetricsServerError, match="already in use"):
            start_metrics_server(port, "127.0.0.1")


@pytest.mark.parametrize("bad", [-1, 70000, "9464", True])
def test_bad_port_values(bad):
    with pytest.raises(MetricsServerError, match="0-65535"):
        start_metrics_server(bad)


def test_close_stops_serving():
    m = DaemonMetrics.serve()
    port = m.server.port
    m.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2, trust_env=False)
