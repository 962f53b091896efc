"""Socket methods generate.submit / status / recreate and projects.spending / set_budget (daemon/rpc).

The daemon's generator is built once by the app (daemon/app.py) and lent to
the API in the daemon's hooks; it lives as long as the daemon: a request
submitted over the socket keeps running after the call returns, and
generate.status follows it.
Reference paths must lie inside the configured roots, like every path the
socket API reads.
"""
from __future__ import annotations

from typing import Any

from alice.daemon.generation.budget import BudgetValueError, parse_budget
from alice.daemon.catalog import spend
from alice.daemon.generation.generator import GenerateError, Generator, RequestNotFound
from alice.daemon.generation.references import is_content_id
from alice.daemon.api import protocol as p
from alice.daemon.api.registry import Method
from alice.pipeline.plan import sanitize_segment
from alice.providers.errors import BudgetExceeded

BUDGET_EXCEEDED = -32010          # refused by the project's budget (or the project is paused); nothing was sent

def generator_for(ctx: Any) -> Generator:
    """The daemon's generator, lent in its hooks (built once by the app, with the providers)."""
    if ctx.hooks.generator is None:
        raise p.RpcError(p.NOT_AVAILABLE, "generation is off on this daemon: no provider is configured "
                                          "(add one under providers: in the config, see `alice providers`)")
    return ctx.hooks.generator


def _rpc_error(exc: Exception) -> p.RpcError:
    if isinstance(exc, BudgetExceeded):
        return p.RpcError(BUDGET_EXCEEDED, exc.message, {"request_id": getattr(exc, "request_id", None)})
    if isinstance(exc, RequestNotFound):
        return p.RpcError(p.NOT_FOUND, str(exc))
    return p.RpcError(p.INVALID_PARAMS, str(exc))


def _submit(ctx: Any, provider: str, model: str, project: str, prompt: str | None = None,
            params: dict[str, Any] | None = None, references: list[str] | None = None) -> dict[str, Any]:
    refs = [r if is_content_id(r) else str(ctx.guard.check_in(r)) for r in references or []]
    gen = generator_for(ctx)
    try:
        rid = gen.submit(provider, model, prompt, params or {}, refs, project)
    except (BudgetExceeded, GenerateError) as exc:
        raise _rpc_error(exc) from None
    return ctx.guard.scrub(gen.status(rid))


def _status(ctx: Any, request_id: int) -> dict[str, Any]:
    try:
        return ctx.guard.scrub(generator_for(ctx).status(request_id))
    except RequestNotFound as exc:
        raise _rpc_error(exc) from None


def _recreate(ctx: Any, of: int | str, project: str | None = None) -> dict[str, Any]:
    if isinstance(of, str) and not (of.isdigit() or is_content_id(of) or of.startswith("asset:")):
        of = str(ctx.guard.check_in(of))
    gen = generator_for(ctx)
    try:
        rid = gen.recreate(of, project=project)
    except (BudgetExceeded, GenerateError) as exc:
        raise _rpc_error(exc) from None
    return ctx.guard.scrub(gen.status(rid))


def _spending(ctx: Any) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return {"projects": spend.overview(s)}


def _set_budget(ctx: Any, project: str, budget_usd: float | str | None) -> dict[str, Any]:
    try:
        value = parse_budget(budget_usd)
    except BudgetValueError as exc:
        raise p.RpcError(p.INVALID_PARAMS, str(exc)) from None
    name = sanitize_segment(project)
    with ctx.catalog.session() as s:
        after, change = spend.change_budget(s, name, value)
    return {**after.to_json(), "change": change}


_MONEY = {"type": ["string", "null"], "description": "US dollars, as a decimal string"}
_OUTPUT = {"type": "object", "additionalProperties": False, "properties": {
    "content_id": {"type": "string"}, "path": {"type": ["string", "null"]}, "file_hash": {"type": "string"},
    "embedded": {"type": "boolean", "description": "false: the format cannot carry the record"},
    "asset_id": {"type": ["integer", "null"], "description": "set once the daemon has filed it"},
    "filed_path": {"type": ["string", "null"], "description": "where the daemon filed it"}}}
