"""Every method of the socket API: its schemas and what it does.

Handlers run on a worker thread with an RpcContext and the validated params
as keyword arguments; they return JSON-ready values. Domain errors (unknown
asset, bad filter, name taken) are raised as the catalog modules' own types
and turned into JSON-RPC errors by `error_for`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from alice.daemon import errors
from alice.daemon.api import generate_methods as generate_rpc
from alice.daemon.api import memory_methods as memory_rpc
from alice.daemon.api import protocol as p
from alice.daemon.api import view_methods as view_rpc
from alice.daemon.api.paths import PathGuard
from alice.daemon.api.registry import Method, Registry
from alice.daemon.catalog import asset_detail, curation, models_seen
from alice.daemon.catalog import lineage as lineage_mod
from alice.daemon.catalog import search as search_mod
from alice.daemon.catalog import similar as similar_mod
from alice.daemon.catalog import stats as stats_mod
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.models import Asset
from alice.daemon.config import Config
from alice.daemon.fs.confine import OutsideRoots, confine
from alice.daemon.generation.generator import Generator
from alice.daemon.ingest import curate
from alice.daemon.ingest.relocate import relocate
from alice.daemon.thumbnails import ThumbnailCache
from alice.pipeline.perceptual import perceptual_hash

SEARCH_TIMEOUT_MS = 10_000


@dataclass
class Hooks:
    """What the running daemon lends the API: its status, a way to scan the inboxes now,
    and its generator (None when no provider is configured)."""

    status: Callable[[], dict[str, Any]] | None = None
    scan: Callable[[list[str] | None], dict[str, Any]] | None = None
    generator: Generator | None = None


@dataclass
class RpcContext:
    cfg: Config
    catalog: Catalog
    hooks: Hooks
    guard: PathGuard
    server_info: Callable[[], dict[str, Any]] = field(default=lambda: {})
    # One cache for every call this context serves, so its prune counter sees every write.
    thumbnails: ThumbnailCache = field(init=False)

    def __post_init__(self) -> None:
        self.thumbnails = ThumbnailCache(Path(self.cfg.data_dir), self.cfg.thumbnails.max_files)


def version() -> str:
    try:
        return metadata.version("alicemultiverse")
    except metadata.PackageNotFoundError:
        return "unknown"


def error_for(exc: BaseException) -> p.RpcError:
    """The JSON-RPC error a handler's exception becomes (the codes live on the exception tree)."""
    if isinstance(exc, p.RpcError):
        return exc
    got = errors.report(exc)
    return p.RpcError(got.rpc_code, got.message, got.data)


# -- schemas --------------------------------------------------------------------------------

