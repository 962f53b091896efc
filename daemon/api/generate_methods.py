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

from alice.daemon import errors
from alice.daemon.api import protocol as p
from alice.daemon.api.registry import Method
from alice.daemon.catalog import spend
from alice.daemon.catalog.asset_ref import is_content_id, names_a_file
from alice.daemon.generation.budget import BudgetValueError, parse_budget
from alice.daemon.generation.generator import GenerateError, Generator, RequestNotFound
from alice.daemon.generation.rerun import rerun
from alice.pipeline.plan import sanitize_segment
from alice.pipeline.rerun.overrides import MAX_SEEDS, Overrides, RerunError, parse_seeds
from alice.pipeline.rerun.source import PROVIDERS as RERUN_PROVIDERS
from alice.providers.errors import BudgetExceeded


def generator_for(ctx: Any) -> Generator:
    """The daemon's generator, lent in its hooks (built once by the app, with the providers)."""
    if ctx.hooks.generator is None:
        raise p.RpcError(p.NOT_AVAILABLE, "generation is off on this daemon: no provider is configured "
                                          "(add one under providers: in the config, see `alice providers`)")
    return ctx.hooks.generator


def _rpc_error(exc: Exception) -> p.RpcError:
    got = errors.report(exc)
    return p.RpcError(got.rpc_code, got.message, got.data)


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


def _checked_ref(ctx: Any, of: int | str) -> int | str:
    """A reference that names a file must lie inside the roots; ids and content ids pass as they are."""
    if isinstance(of, str) and not of.strip().isdigit() and names_a_file(of):
        return str(ctx.guard.check_in(of))
    return of


def _recreate(ctx: Any, of: int | str, project: str | None = None, provider: str | None = None) -> dict[str, Any]:
    of = _checked_ref(ctx, of)
    gen = generator_for(ctx)
    try:
        if provider is None:
            rid = gen.recreate(of, project=project)
        else:
            [rid] = rerun(gen, f"asset:{of}" if isinstance(of, int) else of, provider, project=project)
    except (BudgetExceeded, GenerateError, RerunError) as exc:
        raise _rpc_error(exc) from None
    return ctx.guard.scrub(gen.status(rid))


def _vary(ctx: Any, of: int | str, provider: str, overrides: dict[str, Any] | None = None,
          seeds: str | int | None = None, project: str | None = None) -> dict[str, Any]:
    of = _checked_ref(ctx, of)
    gen = generator_for(ctx)
    try:
        wanted = Overrides.from_dict(overrides)
        ids = rerun(gen, f"asset:{of}" if isinstance(of, int) else of, provider, overrides=wanted,
                    seeds=parse_seeds(seeds) if seeds is not None else None, project=project)
    except (BudgetExceeded, GenerateError, RerunError) as exc:
        raise _rpc_error(exc) from None
    if not ids:
        raise p.RpcError(p.INVALID_PARAMS, "nothing to vary: give overrides or seeds")
    return {"requests": [ctx.guard.scrub(gen.status(rid)) for rid in ids]}


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
           "asset:<id> or file path); the new request's recreated_from names the original. With provider "
           "comfyui or a1111: re-run any filed file on the user's own generator from the record inside it "
           "(its ComfyUI API graph or its A1111 parameters); `of` is then an asset id, content id, "
           "asset:<id> or path. The output's record names the file it was recreated from.",
           {"type": "object", "additionalProperties": False, "required": ["of"],
            "properties": {"of": {"type": ["integer", "string"], "minLength": 1, "maxLength": 4096},
                           "project": {"type": ["string", "null"], "minLength": 1, "maxLength": 100},
                           "provider": {"enum": [*RERUN_PROVIDERS, None]}}},
           REQUEST, _recreate),
    Method("generate.vary", "Re-run a filed file on the user's own ComfyUI or A1111 with some values changed "
           "(seed, prompt, steps, cfg, model, ...): ComfyUI values are written at the inputs the graph walk "
           "found for the base sampler and its encoders. `seeds` (\"100..107\") queues one run per seed. "
           "Each run is a generation request; its outputs are filed with the record and the overrides inside "
           "and a lineage edge to the original.",
           {"type": "object", "additionalProperties": False, "required": ["of", "provider"],
            "properties": {
                "of": {"type": ["integer", "string"], "minLength": 1, "maxLength": 4096,
                       "description": "asset id, content id, asset:<id> or a path inside alice's folders"},
                "provider": {"enum": list(RERUN_PROVIDERS)},
                "overrides": {"type": "object", "additionalProperties": False, "properties": {
                    "seed": {"type": "integer", "minimum": 0}, "steps": {"type": "integer", "minimum": 1},
                    "cfg": {"type": "number"}, "sampler": {"type": "string"}, "scheduler": {"type": "string"},
                    "denoise": {"type": "number"}, "prompt": {"type": "string", "maxLength": 100_000},
                    "negative_prompt": {"type": "string", "maxLength": 100_000}, "model": {"type": "string"},
                    "width": {"type": "integer"}, "height": {"type": "integer"}}},
                "seeds": {"type": ["string", "integer"], "maxLength": 64,
                          "description": f"one seed, or N..M (at most {MAX_SEEDS} runs)"},
                "project": {"type": ["string", "null"], "minLength": 1, "maxLength": 100}}},
           {"type": "object", "required": ["requests"], "additionalProperties": False,
            "properties": {"requests": {"type": "array", "items": REQUEST}}},
           _vary),
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