REQUEST = {"type": "object", "additionalProperties": False, "required": ["id", "state", "provider", "model"],
           "properties": {
               "id": {"type": "integer"}, "project": {"type": "string"}, "provider": {"type": "string"},
               "model": {"type": "string"}, "prompt": {"type": ["string", "null"]}, "params": {"type": "object"},
               "references": {"type": "array", "items": {"type": "string"}},
               "state": {"enum": ["recorded", "submitted", "running", "done", "failed", "refused"]},
               "provider_request_id": {"type": ["string", "null"]}, "estimate_usd": _MONEY, "cost_usd": _MONEY,
               "error": {"type": ["string", "null"]}, "created_at": {"type": "string"},
               "updated_at": {"type": "string"}, "recreated_from": {"type": ["integer", "null"]},
               "outputs": {"type": "array", "items": _OUTPUT}}}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200}

METHODS = [
    Method("generate.submit",
           "Generate with a provider (fal, bfl, hedra, openai). The request is priced and checked against the "
           "project's budget (refused with code -32010 before anything is sent), recorded, sent, and returns "
           "at once; poll generate.status. Outputs go to <inbox>/<project>/ with the generation record inside "
           "and are then filed like any other file.",
           {"type": "object", "additionalProperties": False, "required": ["provider", "model", "project"],
            "properties": {
                "provider": _NAME, "model": {**_NAME, "maxLength": 500},
                "project": {**_NAME, "maxLength": 100},
                "prompt": {"type": ["string", "null"], "maxLength": 100_000},
                "params": {"type": "object", "description": "the model's own parameters (seed, image_size, ...)"},
                "references": {"type": "array", "maxItems": 16,
                               "items": {"type": "string", "minLength": 1, "maxLength": 4096},
                               "description": "input files: absolute paths inside alice's folders, or content ids"},
            }},
           REQUEST, _submit),
    Method("generate.status", "A generation request: state, cost, outputs (with asset ids once filed), error.",
           {"type": "object", "additionalProperties": False, "required": ["request_id"],
            "properties": {"request_id": {"type": "integer", "minimum": 1}}},
           REQUEST, _status),
    Method("generate.recreate", "Send the exact request that made an asset again (by request id, content id, "
           "asset:<id> or file path); the new request's recreated_from names the original.",
           {"type": "object", "additionalProperties": False, "required": ["of"],
            "properties": {"of": {"type": ["integer", "string"], "minLength": 1, "maxLength": 4096},
                           "project": {"type": ["string", "null"], "minLength": 1, "maxLength": 100}}},
           REQUEST, _recreate),
    Method("projects.spending", "Every project's budget, spent, in flight, remaining and pause state, "
           "with requests and spend by provider and model.",
           {"type": "object", "additionalProperties": False, "properties": {}},
           {"type": "object", "required": ["projects"], "properties": {"projects": {"type": "array", "items": {
               "type": "object", "additionalProperties": True,
               "required": ["project", "budget_usd", "spent_usd", "remaining_usd", "paused"]}}}},
           _spending),
    # A budget is a person's cap on what assistants may spend, so it is not offered to them over MCP.
    Method("projects.set_budget", "Set a project's budget in US dollars (null removes it). Raising it above "
           "what was spent lifts a pause; lowering it to or below pauses the project.",
           {"type": "object", "additionalProperties": False, "required": ["project", "budget_usd"],
            "properties": {"project": {**_NAME, "maxLength": 100},
                           "budget_usd": {"type": ["number", "string", "null"], "maxLength": 20}}},
           {"type": "object", "required": ["project", "budget_usd", "paused", "change"], "additionalProperties": True,
            "properties": {"change": {"enum": ["resumed", "paused", None]}}},
           _set_budget, mcp=False),
]
