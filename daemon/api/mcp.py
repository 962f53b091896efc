"""`alice mcp`: an MCP server on stdio that lends an assistant the daemon's socket methods as tools.

Each tool is a socket method (the registry in daemon/api/methods.py): its
input schema is the method's params schema, its output schema the result
schema, so MCP clients validate exactly what the daemon validates. A call
goes over the daemon's socket; nothing here touches the catalog or files.
Tool names use '_' for '.', since MCP clients accept only [A-Za-z0-9_-].
A tool whose method returns an image (assets.view) answers with MCP image
content, so the assistant sees the picture rather than its base64 text.

Each project is also a resource, alice://projects/<name>/context: the same
text and JSON as projects.context, for clients that load context up front.

The bridge starts even when the daemon is down, so the assistant sees the
tools and, on a call, a message saying how to start alice.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient
from alice.daemon.api.methods import REGISTRY, version
from alice.daemon.api.protocol import INTERNAL_ERROR, NOT_FOUND

INSTRUCTIONS = (
    "alice catalogs the images and videos the user made with AI tools (Midjourney, ComfyUI, A1111, DALL-E, ...). "
    "Use assets_search to find them by prompt text and filters, assets_get / assets_generation for one asset's "
    "details and full generation settings, assets_similar for variants, and assets_tag / assets_rate / "
    "assets_move_to_project to curate. Paths returned are local files the user can open. "
    "assets_view shows you an asset or a contact sheet of search results as an image. "
    "At the start of work on a project read projects_context (or the resource alice://projects/<name>/context): "
    "its brief, style notes and decisions; record new decisions with projects_note. boards_* keep named "
    "selections of assets with a note per item."
)
CONTEXT_URI = "alice://projects/{project}/context"
_CONTEXT_URI = re.compile(r"^alice://projects/(?P<project>[^/]+)/context$")
RESOURCE_NOT_FOUND = -32002       # the MCP specification's code for an unknown resource


def context_uri(project: str) -> str:
    return CONTEXT_URI.format(project=quote(project, safe=""))


def tool_name(method: str) -> str:
    return method.replace(".", "_")


def tools() -> list[types.Tool]:
    return [types.Tool(name=tool_name(m.name), description=m.description, input_schema=m.params,
                       output_schema=_without_image(m.result))
            for m in REGISTRY.methods.values() if m.mcp]


def _without_image(schema: dict[str, Any]) -> dict[str, Any]:
    """An image travels as image content, not in the structured result the output schema describes."""
    props = schema.get("properties", {})
    if "image" not in props:
        return schema
    return {**schema, "properties": {k: v for k, v in props.items() if k != "image"},
            "required": [r for r in schema.get("required", []) if r != "image"]}


def build_server(socket_path: Path) -> Server[Any]:
    by_tool = {tool_name(m.name): m.name for m in REGISTRY.methods.values() if m.mcp}

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        method = by_tool.get(params.name)
        if method is None:
            return _error(f"no tool {params.name!r}; known: {', '.join(sorted(by_tool))}")
        arguments = dict(params.arguments or {})

        def call() -> Any:
            with RpcClient(socket_path) as client:
                return client.call(method, arguments)

        try:
            result = await anyio.to_thread.run_sync(call)
        except DaemonNotRunning as exc:
            return _error(str(exc))
        except RpcCallError as exc:
            return _error(f"{exc.message} (error {exc.code})")
        except OSError as exc:
            return _error(f"cannot talk to the alice daemon at {socket_path}: {exc}")
        if isinstance(result, dict) and isinstance(result.get("image"), dict):
            return _image_result(result)
        return types.CallToolResult(content=[types.TextContent(type="text", text=json.dumps(result, default=str))],
                                    structured_content=result)

    async def daemon_call(method: str, arguments: dict[str, Any]) -> Any:
        def call() -> Any:
            with RpcClient(socket_path) as client:
                return client.call(method, arguments)

        try:
            return await anyio.to_thread.run_sync(call)
        except DaemonNotRunning as exc:
            raise MCPError(INTERNAL_ERROR, str(exc)) from None
        except RpcCallError as exc:
            code = RESOURCE_NOT_FOUND if exc.code == NOT_FOUND else INTERNAL_ERROR
            raise MCPError(code, exc.message) from None
        except OSError as exc:
            raise MCPError(INTERNAL_ERROR, f"cannot talk to the alice daemon at {socket_path}: {exc}") from None

    async def list_resources(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        try:
            listed = await daemon_call("projects.list", {})
        except MCPError:
            return types.ListResourcesResult(resources=[])     # no daemon: the template still says how to ask
        return types.ListResourcesResult(resources=[
            types.Resource(uri=context_uri(pr["name"]), name=f"{pr['name']} context", mime_type="text/markdown",
                           description=f"Brief, style notes, decisions and counts of project {pr['name']}")
            for pr in listed["projects"]])

    async def list_templates(ctx: Any, params: types.PaginatedRequestParams | None
                             ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[types.ResourceTemplate(
            uri_template=CONTEXT_URI, name="project context", mime_type="text/markdown",
            description="A project's brief, style notes, decisions (newest first) and counts")])

    async def read_resource(ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        match = _CONTEXT_URI.match(str(params.uri))
        if match is None:
            raise MCPError(RESOURCE_NOT_FOUND, f"no resource {params.uri}; alice serves {CONTEXT_URI}")
        result = await daemon_call("projects.context", {"project": unquote(match["project"])})
        data = {k: v for k, v in result.items() if k != "text"}
        return types.ReadResourceResult(contents=[
            types.TextResourceContents(uri=str(params.uri), mime_type="text/markdown", text=result["text"]),
            types.TextResourceContents(uri=str(params.uri), mime_type="application/json",
                                       text=json.dumps(data, default=str))])

    return Server("alice", version=version(), instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                  on_list_resource_templates=list_templates, on_read_resource=read_resource)


def _image_result(result: dict[str, Any]) -> types.CallToolResult:
    """An image the method drew, as image content, with the rest of its answer as text and structure."""
    image = result["image"]
    rest = {k: v for k, v in result.items() if k != "image"}
    return types.CallToolResult(content=[
        types.ImageContent(type="image", data=image["data"], mime_type=image["mime_type"]),
        types.TextContent(type="text", text=json.dumps(rest, default=str))], structured_content=rest)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def serve_stdio(socket_path: Path) -> None:
    """Serve MCP on stdin/stdout until the client closes stdin."""
    server = build_server(socket_path)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(run)