def obj(properties: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
INT = {"type": "integer"}
NINT = {"type": ["integer", "null"]}
STRS = {"type": "array", "items": STR}
STR_OR_STRS = {"anyOf": [{"type": "string", "maxLength": 200},
                         {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 50}]}
ASSET_REF = {"type": ["integer", "string"], "minLength": 1, "maxLength": 200,
             "description": "the asset's id (a number) or content_id ('b3:...')"}
STARS = {"type": "integer", "minimum": 0, "maximum": 5}
DIM = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
WHEN = {"type": "string", "maxLength": 40, "description": "a date (2025-01-01) or an ISO 8601 date-time"}
ANY_OBJ = {"type": "object"}

SEARCH_PARAMS = obj({
    "text": {"type": "string", "maxLength": search_mod.MAX_TEXT,
             "description": "free text over prompts, negative prompts, tags and file names; "
                            "\"quoted phrase\", -exclude and 'or' work as in web search"},
    "tool": {**STR_OR_STRS, "description": "tool slug(s), e.g. midjourney, comfyui, a1111"},
    "project": {**STR_OR_STRS, "description": "project name(s)"},
    "ai": {"type": "boolean"},
    "media": {"enum": list(search_mod.MEDIA)},
    "model": {"type": "string", "maxLength": 500, "description": "exact model (checkpoint) name, as models.list "
                                                                 "shows it"},
    "lora": {"type": "string", "maxLength": 500, "description": "uses this LoRA (exact name, as models.list shows it)"},
    "seed": {"type": "integer", "minimum": 0, "maximum": 10**20 - 1},
    "stars_min": {**STARS, "description": "0 = unrated; a person's stars win over computed ones"},
    "stars_max": STARS,
    "since": {**WHEN, "description": "created at or after (a bare date: from that day's start)"},
    "until": {**WHEN, "description": "created before (a bare date: including that whole day)"},
    "width_min": DIM, "width_max": DIM, "height_min": DIM, "height_max": DIM,
    "aspect_min": {"type": "number", "exclusiveMinimum": 0, "description": "width / height"},
    "aspect_max": {"type": "number", "exclusiveMinimum": 0},
    "tags_all": {**STRS, "maxItems": 50}, "tags_any": {**STRS, "maxItems": 50}, "tags_none": {**STRS, "maxItems": 50},
    "content_id": {"type": "string", "maxLength": 200},
    "child_of": {"type": "integer", "minimum": 1, "description": "assets made from this asset id (its children)"},
    "parent_of": {"type": "integer", "minimum": 1,
                  "description": "assets this asset id was made from (its parents)"},
    "sort": {"enum": list(search_mod.SORTS), "default": "date"},
    "order": {"enum": list(search_mod.ORDERS), "default": "desc"},
    "limit": {"type": "integer", "minimum": 1, "maximum": search_mod.MAX_LIMIT, "default": search_mod.DEFAULT_LIMIT},
    "cursor": {"type": "string", "maxLength": 1000, "description": "next_cursor of the previous page"},
    "count": {"type": "boolean", "default": True, "description": "false skips the total"},
})
ASSET_ITEM = obj({
    "id": INT, "content_id": STR, "path": NSTR, "tool": NSTR, "ai": {"type": "boolean"}, "media": STR,
    "format": STR, "project": STR, "width": NINT, "height": NINT, "created_at": STR, "stars": NINT,
    "user_stars": NINT, "prompt": NSTR, "model": NSTR, "seed": NINT, "tags": STRS,
    "rank": {"type": "number"}, "distance": INT,
}, ("id", "content_id", "path", "tool", "created_at"))
SEARCH_RESULT = obj({
    "items": {"type": "array", "items": ASSET_ITEM},
    "total": NINT,
    "total_exact": {"type": "boolean", "description": f"false above {search_mod.COUNT_CAP:,} matches, or when "
                                                       "counting would be slow: total is then the planner's "
                                                       "estimate"},
    "next_cursor": NSTR,
    "relevance_sampled": {"type": "boolean", "description": f"sort=relevance only: true when more than "
                                                            f"{search_mod.RANK_CANDIDATES:,} assets matched and "
                                                            "a sample of them was ranked; narrow the text"},
}, ("items", "total", "total_exact", "next_cursor"))
ASSET_ONLY = obj({"asset": ASSET_REF}, ("asset",))
TAGS_PARAMS = obj({"asset": ASSET_REF, "tags": {"type": "array", "items": {"type": "string", "minLength": 1,
                                                                          "maxLength": curation.MAX_TAG},
                                                "minItems": 1, "maxItems": 50}}, ("asset", "tags"))
TAGS_RESULT = obj({"asset_id": INT, "tags": STRS}, ("asset_id", "tags"))
RELOCATION = obj({"asset_id": INT, "old_path": NSTR, "new_path": NSTR, "moved": {"type": "boolean"}})
PROJECT = obj({"id": INT, "name": STR, "assets": INT, "budget": {"type": ["number", "null"]}, "created_at": STR,
               "settings": ANY_OBJ}, ("id", "name", "assets"))
PROJECT_REF = {"type": ["integer", "string"], "minLength": 1, "maxLength": 200,
               "description": "project id or name"}


# -- handlers -------------------------------------------------------------------------------

def _discover(ctx: RpcContext) -> dict[str, Any]:
    return REGISTRY.discover(version())


def _search(ctx: RpcContext, **params: Any) -> dict[str, Any]:
    q = search_mod.SearchQuery.from_params(params)
    with ctx.catalog.session() as s:
        s.execute(text(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}"))
        return search_mod.search(s, q).to_json()


def _get(ctx: RpcContext, asset: int | str) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return asset_detail.asset_detail(s, curation.resolve_asset(s, asset))


def _generation(ctx: RpcContext, asset: int | str) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return asset_detail.generation_record(s, curation.resolve_asset(s, asset))


def _similar(ctx: RpcContext, asset: int | str, max_distance: int = 6, limit: int = 20) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        asset_id = curation.resolve_asset(s, asset)
        phash = s.execute(select(Asset.phash).where(Asset.id == asset_id)).scalar_one()
        if phash is None:
            # Hashed lazily for assets filed before perceptual hashing existed.
            detail = asset_detail.asset_detail(s, asset_id)
            path = detail["path"]
            if path and ctx.guard.inside(path):
                phash = perceptual_hash(Path(path))
                if phash is not None:
                    similar_mod.set_perceptual_hash(s, asset_id, phash)
        if phash is None:
            return {"asset_id": asset_id, "phash": None, "items": [],
                    "note": "this asset has no perceptual hash (not an image alice can read)"}
        matches = similar_mod.similar_to_hash(s, phash, max_distance, limit, exclude_id=asset_id)
        items = search_mod.describe(s, [m.asset_id for m in matches])
        for item, m in zip(items, matches, strict=False):
            item["distance"] = m.distance
        return {"asset_id": asset_id, "phash": f"{phash & (2**64 - 1):016x}", "items": items}


def _lineage(ctx: RpcContext, asset: int | str, depth: int = lineage_mod.MAX_DEPTH) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return ctx.guard.scrub(lineage_mod.tree(s, curation.resolve_asset(s, asset), depth))


def _tag(ctx: RpcContext, asset: int | str, tags: list[str]) -> dict[str, Any]:
    asset_id, after = curate.tag(ctx.catalog, asset, tags)      # the sidecars follow
    return {"asset_id": asset_id, "tags": after}


def _untag(ctx: RpcContext, asset: int | str, tags: list[str]) -> dict[str, Any]:
    asset_id, after = curate.untag(ctx.catalog, asset, tags)
    return {"asset_id": asset_id, "tags": after}


def _rate(ctx: RpcContext, asset: int | str, stars: int | None) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        asset_id = curation.resolve_asset(s, asset)
    moved = relocate(ctx.cfg, ctx.catalog, asset_id, lambda s: curation.set_user_stars(s, asset_id, stars),
                     "rated", {"stars": stars})
    return {"asset_id": asset_id, "stars": stars, "relocation": moved.to_json()}


def _move_to_project(ctx: RpcContext, asset: int | str, project: str) -> dict[str, Any]:
    name = curation.check_project_name(project)
    with ctx.catalog.session() as s:
        asset_id = curation.resolve_asset(s, asset)
    moved = relocate(ctx.cfg, ctx.catalog, asset_id, lambda s: curation.set_project(s, asset_id, name),
                     "moved", {"project": name})
    return {"asset_id": asset_id, "project": name, "relocation": moved.to_json()}


def _scan(ctx: RpcContext, paths: list[str] | None = None) -> dict[str, Any]:
    if ctx.hooks.scan is None:
        raise p.RpcError(p.NOT_AVAILABLE, "this daemon cannot scan on request (no scan hook); "
                         "`alice organize` files the inboxes once")
    checked = [str(_confined(x, list(ctx.cfg.inboxes))) for x in paths] if paths else None
    return ctx.hooks.scan(checked)


def _confined(path: str, inboxes: list[Path]) -> Path:
    """The path inside an inbox with no symbolic link on the way, or OUTSIDE_ROOTS saying why not."""
    if not os.path.isabs(path):
        raise p.RpcError(p.OUTSIDE_ROOTS, f"{path[:300]!r} is not an absolute path; give one inside "
                         + ", ".join(map(str, inboxes)), {"path": path[:300], "reason": "relative path"})
    try:
        return confine(path, inboxes).path
    except OutsideRoots as exc:
        raise p.RpcError(p.OUTSIDE_ROOTS, str(exc)[:600], {"path": path[:300], "reason": exc.reason}) from None


def _projects_list(ctx: RpcContext) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return {"projects": [pr.to_json() for pr in curation.list_projects(s)]}


def _projects_create(ctx: RpcContext, name: str, budget: float | None = None) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return curation.create_project(s, name, budget).to_json()


def _projects_get(ctx: RpcContext, project: int | str) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return curation.get_project(s, project).to_json()


def _stats(ctx: RpcContext, days: int = 30) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return stats_mod.stats(s, days)


def _models(ctx: RpcContext, kind: str | None = None, project: str | None = None, sort: str = "files",
            limit: int = 200) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        return {"models": models_seen.models_seen(s, kind, project, sort, limit)}


def _status(ctx: RpcContext) -> dict[str, Any]:
    daemon = ctx.hooks.status() if ctx.hooks.status else None
    return {"version": version(), "socket": str(ctx.cfg.socket), "catalog": ctx.catalog.display_url,
            "daemon": daemon, "server": ctx.server_info()}


def _report(ctx: RpcContext) -> dict[str, Any]:
    from alice.daemon.ops.status_report import report

    return ctx.guard.scrub(report(ctx.cfg, ctx.catalog))


def _subscribe_placeholder(ctx: RpcContext, since: int | None = None) -> dict[str, Any]:
    raise p.RpcError(p.NOT_AVAILABLE, "events.subscribe needs a socket connection")   # served by the server


def _unsubscribe_placeholder(ctx: RpcContext) -> dict[str, Any]:
    raise p.RpcError(p.NOT_AVAILABLE, "events.unsubscribe needs a socket connection")


EVENT = obj({"id": INT, "at": STR, "kind": STR, "asset_id": NINT, "path": NSTR, "data": ANY_OBJ}, extra=True)

REGISTRY = Registry([
    Method("rpc.discover", "Every method with its params and result JSON Schemas (OpenRPC).",
           obj({}), ANY_OBJ, _discover, mcp=False),
    Method("assets.search", "Find assets by free text and/or filters; newest first by default. Pages with "
           "next_cursor; the total is exact up to 5,000 matches, estimated above (total_exact says which).",
           SEARCH_PARAMS, SEARCH_RESULT, _search),
    Method("assets.get", "One asset: what it is, where its copies are, its tags, stars and prompt, and each "
           "file's own record (records: file_hash, paths, tool, generation; files with the same pixels may "
           "come from different tools).",
           ASSET_ONLY, obj({"id": INT, "content_id": STR, "path": NSTR, "locations": {"type": "array"},
                            "records": {"type": "array"}},
                           ("id", "content_id"), extra=True), _get),
    Method("assets.generation", "The full generation record of an asset (prompt, seed, model, sampler, loras, "
           "the tool's raw record) with its sources (where found), outputs (where filed) and each file's own "
           "record (records).",
           ASSET_ONLY, obj({"asset_id": INT, "generation": {"type": ["object", "null"]},
                            "sources": {"type": "array"}, "outputs": {"type": "array"}},
                           ("asset_id", "generation", "sources", "outputs"), extra=True), _generation),
    Method("assets.similar", "Near-duplicates and variants of an asset by perceptual hash, nearest first "
           "(distance = differing bits of 64; 0-4 near-identical, 5-10 variants).",
           obj({"asset": ASSET_REF, "max_distance": {"type": "integer", "minimum": 0,
                                                    "maximum": similar_mod.MAX_DISTANCE, "default": 6},
                "limit": {"type": "integer", "minimum": 1, "maximum": search_mod.MAX_LIMIT, "default": 20}}, ("asset",)),
           obj({"asset_id": INT, "phash": NSTR, "items": {"type": "array", "items": ASSET_ITEM}},
               ("asset_id", "items"), extra=True), _similar),
    Method("assets.lineage", "An asset's lineage: the assets it was made from (recreated_from, varied_from, "
           "reference, graph_input), up to its roots, and the assets made from it, down to the newest; each "
           "node with id, content_id, tool, project, prompt, seed, filed path and the edge's kind.",
           obj({"asset": ASSET_REF, "depth": {"type": "integer", "minimum": 1, "maximum": lineage_mod.MAX_DEPTH,
                                              "default": lineage_mod.MAX_DEPTH}}, ("asset",)),
           obj({"asset": ANY_OBJ, "parents": {"type": "array"}, "children": {"type": "array"},
                "truncated": {"type": "boolean"}}, ("asset", "parents", "children")), _lineage),
    Method("assets.tag", "Add tags to an asset (lower-cased; existing ones are kept).",
           TAGS_PARAMS, TAGS_RESULT, _tag),
    Method("assets.untag", "Remove tags from an asset (tags it does not have are ignored).",
           TAGS_PARAMS, TAGS_RESULT, _untag),
    Method("assets.rate", "Set a person's star rating (1-5, null clears it); it wins over the computed one. "
           "If the layout has {stars}, the file and its sidecar move to the new folder.",
           obj({"asset": ASSET_REF, "stars": {"type": ["integer", "null"], "minimum": 1, "maximum": 5}},
               ("asset", "stars")),
           obj({"asset_id": INT, "stars": NINT, "relocation": RELOCATION}, ("asset_id", "relocation")), _rate),
    Method("assets.move_to_project", "Put an asset in another project (created if new); the file and its "
           "sidecar move to the project's folder.",
           obj({"asset": ASSET_REF, "project": {"type": "string", "minLength": 1, "maxLength": 100}},
               ("asset", "project")),
           obj({"asset_id": INT, "project": STR, "relocation": RELOCATION}, ("asset_id", "relocation")),
           _move_to_project),
    Method("organize.scan", "Queue every file in the inboxes (or in the given paths inside an inbox) now.",
           obj({"paths": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 4096},
                          "maxItems": 100}}),
           ANY_OBJ, _scan),
    Method("projects.list", "Every project with its asset count.", obj({}),
           obj({"projects": {"type": "array", "items": PROJECT}}, ("projects",)), _projects_list),
    Method("projects.create", "Create an empty project (its name becomes a folder name).",
           obj({"name": {"type": "string", "minLength": 1, "maxLength": 100},
                "budget": {"type": ["number", "null"], "minimum": 0}}, ("name",)), PROJECT, _projects_create),
    Method("projects.get", "One project by id or name.", obj({"project": PROJECT_REF}, ("project",)),
           PROJECT, _projects_get),
    Method("stats", "Asset counts by tool, project, media, stars, and per day for the last `days` days.",
           obj({"days": {"type": "integer", "minimum": 1, "maximum": stats_mod.MAX_DAYS, "default": 30}}),
           obj({"assets": INT, "by_tool": ANY_OBJ, "by_project": ANY_OBJ, "by_stars": ANY_OBJ,
                "by_day": ANY_OBJ}, ("assets",), extra=True), _stats),
    Method("models.list", "Every checkpoint (by name and hash) and LoRA (by name) seen in generation records: how "
           "many files, in which projects, average stars of the rated ones, first and last use. Filter search "
           "results with assets.search model / lora.",
           obj({"kind": {"enum": list(models_seen.KINDS)}, "project": {"type": "string", "maxLength": 100},
                "sort": {"enum": list(models_seen.SORTS), "default": "files"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200}}),
           obj({"models": {"type": "array", "items": obj({
               "kind": STR, "name": STR, "hash": NSTR, "files": INT, "projects": STRS,
               "avg_stars": {"type": ["number", "null"]}, "rated": INT, "first_used": STR, "last_used": STR},
               ("kind", "name", "files", "projects", "avg_stars", "first_used", "last_used"))}}, ("models",)),
           _models),
    Method("daemon.status", "The daemon's state: version, catalog, work in flight, recent errors, connections.",
           obj({}), obj({"version": STR, "daemon": {"type": ["object", "null"]}}, ("version",), extra=True),
           _status),
    Method("daemon.report", "What `alice status` shows: catalog, daemons, queue, recent failures, and counts "
           "(assets = distinct contents; files = present copies by place: organized tree, inbox sources, "
           "quarantine).", obj({}), obj({"assets": INT, "files": ANY_OBJ, "queue": ANY_OBJ}, ("assets", "files"),
                                        extra=True), _report, mcp=False),
    Method("events.subscribe", "Receive catalog events on this connection as events.event notifications "
           "(after the events since `since`, if given).",
           obj({"since": {"type": "integer", "minimum": 0}}),
           obj({"subscribed": {"type": "boolean"}, "last_event_id": INT}, ("subscribed",)),
           _subscribe_placeholder, streaming=True, mcp=False),
    Method("events.unsubscribe", "Stop receiving events on this connection.", obj({}),
           obj({"subscribed": {"type": "boolean"}}, ("subscribed",)), _unsubscribe_placeholder,
           streaming=True, mcp=False),
    *memory_rpc.NOTE_METHODS,       # projects.note / context (daemon/api/memory_methods.py)
    *view_rpc.METHODS,              # assets.thumbnail / assets.view (daemon/api/view_methods.py)
    *memory_rpc.BOARD_METHODS,      # boards.create / add / remove / delete / list / get / export
    *generate_rpc.METHODS,          # generate.submit / status / recreate (daemon/api/generate_methods.py)
])
EVENT_NOTIFICATION = "events.event"
EVENT_SCHEMA = EVENT
