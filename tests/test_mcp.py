"""`alice mcp` driven as an MCP client drives it: initialize, list tools, call search, get a result."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio
import yaml
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from alice.daemon.api.methods import REGISTRY
from alice.daemon.catalog.engine import Catalog
from tests.rpc_env import fill_sample, running_server

ALICE = Path(sys.executable).parent / "alice"


def _params(root: Path, cfg) -> StdioServerParameters:
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"inboxes": [str(p) for p in cfg.inboxes], "organized": str(cfg.organized),
                                      "data_dir": str(cfg.data_dir), "socket": str(cfg.socket)}))
    return StdioServerParameters(command=str(ALICE), args=["mcp"], env={"ALICE_CONFIG": str(config)})


def test_mcp_client_lists_tools_and_searches(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        assets = fill_sample(env)
        params = _params(env.root, env.cfg)

        async def session() -> dict:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                init = await s.initialize()
                listed = await s.list_tools()
                found = await s.call_tool("assets_search", {"text": "cyberpunk fox", "limit": 5})
                detail = await s.call_tool("assets_get", {"asset": assets["castle"]["id"]})
                bad = await s.call_tool("assets_search", {"stars_min": 11})
                missing = await s.call_tool("assets_get", {"asset": 987654})
                return {"init": init, "tools": listed.tools, "found": found, "detail": detail, "bad": bad,
                        "missing": missing}

        out = anyio.run(session)

    assert out["init"].server_info.name == "alice"
    tools = {t.name: t for t in out["tools"]}
    assert {"assets_search", "assets_get", "assets_generation", "assets_similar", "assets_tag", "assets_rate",
            "assets_move_to_project", "projects_list", "stats", "daemon_status", "organize_scan"} <= set(tools)
    assert "events_subscribe" not in tools
    assert tools["assets_search"].input_schema == REGISTRY.methods["assets.search"].params
    found = out["found"]
    assert not found.is_error
    ids = {i["id"] for i in found.structured_content["items"]}
    assert ids == {assets["fox"]["id"], assets["fox2"]["id"]}
    assert json.loads(found.content[0].text) == found.structured_content
    assert out["detail"].structured_content["path"] == assets["castle"]["dest"]
    assert out["bad"].is_error and "stars_min" in out["bad"].content[0].text
    assert out["missing"].is_error and "no asset" in out["missing"].content[0].text


def test_mcp_without_a_daemon_says_how_to_start_it(tmp_path: Path) -> None:
    from tests.rpc_env import make_config, short_dir

    root = short_dir()
    cfg = make_config(root)
    params = _params(root, cfg)

    async def session():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            assert (await s.list_tools()).tools
            return await s.call_tool("stats", {})

    result = anyio.run(session)
    assert result.is_error and "alice run" in result.content[0].text
