"""assets.thumbnail and assets.view: pictures of assets for a person's client or an assistant's eyes.

Thumbnails come from the one cache in the data dir (daemon/thumbnails.py, the
context's `thumbnails`), so a picture is drawn once however many callers ask. assets.view returns JPEG
bytes (base64) under "image"; the MCP bridge turns that into image content,
so an assistant sees one asset (large), a video as a strip of frames, or a
contact sheet of up to 16 search results or board items with their ids.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from alice.daemon.api import protocol as p
from alice.daemon.api.registry import Method
from alice.daemon.catalog import boards, curation
from alice.daemon.catalog import search as search_mod
from alice.daemon.thumbnails import SIZES
from alice.pipeline.thumbnail import SHEET_MAX, ThumbnailError, contact_sheet, encode_jpeg

STR = {"type": "string"}
NSTR = {"type": ["string", "null"]}
INT = {"type": "integer"}
ASSET_REF = {"type": ["integer", "string"], "minLength": 1, "maxLength": 200,
             "description": "the asset's id (a number) or content_id ('b3:...')"}
STR_OR_STRS = {"anyOf": [{"type": "string", "maxLength": 200},
                         {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 50}]}

def obj(properties: dict[str, Any], required: tuple[str, ...] = (), extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": extra}
    if required:
        schema["required"] = list(required)
    return schema


def _describe(ctx: Any, asset: int | str) -> dict[str, Any]:
    with ctx.catalog.session() as s:
        asset_id = curation.resolve_asset(s, asset)
        return search_mod.describe(s, [asset_id])[0]


def _thumb(ctx: Any, row: dict[str, Any], size: str) -> Any:
    if row["path"] is None or not Path(row["path"]).is_file():
        raise curation.NotFound(f"asset {row['id']} has no file present to draw; assets.get shows where it was")
    try:
        return ctx.thumbnails.get(row["content_id"], Path(row["path"]), row["media"], size)
    except ThumbnailError as exc:
        raise p.RpcError(p.INVALID_PARAMS, f"asset {row['id']}: {exc}") from None


def _thumbnail(ctx: Any, asset: int | str, size: str = "small", format: str = "path") -> dict[str, Any]:
    row = _describe(ctx, asset)
    thumb = _thumb(ctx, row, size)
    out = {"asset_id": row["id"], "content_id": row["content_id"], "media": row["media"], "size": size,
           "path": str(thumb.path), "mime_type": "image/jpeg", "width": thumb.width, "height": thumb.height,
           "cached": not thumb.made}
    if format == "base64":
        out["data"] = base64.b64encode(thumb.path.read_bytes()).decode()
    return out


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "content_id", "path", "tool", "media", "project", "stars", "prompt", "model", "note", "position")
    return {k: row[k] for k in keep if k in row}


def _view(ctx: Any, asset: int | str | None = None, board: str | None = None, limit: int = SHEET_MAX,
          **filters: Any) -> dict[str, Any]:
    if asset is not None:
        row = _describe(ctx, asset)
        thumb = _thumb(ctx, row, "large")
        return {"kind": "strip" if row["media"] == "video" else "asset", "width": thumb.width,
                "height": thumb.height, "assets": [_brief(row)], "skipped": [],
                "image": {"data": base64.b64encode(thumb.path.read_bytes()).decode(), "mime_type": "image/jpeg"}}
    if board is not None:
        with ctx.catalog.session() as s:
            rows = boards.get(s, board)["items"][:limit]
    else:
        try:
            query = search_mod.SearchQuery.from_params({**filters, "limit": limit, "count": False})
        except TypeError as exc:
            raise p.RpcError(p.INVALID_PARAMS, str(exc)) from None
        with ctx.catalog.session() as s:
            rows = search_mod.search(s, query).items
    tiles, shown, skipped = [], [], []
    for row in rows:
        try:
            thumb = _thumb(ctx, row, "small")
        except (curation.NotFound, p.RpcError) as exc:
            skipped.append({"id": row["id"], "reason": getattr(exc, "message", None) or str(exc)})
            continue
        from PIL import Image

        with Image.open(io.BytesIO(thumb.path.read_bytes())) as img:
            tiles.append((img.convert("RGB"), f"#{row['id']}"))
        shown.append(_brief(row))
    if not tiles:
        raise curation.NotFound("nothing to show: no asset matched (or none has a file present); "
                                "assets.search shows what there is")
    sheet = contact_sheet(tiles)
    return {"kind": "sheet", "width": sheet.width, "height": sheet.height, "assets": shown, "skipped": skipped,
            "image": {"data": base64.b64encode(encode_jpeg(sheet)).decode(), "mime_type": "image/jpeg"}}


IMAGE = obj({"data": {**STR, "contentEncoding": "base64"}, "mime_type": STR}, ("data", "mime_type"))
VIEW_FILTERS = {
    "text": {"type": "string", "maxLength": search_mod.MAX_TEXT, "description": "as in assets.search"},
    "tool": STR_OR_STRS, "project": STR_OR_STRS,
    "media": {"enum": list(search_mod.MEDIA)},
    "model": {"type": "string", "maxLength": 500}, "lora": {"type": "string", "maxLength": 500},
    "stars_min": {"type": "integer", "minimum": 0, "maximum": 5},
    "tags_all": {"type": "array", "items": STR, "maxItems": 50},
    "since": {"type": "string", "maxLength": 40}, "until": {"type": "string", "maxLength": 40},
    "sort": {"enum": list(search_mod.SORTS), "default": "date"},
}

METHODS = [
    Method("assets.thumbnail",
           "An asset's thumbnail (JPEG; a video's is a strip of 4 frames), drawn once and kept in the data dir: "
           "its path, or with format=base64 its bytes too. size small = 384 px, large = 1568 px longest side.",
           obj({"asset": ASSET_REF, "size": {"enum": list(SIZES), "default": "small"},
                "format": {"enum": ["path", "base64"], "default": "path"}}, ("asset",)),
           obj({"asset_id": INT, "content_id": STR, "media": STR, "size": STR, "path": STR, "mime_type": STR,
                "width": INT, "height": INT, "cached": {"type": "boolean"}, "data": STR},
               ("asset_id", "path", "mime_type", "width", "height")), _thumbnail),
    Method("assets.view",
           "Look at assets: one asset (asset=id) as an image up to 1568 px, a video as a strip of 4 frames, or a "
           "contact sheet of up to 16 search results (the assets.search filters) or board items (board=name), each "
           "labelled with its id (#123) so you can refer to it. Use it to judge what pictures look like.",
           obj({"asset": ASSET_REF, "board": {"type": "string", "minLength": 1, "maxLength": 100},
                "limit": {"type": "integer", "minimum": 1, "maximum": SHEET_MAX, "default": SHEET_MAX},
                **VIEW_FILTERS}),
           obj({"kind": {"enum": ["asset", "strip", "sheet"]}, "image": IMAGE, "width": INT, "height": INT,
                "assets": {"type": "array", "items": {"type": "object"}},
                "skipped": {"type": "array", "items": {"type": "object"}}},
               ("kind", "image", "width", "height", "assets")), _view),
]
