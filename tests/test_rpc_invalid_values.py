"""Values the catalog cannot hold are the caller's mistake: -32602 (invalid params), never -32603."""
from __future__ import annotations

import pytest

from alice.daemon.api import protocol as p
from alice.daemon.api.methods import REGISTRY
from alice.daemon.catalog.engine import Catalog
from tests.rpc_env import Line, running_server


@pytest.fixture
def env(catalog: Catalog):
    with running_server(catalog) as e:
        yield e


@pytest.mark.parametrize("method, params", [
    ("assets.get", {"asset": 10**19 + 7}),                       # 20 digits: past bigint
    ("assets.get", {"asset": -(10**19)}),
    ("assets.generation", {"asset": 99999999999999999999}),
    ("assets.similar", {"asset": 10**25}),
    ("assets.search", {"text": "fox\x00cat"}),
    ("assets.search", {"tool": "a\x00"}),
    ("assets.search", {"project": ["ok", "bad\x00"]}),
    ("assets.get", {"asset": "b3:\x00"}),
    ("assets.tag", {"asset": 1, "tags": ["x\x00y"]}),
])
def test_values_past_the_catalog_answer_invalid_params(env, method, params) -> None:
    line = Line(env.sock)
    try:
        got = line.call(method, params)
    finally:
        line.close()
    assert "error" in got, got
    assert got["error"]["code"] == p.INVALID_PARAMS, got
    msg = got["error"]["message"]
    assert "NUL" in msg or "64-bit" in msg, msg


def test_the_seed_keeps_its_own_wider_bound(env) -> None:
    line = Line(env.sock)
    try:
        got = line.call("assets.search", {"seed": 10**19 + 1})      # an unsigned 64-bit seed is valid
    finally:
        line.close()
    assert "result" in got, got


def test_published_schemas_are_unchanged_by_the_hardening() -> None:
    schema = REGISTRY.methods["assets.search"].params
    assert "pattern" not in schema["properties"]["text"]
