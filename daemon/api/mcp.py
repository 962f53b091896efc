"""`alice mcp`: an MCP server on stdio that lends an assistant the daemon's socket methods as tools.

Each tool is a socket method (the registry in daemon/api/methods.py): its
input schema is the method's params schema, its output schema the result
schema, so MCP clients validate exactly what the daemon validates. A call
goes over the daemon's socket; nothing here touches the catalog or files.
Tool names use '_' for '.', since MCP clients accept only [A-Za-z0-9_-].

The bridge starts even when the daemon is down, so the assistant sees the
tools and, on a call, a message saying how to start alice.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient
from alice.daemon.api.methods import REGISTRY, version

INSTRUCTIONS = (
    "alice catalogs the images and videos the user made with AI tools (Midjourney, ComfyUI, A1111, DALL-E, ...). "
    "Use assets_search to find them by prompt text and filters, assets_get / assets_generation for one asset's "
    "details and full generation settings, assets_similar for variants, and assets_tag / assets_rate / "
    "assets_move_to_project to curate. Paths returned are local files the user can open."
)


def tool_name(method: str) -> str:
    return method.replace(".", "_")


def tools() -> list[types.Tool]:
    return [types.Tool(name=tool_name(m.name), description=m.description, input_schema=m.params,
                       output_schema=m.result)
            for m in REGISTRY.methods.values() if m.mcp]


def build_server(socket_path: Path | Callable[[], Path]) -> Server[Any]:
    """`socket_path` may be a function: asked on each call, so a daemon started after the
    bridge (or restarted elsewhere) is still found."""
    by_tool = {tool_name(m.name): m.name for m in REGISTRY.methods.values() if m.mcp}

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        method = by_tool.get(params.name)
        if method is None:
            return _error(f"no tool {params.name!r}; known: {', '.join(sorted(by_tool))}")
        arguments = dict(params.arguments or {})

        where = socket_path() if callable(socket_path) else socket_path

        def call() -> Any:
            with RpcClient(where) as client:
                return client.call(method, arguments)

        try:
            result = await anyio.to_thread.run_sync(call)
        except DaemonNotRunning as exc:
            return _error(str(exc))
        except RpcCallError as exc:
            return _error(f"{exc.message} (error {exc.code})")
        except OSError as exc:
            return _error(f"cannot talk to the alice daemon at {where}: {exc}")
        return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(result, default=str))],
                                    structured_content=result)

    return Server("alice", version=version(), instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def serve_stdio(socket_path: Path | Callable[[], Path]) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    server = build_server(socket_path)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)
