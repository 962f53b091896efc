"""Moving an organized file to where its new stars or project say it belongs.

Used by assets.rate and assets.move_to_project (and by anything else that
changes what the layout template reads). The order keeps a crash harmless:

  1. place a verified copy at the newly planned path (fileops.place_copy)
  2. write the updated sidecar beside it
  3. one catalog transaction: the change itself, the new location, the old
     one marked gone, and the event
  4. remove the old file (re-verified against the new copy) and its sidecar

A crash before 3 leaves the old file authoritative and an identical copy at
the new path, which the next attempt plans again and reuses; after 3 the new
file is authoritative and the old one lingers until the asset's next
relocation removes it (after verifying the new copy). Never neither.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alice.daemon import errors
from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.models import Location
from alice.daemon.config import Config
from alice.daemon.fs import fileops, naming
from alice.daemon.fs.crashpoints import checkpoint
from alice.pipeline import sidecar
from alice.pipeline.plan import Layout, plan_destination
from alice.pipeline.record import AssetRecord


class RelocateError(errors.MoveFailed, RuntimeError):
    """The file could not be moved; nothing was changed."""


@dataclass
class Relocation:
    asset_id: int
    old_path: str | None
    new_path: str | None
    moved: bool

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def _record_for(path: Path, asset: store.AssetRow) -> AssetRecord:
    """The file's record from its sidecar; rebuilt from the catalog if the sidecar is gone or damaged."""
    try:
        return sidecar.load(sidecar.sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, sidecar.SidecarError, UnicodeDecodeError):
        return AssetRecord(content_id=asset.content_id, file_hash=asset.file_hash, size=asset.size,
                           format=asset.format, media=asset.media, tool=asset.tool, ai=asset.ai,
                           project=asset.project_name, source_path=str(path), created_at=asset.created_at,
                           width=asset.width, height=asset.height, stars=asset.user_stars or asset.stars)


class _Preview(Exception):
    def __init__(self, row: store.AssetRow):
        self.row = row


def _preview(catalog: Catalog, asset_id: int, change: Callable[[Session], object]) -> store.AssetRow:
    """The asset row as `change` would leave it, without keeping the change."""
    try:
        with catalog.session() as s:
            change(s)
            row = store.asset_by_id(s, asset_id)
            if row is None:
                raise RelocateError(f"asset {asset_id} vanished from the catalog")
            raise _Preview(row)     # leaving the block by an exception rolls the transaction back
    except _Preview as p:
        return p.row


def relocate(cfg: Config, catalog: Catalog, asset_id: int, change: Callable[[Session], object],
             event: str, data: dict[str, object]) -> Relocation:
    """Apply `change` to the asset's catalog row and move its organized file to match.

    `change(session)` makes the catalog change (user stars, project); it runs
    once to plan inside a transaction that is rolled back, and again for real
    in step 3, so the plan sees exactly what the final state will be.
    """
    with catalog.session() as s:
        filed = store.filed_copy(s, asset_id)
        earlier = _left_behind(s, asset_id)
    old = Path(filed.path) if filed is not None and filed.role == "organized" else None
    if filed is None or old is None or not old.is_file():
        # Nothing filed on disk (only quarantined, or the file is gone): the catalog change is all there is.
        with catalog.session() as s:
            change(s)
            store.append_event(s, event, asset_id, None, data)
        return Relocation(asset_id, str(old) if old else None, None, moved=False)
    for path in earlier:
        _remove_with_sidecar(path, old, filed.file_hash)

    after = _preview(catalog, asset_id, change)
    rec = _record_for(old, after)
    rec = dataclasses.replace(rec, project=after.project_name, stars=after.user_stars or after.stars,
                              file_hash=filed.file_hash)
    new = plan_destination(rec, cfg.organized, Layout(cfg.layout), old.name,
                           lambda p: rec.file_hash if p == old else naming.occupied(p))
    if new != old and not new.exists():
        try:
            fileops.place_copy(old, new, rec.file_hash)
        except fileops.SourceChanged as exc:
            raise RelocateError(f"{old} no longer holds the bytes alice filed ({exc}); "
                                "run `alice organize` to re-file it") from exc
    checkpoint("relocate: copy in place")
    rec.organized_path = str(new)
    rec.organized_at = rec.organized_at or datetime.now().astimezone()
    fileops.write_text_atomic(sidecar.sidecar_path(new), sidecar.dump(rec))
    checkpoint("relocate: sidecar written, not yet recorded")
    with catalog.session() as s:
        change(s)
        if new != old:
            store.add_location(s, asset_id, str(new), rec.file_hash, "organized")
            store.mark_location_gone(s, str(old))
        store.append_event(s, event, asset_id, str(new), {**data, "from": str(old)} if new != old else data)
    checkpoint("relocate: recorded, old file not yet removed")
    if new != old:
        _remove_with_sidecar(old, new, rec.file_hash)
    return Relocation(asset_id, str(old), str(new), moved=new != old)


def _left_behind(s: Session, asset_id: int) -> list[Path]:
    """Organized copies the catalog already moved away from (a crash came before their removal)."""
    rows = s.execute(select(Location.path).where(Location.asset_id == asset_id, Location.role == "organized",
                                                 Location.present.is_(False))).scalars()
    return [Path(p) for p in rows if os.path.isfile(p)]


def _remove_with_sidecar(path: Path, kept: Path, expected_hash: str) -> None:
    """Remove a superseded copy, only if `kept` verifiably holds the same bytes."""
    fileops.remove_source(path, kept, expected_hash, companions=[sidecar.sidecar_path(path)])
