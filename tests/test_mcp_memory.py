"""An MCP client reads what another client wrote into a project, and sees assets as images."""
from __future__ import annotations

import json

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import stdio_client

from alice.daemon.api.client import RpcClient
from alice.daemon.catalog.engine import Catalog
from tests.rpc_env import fill_sample, running_server
from tests.test_mcp import _params


def test_a_project_context_resource_shows_a_decision_another_client_wrote(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        fill_sample(env)
        params = _params(env.root, env.cfg)

        async def session() -> dict:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                before = await s.read_resource("alice://projects/cyber/context")
                # Another client (the CLI, another assistant) writes over the socket meanwhile.
                with RpcClient(env.sock) as other:
                    other.call("projects.note", {"project": "cyber", "kind": "decision",
                                                 "text": "reject anything with text in it"})
                listed = await s.list_resources()
                templates = await s.list_resource_templates()
                after = await s.read_resource("alice://projects/cyber/context")
                try:
                    await s.read_resource("alice://projects/nowhere/context")
                    missing = None
                except Exception as exc:          # the client raises the server's error
                    missing = str(exc)
                return {"before": before, "after": after, "listed": listed, "templates": templates,
                        "missing": missing}

        out = anyio.run(session)

    assert "reject anything" not in out["before"].contents[0].text
    text, data = out["after"].contents
    assert "reject anything with text in it" in text.text and text.mime_type == "text/markdown"
    assert json.loads(data.text)["decisions"][0]["text"] == "reject anything with text in it"
    assert {r.uri for r in out["listed"].resources} >= {"alice://projects/cyber/context",
                                                        "alice://projects/fantasy/context"}
    assert out["templates"].resource_templates[0].uri_template == "alice://projects/{project}/context"
    assert out["missing"] and "no project" in out["missing"]


def test_assets_view_gives_the_assistant_image_content(catalog: Catalog) -> None:
    import base64
    import io

    from PIL import Image

    with running_server(catalog) as env:
        assets = fill_sample(env)
        params = _params(env.root, env.cfg)

        async def session() -> dict:
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                tools = {t.name: t for t in (await s.list_tools()).tools}
                one = await s.call_tool("assets_view", {"asset": assets["castle"]["id"]})
                sheet = await s.call_tool("assets_view", {"text": "cyberpunk"})
                missing = await s.call_tool("assets_view", {"asset": 987654})
                return {"tools": tools, "one": one, "sheet": sheet, "missing": missing}

        out = anyio.run(session)

    assert "image" not in out["tools"]["assets_view"].output_schema["properties"]
    for key, kind in (("one", "asset"), ("sheet", "sheet")):
        result = out[key]
        assert not result.is_error, result.content
        image = next(c for c in result.content if c.type == "image")
        assert image.mime_type == "image/jpeg"
        picture = Image.open(io.BytesIO(base64.b64decode(image.data)))
        picture.load()
        assert picture.format == "JPEG" and max(picture.size) <= 1568
        assert result.structured_content["kind"] == kind and "image" not in result.structured_content
    assert out["one"].structured_content["assets"][0]["id"] == assets["castle"]["id"]
    assert {a["id"] for a in out["sheet"].structured_content["assets"]} == {assets["fox"]["id"], assets["fox2"]["id"]}
    assert out["missing"].is_error and "no asset" in out["missing"].content[0].text
