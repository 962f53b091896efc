"""JSON-RPC 2.0 framing: one JSON message per line, UTF-8, at most MAX_MESSAGE bytes.

Batches (a JSON array) are refused with a clear error rather than supported:
every client alice has sends one request at a time, and refusing keeps one
line = one request = at most one response, which bounds the work a line buys.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# The codes are defined with the exception tree they belong to (daemon/errors.py).
from alice.daemon.errors import (  # noqa: F401 - re-exported for the server, client and handlers
    BUDGET_EXCEEDED,
    BUSY,
    CATALOG_UNAVAILABLE,
    CONFLICT,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    NOT_AVAILABLE,
    NOT_FOUND,
    OUTSIDE_ROOTS,
    PARSE_ERROR,
)

MAX_MESSAGE = 1 << 20            # bytes per line, either direction



class RpcError(Exception):
    """An error to send back as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


@dataclass(frozen=True)
class Request:
    method: str
    params: dict[str, Any]
    id: int | str | None          # None: a notification, answered with nothing
    is_notification: bool


def _valid_id(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (int, str))


def parse_request(line: bytes) -> Request:
    """One request line -> Request, or RpcError (its `data` carries the id when one could be read)."""
    if len(line) > MAX_MESSAGE:
        raise RpcError(INVALID_REQUEST, f"message is {len(line):,} bytes; the limit is {MAX_MESSAGE:,} per line")
    try:
        msg = json.loads(line.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise RpcError(PARSE_ERROR, f"not valid JSON ({exc}); send one UTF-8 JSON object per line") from None
    if isinstance(msg, list):
        raise RpcError(INVALID_REQUEST, "batch requests are not supported; send one request object per line")
    if not isinstance(msg, dict):
        raise RpcError(INVALID_REQUEST, "a request must be a JSON object like "
                       '{"jsonrpc": "2.0", "id": 1, "method": "daemon.status"}')
    rid = msg.get("id")
    has_id = "id" in msg
    if has_id and not _valid_id(rid):
        raise RpcError(INVALID_REQUEST, "'id' must be a string, a number or null")
    if msg.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "'jsonrpc' must be \"2.0\"", {"id": rid})
    method = msg.get("method")
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "'method' must be a non-empty string; call rpc.discover for the list",
                       {"id": rid})
    params = msg.get("params", {})
    if params is None:
        params = {}
    if isinstance(params, list):
        raise RpcError(INVALID_PARAMS, "params must be an object with named fields (by-name), not a list",
                       {"id": rid})
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "params must be an object with named fields", {"id": rid})
    return Request(method=method, params=params, id=rid, is_notification=not has_id)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line. Non-JSON values (dates, paths) are sent as their text."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8") + b"\n"


def result_message(rid: Any, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def error_message(rid: Any, err: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": err.to_json()}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def request_message(rid: int, method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}
