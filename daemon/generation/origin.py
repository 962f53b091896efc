"""Which recorded request made an asset: what `alice recreate` sends again.

In order: the request whose outputs include the asset's content id (the
first one, when a recreation made identical content); else the
alice:generation record the file carries, or the catalog kept from it (a
catalog that never saw the request, say after moving files between machines).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alice.daemon.catalog import requests, store
from alice.daemon.catalog.asset_ref import parse_ref
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.models import Asset, Generation
from alice.daemon.generation.errors import GenerateError, RequestNotFound
from alice.daemon.generation.references import ReferenceError, from_path
from alice.pipeline.alice_record import VERSION
from alice.pipeline.inspect import inspect_file


def original_request(catalog: Catalog, ref: str | int | Path) -> dict[str, Any]:
    """The request behind `ref` (a request id, `asset:<id>`, a content id or a file path) as
    provider, model, prompt, params, references, project and id (None when only a record is known)."""
    text = str(ref).strip()
    embedded: dict[str, Any] | None = None
    with catalog.session() as s:
        if isinstance(ref, int) or text.isdigit():
            # Here a bare number is a request id; an asset is named `asset:<id>`.
            row = requests.get_request(s, int(text))
            if row is None:
                raise RequestNotFound(f"no generation request {text}")
            return row.to_json()
        named = parse_ref(text)
        if named.asset_id is not None:
            asset = store.asset_by_id(s, named.asset_id)
            if asset is None:
                raise RequestNotFound(f"no asset {named.asset_id} in the catalog")
            content_id = asset.content_id
        elif named.content_id is not None:
            content_id = named.content_id
        else:
            path = Path(text).expanduser()
            try:
                content_id = from_path(path).content_id
            except ReferenceError as exc:
                raise GenerateError(str(exc)) from None
            embedded = _from_raw(inspect_file(path).raw or {})
        rid = requests.request_for_content(s, content_id)
        if rid is not None:
            return requests.get_request(s, rid).to_json()  # type: ignore[union-attr]
        if embedded is None:
            embedded = _catalog_record(s, content_id)
    if embedded is None:
        raise RequestNotFound(f"{ref} was not made through alice's providers (no request links to it and it "
                              "carries no alice:generation record): nothing to recreate")
    return {"id": None, **embedded}


def _catalog_record(s: Session, content_id: str) -> dict[str, Any] | None:
    raw = s.execute(select(Generation.raw).join(Asset, Asset.id == Generation.asset_id)
                    .where(Asset.content_id == content_id)).scalar_one_or_none()
    return _from_raw(raw or {})


def _from_raw(raw: dict[str, Any]) -> dict[str, Any] | None:
    if raw.get("alice_generation") != VERSION or not raw.get("provider") or not raw.get("model"):
        return None
    return {"provider": raw["provider"], "model": raw["model"], "prompt": raw.get("prompt"),
            "params": raw.get("params") or {}, "references": raw.get("references") or []}
