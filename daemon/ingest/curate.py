"""What a person changes about an asset (tags, stars, project), written to the catalog AND
to the sidecars of its filed copies, so a catalog rebuilt from the tree gets them back.

The sidecar is the record that outlives the catalog. Each change is made in one
catalog transaction, and the sidecars are rewritten (atomically: temp file,
fsync, rename) inside it, before it commits. A crash in between leaves a
sidecar that is ahead of the catalog, never behind it: `alice rebuild` or the
next change settles it. Stars and projects that move the file go through
relocate.py, which writes the sidecar the same way.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alice.daemon.catalog import curation, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.models import Location
from alice.daemon.fs import fileops
from alice.pipeline import sidecar
from alice.pipeline.record import AssetRecord


def record_for(path: Path, asset: store.AssetRow, tags: list[str]) -> AssetRecord:
    """The filed copy's record from its sidecar; rebuilt from the catalog if the sidecar is gone or damaged."""
    try:
        rec = sidecar.load(sidecar.sidecar_path(path).read_text(encoding="utf-8"))
    except (OSError, sidecar.SidecarError, UnicodeDecodeError):
        rec = AssetRecord(content_id=asset.content_id, file_hash=asset.file_hash, size=asset.size,
                          format=asset.format, media=asset.media, tool=asset.tool, ai=asset.ai,
                          project=asset.project_name, source_path=str(path), created_at=asset.created_at,
                          width=asset.width, height=asset.height, stars=asset.user_stars or asset.stars,
                          organized_path=str(path))
    rec.user_stars = asset.user_stars
    rec.tags = list(tags)
    return rec


def sync_sidecars(s: Session, asset_id: int) -> list[Path]:
    """Rewrite the sidecar of every present organized copy with the asset's tags and user stars
    as `s` sees them (call it in the transaction that changed them, before it commits)."""
    asset = store.asset_by_id(s, asset_id)
    if asset is None:
        return []
    tags = curation.tags_of(s, asset_id)
    paths = s.execute(select(Location.path).where(Location.asset_id == asset_id, Location.role == "organized",
                                                  Location.present.is_(True))).scalars().all()
    written = []
    for text_path in paths:
        path = Path(text_path)
        if not path.is_file():
            continue
        rec = record_for(path, asset, tags)
        fileops.write_text_atomic(sidecar.sidecar_path(path), sidecar.dump(rec))
        written.append(path)
    return written


def tag(catalog: Catalog, ref: int | str, tags: list[str]) -> tuple[int, list[str]]:
    """Add tags; (asset id, its tags after). Catalog and sidecars change together."""
    return _change_tags(catalog, ref, tags, curation.tag, "tagged")


def untag(catalog: Catalog, ref: int | str, tags: list[str]) -> tuple[int, list[str]]:
    """Remove tags (absent ones are ignored); (asset id, its tags after)."""
    return _change_tags(catalog, ref, tags, curation.untag, "untagged")


def _change_tags(catalog: Catalog, ref: int | str, tags: list[str],
                 change: Callable[[Session, int, list[str]], list[str]], event: str) -> tuple[int, list[str]]:
    names = curation.normalize_tags(tags)
    with catalog.session() as s:
        asset_id = curation.resolve_asset(s, ref)
        after = change(s, asset_id, names)
        store.append_event(s, event, asset_id, None, {"tags": names})
        sync_sidecars(s, asset_id)
    return asset_id, after
