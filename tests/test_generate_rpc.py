"""generate.submit / generate.status / generate.recreate through the socket API's registry
(schema validation + handler), against the fake fal server and a real catalog."""
from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest

from alice.daemon.api import protocol as p
from alice.daemon.api.methods import REGISTRY, Hooks, RpcContext
from alice.daemon.api.paths import PathGuard
from alice.daemon.catalog import spend
from alice.daemon.catalog.engine import Catalog
from alice.daemon.provider_host import ProviderHost
from tests.fakes.fal import FakeFal
from tests.fakes.server import png_bytes
from tests.generate_env import OwnedGenerator, make_config, provider_config

FLUX = "fal-ai/flux/dev"


@pytest.fixture
def fal():
    with FakeFal() as server:
        yield server


@pytest.fixture
def ctx(tmp_path: Path, catalog: Catalog, fal: FakeFal):
    cfg = make_config(tmp_path, provider_config(fal=fal))
    generator = OwnedGenerator(cfg, catalog, ProviderHost.build(cfg.providers))
    context = RpcContext(cfg, catalog, Hooks(generator=generator), PathGuard(cfg.roots()))
    yield context
    generator.close()


def call(ctx: RpcContext, method: str, **params):
    m = REGISTRY.get(method)
    m.validate(params)
    return m.handler(ctx, **params)


def until_done(ctx: RpcContext, rid: int) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = call(ctx, "generate.status", request_id=rid)
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"request {rid} not finished: {status}")


def test_submit_returns_at_once_and_status_follows_the_request(ctx: RpcContext, fal: FakeFal) -> None:
    fal.delays["submit"] = 0.3
    started = call(ctx, "generate.submit", provider="fal", model=FLUX, project="owls", prompt="an owl",
                   params={"seed": 3})
    assert started["state"] == "recorded" and started["outputs"] == []
    done = until_done(ctx, started["id"])
    assert done["state"] == "done" and done["params"] == {"seed": 3}
    assert Path(done["outputs"][0]["path"]).parent == ctx.cfg.inboxes[0] / "owls"
    again = call(ctx, "generate.recreate", of=done["outputs"][0]["content_id"])
    assert until_done(ctx, again["id"])["recreated_from"] == started["id"]
    assert "generate.submit" in {m["name"] for m in call(ctx, "rpc.discover")["methods"]}


def test_budget_refusal_is_its_own_error_code(ctx: RpcContext, fal: FakeFal) -> None:
    with ctx.catalog.session() as s:
        spend.set_budget(s, "cheap", Decimal("0.01"))
    with pytest.raises(p.RpcError) as err:
        call(ctx, "generate.submit", provider="fal", model=FLUX, project="cheap", prompt="x")
    assert err.value.code == p.BUDGET_EXCEEDED and "set-budget cheap" in err.value.message
    assert err.value.data["request_id"] == 1 and fal.seen == []


def test_bad_requests_are_rejected_with_what_to_fix(ctx: RpcContext, tmp_path: Path) -> None:
    with pytest.raises(p.RpcError) as err:
        call(ctx, "generate.submit", provider="fal", model=FLUX)
    assert err.value.code == p.INVALID_PARAMS and "project" in err.value.message
    with pytest.raises(p.RpcError) as err:
        call(ctx, "generate.submit", provider="nope", model=FLUX, project="p")
    assert err.value.code == p.INVALID_PARAMS and "unknown or disabled provider" in err.value.message
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    outside.write_bytes(png_bytes())
    with pytest.raises(p.RpcError) as err:
        call(ctx, "generate.submit", provider="fal", model=FLUX, project="p", references=[str(outside)])
    assert err.value.code == p.OUTSIDE_ROOTS
    with pytest.raises(p.RpcError) as err:
        call(ctx, "generate.status", request_id=404)
    assert err.value.code == p.NOT_FOUND


def test_budgets_over_the_socket(ctx: RpcContext, fal: FakeFal) -> None:
    set_to = call(ctx, "projects.set_budget", project="art", budget_usd="0.025")
    assert set_to["budget_usd"] == "0.0250" and set_to["change"] is None
    assert until_done(ctx, call(ctx, "generate.submit", provider="fal", model=FLUX, project="art",
                                prompt="x", params={"image_size": "square_hd"})["id"])["state"] == "done"
    art = next(pr for pr in call(ctx, "projects.spending")["projects"] if pr["project"] == "art")
    assert art["paused"] is True and art["by_model"][0]["spent_usd"] == "0.0250"
    assert call(ctx, "projects.set_budget", project="art", budget_usd=1)["change"] == "resumed"
    with pytest.raises(p.RpcError) as err:
        call(ctx, "projects.set_budget", project="art", budget_usd="lots")
    assert err.value.code == p.INVALID_PARAMS and "dollars" in err.value.message
    # Assistants may spend within a budget but not raise it.
    assert not REGISTRY.get("projects.set_budget").mcp and REGISTRY.get("generate.submit").mcp
