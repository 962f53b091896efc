"""`alice rebuild`: the catalog again, from the organized tree's sidecars.

The sidecar beside each filed file holds its whole record, and what a person
gave the asset (tags, their own stars, its project), so a lost or new
database can be filled from the tree alone. Each file is recorded in its own
transaction, with the same store calls filing uses, so running it twice (or
on a catalog that already knows some files) changes nothing the second time.
The quarantine holds no sidecars and is not read; a damaged sidecar is
reported by path and skipped.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alice.daemon.catalog import curation, similar, store
from alice.daemon.catalog.engine import Catalog
from alice.pipeline import sidecar


@dataclass
class Rebuilt:
    path: str
    status: str                 # recorded | skipped
    content_id: str | None = None
    project: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)
    user_stars: int | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def sidecars(organized: Path) -> Iterator[Path]:
    """Every sidecar under the tree whose file is beside it (hidden folders, the quarantine among them, skipped)."""
    for dirpath, dirs, files in os.walk(organized):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        names = set(files)
        for name in sorted(files):
            if name.endswith(sidecar.SUFFIX) and name[:-len(sidecar.SUFFIX)] in names:
                yield Path(dirpath) / name


def rebuild_one(catalog: Catalog, sidecar_file: Path) -> Rebuilt:
    media = sidecar_file.with_name(sidecar_file.name[:-len(sidecar.SUFFIX)])
    try:
        rec = sidecar.load(sidecar_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, sidecar.SidecarError) as exc:
        return Rebuilt(str(media), "skipped", reason=f"unreadable sidecar {sidecar_file}: {exc}")
    # The sidecar's `stars` is what decided the folder (the person's, else the computed
    # one); the catalog keeps the two apart.
    computed = (rec.quality or {}).get("stars") if isinstance(rec.quality, dict) else None
    if computed is None and rec.user_stars is None:
        computed = rec.stars
    filed = dataclasses.replace(rec, stars=computed if computed in (1, 2, 3, 4, 5) else None)
    with catalog.session() as s:
        asset_id, created = store.record_asset(s, filed, refresh=False)
        store.add_location(s, asset_id, str(media), rec.file_hash, "organized", refresh=False)
        if rec.tags:
            store.add_tags(s, asset_id, curation.normalize_tags(rec.tags))
        if rec.user_stars is not None:
            curation.set_user_stars(s, asset_id, rec.user_stars)
        if created and rec.perceptual_hash is not None:
            similar.set_perceptual_hash(s, asset_id, rec.perceptual_hash)
        store.refresh_search(s, asset_id)
        store.append_event(s, "rebuilt", asset_id, str(media), {"sidecar": str(sidecar_file)})
    return Rebuilt(str(media), "recorded", rec.content_id, rec.project, sorted(rec.tags), rec.user_stars)


def rebuild(catalog: Catalog, organized: Path) -> Iterator[Rebuilt]:
    for path in sidecars(organized):
        yield rebuild_one(catalog, path)
