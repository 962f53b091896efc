"""Methods as data: name, description, params and result JSON Schemas, handler.

The same schemas validate every request (jsonschema, compiled once), describe
the API in rpc.discover (OpenRPC style) and become the MCP tools' input
schemas, so the three can never disagree.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from alice.daemon.api.protocol import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError

OPENRPC_VERSION = "1.3.2"


@dataclass
class Method:
    name: str
    description: str
    params: dict[str, Any]                      # JSON Schema of the params object
    result: dict[str, Any]                      # JSON Schema of the result
    handler: Callable[..., Any]                 # handler(ctx, **params) -> result
    # Served by the connection itself (events.subscribe), not by a worker thread.
    streaming: bool = False
    # Offered to assistants over MCP (subscriptions need a connection MCP tools do not have).
    mcp: bool = True
    _validator: Draft202012Validator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        Draft202012Validator.check_schema(self.params)
        Draft202012Validator.check_schema(self.result)
        self._validator = Draft202012Validator(harden(self.params))

    def validate(self, params: dict[str, Any]) -> None:
        """RpcError(INVALID_PARAMS) naming every problem, each with the field it is about."""
        errors = sorted(self._validator.iter_errors(params), key=lambda e: list(e.absolute_path))
        if not errors:
            return
        problems = []
        for e in errors[:5]:
            where = "/".join(str(p) for p in e.absolute_path) or "params"
            problems.append(f"{where}: {_describe(e)}")
        hint = f"; rpc.discover shows the schema of {self.name}"
        raise RpcError(INVALID_PARAMS, f"invalid params for {self.name}: " + "; ".join(problems) + hint,
                       {"errors": problems})


# What PostgreSQL can hold: a bigint, and text without NUL. Values past these are the
# caller's mistake (-32602), not the daemon's (-32603), whatever the method.
INT64 = (-(2**63), 2**63 - 1)
NO_NUL = "^[^\\x00]*$"


def harden(schema: Any) -> Any:
    """A copy of `schema` in which every integer without its own bounds must fit a bigint and
    every string without a pattern must not contain NUL (validation only; rpc.discover shows
    the schema as written)."""
    out = copy.deepcopy(schema)
    _harden(out)
    return out


def _harden(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _harden(item)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    if "integer" in types:
        node.setdefault("minimum", INT64[0])
        node.setdefault("maximum", INT64[1])
    if "string" in types and "pattern" not in node and "enum" not in node:
        node["pattern"] = NO_NUL
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs", "definitions") and isinstance(value, dict):
            for sub in value.values():
                _harden(sub)
        elif key in ("items", "anyOf", "oneOf", "allOf", "not", "additionalProperties", "prefixItems",
                     "contains", "if", "then", "else"):
            _harden(value)


def _describe(error: Any) -> str:
    """The message for one validation error; a hardening bound anywhere under it is named plainly."""
    stack = [error]
    while stack:
        e = stack.pop()
        if e.validator == "pattern" and e.validator_value == NO_NUL:
            return "contains a NUL character, which no stored text can hold"
        if e.validator in ("minimum", "maximum") and e.validator_value in INT64:
            return f"{e.instance} does not fit a 64-bit integer (no id or count is that large)"
        stack.extend(e.context or [])
    return error.message


class Registry:
    def __init__(self, methods: list[Method]):
        self.methods = {m.name: m for m in methods}
        if len(self.methods) != len(methods):
            raise ValueError("two methods share a name")

    def get(self, name: str) -> Method:
        try:
            return self.methods[name]
        except KeyError:
            raise RpcError(METHOD_NOT_FOUND, f"no method {name!r}; known: {', '.join(sorted(self.methods))}") \
                from None

    def discover(self, version: str) -> dict[str, Any]:
        """An OpenRPC document: every method with its params and result schemas."""
        return {
            "openrpc": OPENRPC_VERSION,
            "info": {"title": "alice", "version": version,
                     "description": "Local JSON-RPC 2.0 interface of the alice daemon: one JSON message per "
                                    "line over a Unix socket. Params are always by name (an object)."},
            "methods": [{
                "name": m.name, "description": m.description, "paramStructure": "by-name",
                "params": [{"name": k, "required": k in m.params.get("required", []), "schema": v}
                           for k, v in m.params.get("properties", {}).items()],
                "paramsSchema": m.params,
                "result": {"name": "result", "schema": m.result},
            } for m in self.methods.values()],
        }
