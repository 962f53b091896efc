"""`alice assess --project P --apply`: re-run the cascade on what is already filed, and re-file.

For each organized asset of the project: run the cascade on its filed copy,
then record the computed stars, score and every stage's result (assets.stars,
quality_score, quality) and move the file where the layout now puts it
(daemon/ingest/relocate.py: copy, sidecar, one catalog transaction, remove; safe to
kill at any point and re-run). assets.user_stars is never written here: a
person's rating keeps deciding the folder (effective_stars).

The new quality goes into the old sidecar first, so relocate carries it to
the new one; a crash right after leaves a sidecar a re-run rewrites anyway.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alice.daemon.catalog import store
from alice.daemon.catalog.curation import MAX_TAG, normalize_tags
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.models import Asset, Generation, Project
from alice.daemon.config import Config
from alice.daemon.fs import fileops, reserve
from alice.daemon.ingest.relocate import RelocateError, relocate
from alice.daemon.provider_host import ProviderHost
from alice.daemon.quality.assess import Target, run_cascade
from alice.pipeline import sidecar
from alice.pipeline.quality.cascade import effective_stars
from alice.pipeline.quality.config import QualityConfig


def organized_assets(catalog: Catalog, project: str) -> list[int]:
    """Ids of the project's assets that have a present organized copy, oldest first."""
    with catalog.session() as s:
        return list(s.execute(
            select(Asset.id).join(Project, Project.id == Asset.project_id)
            .where(Project.name == project,
                   store.filed_copies(Asset.id, roles=("organized",)).exists())
            .order_by(Asset.id)).scalars())


def reassess_project(cfg: Config, catalog: Catalog, qcfg: QualityConfig, providers: ProviderHost | None,
                     project: str, stages: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
    """One report per organized asset of `project` (see reassess_asset).

    First clears what a killed run left (temp copies, locations whose file is
    gone), as `alice organize` does, so a re-run finishes a killed one."""
    from alice.daemon.ingest.filing import startup_sweep

    startup_sweep(cfg, catalog)
    for asset_id in organized_assets(catalog, project):
        yield reassess_asset(cfg, catalog, qcfg, providers, asset_id, stages)


def reassess_asset(cfg: Config, catalog: Catalog, qcfg: QualityConfig, providers: ProviderHost | None,
                   asset_id: int, stages: Sequence[str] | None = None) -> dict[str, Any]:
    """Re-score one filed asset and re-file it.

    Returns {"path", "content_id", "status": reassessed|moved|failed, "from",
    "score", "stars" (effective), "computed_stars", "user_stars", "stages",
    "cost_usd", "error"}.
    """
    with catalog.session() as s:
        asset = store.asset_by_id(s, asset_id)
        filed = store.filed_copy(s, asset_id)
        prompt = s.execute(select(Generation.prompt).where(Generation.asset_id == asset_id)).scalar_one_or_none()
    if asset is None or filed is None or filed.role != "organized":
        return {"path": None, "content_id": None, "status": "failed", "error": f"asset {asset_id} has no filed copy"}
    old = Path(filed.path)
    report: dict[str, Any] = {"path": str(old), "content_id": asset.content_id, "status": "failed", "from": None,
                              "score": None, "stars": effective_stars(asset.stars, asset.user_stars),
                              "computed_stars": asset.stars, "user_stars": asset.user_stars, "stages": {},
                              "cost_usd": "0", "error": None}
    if not old.is_file():
        report["error"] = f"{old} is missing; run `alice organize` to re-file it"
        return report
    out = run_cascade(Target(old, content_id=asset.content_id, media=asset.media, project=asset.project_name,
                             context=prompt), qcfg, providers, catalog, stages)
    report.update(stages=out["stages"], cost_usd=out["cost_usd"])
    if out["score"] is None:
        report["error"] = out["error"]
        return report
    quality = {"score": out["score"], "stars": out["stars"], **out["stages"]}

    tags = _stage_tags(out["stages"])

    def change(s: Session) -> None:
        s.execute(update(Asset).where(Asset.id == asset_id).values(
            stars=out["stars"], quality_score=out["score"], quality=store.clean_json(quality)))
        if tags:
            store.add_tags(s, asset_id, tags, source="vision")

    _carry_quality(old, quality)
    try:
        moved = relocate(cfg, catalog, asset_id, change, "reassessed",
                         {"score": out["score"], "stars": out["stars"], "previous_stars": asset.stars})
    except (RelocateError, OSError) as exc:
        report["error"] = str(exc)
        return report
    report.update(status="moved" if moved.moved else "reassessed", path=moved.new_path or str(old),
                  score=out["score"], computed_stars=out["stars"],
                  stars=effective_stars(out["stars"], asset.user_stars), **{"from": str(old) if moved.moved else None})
    return report


def _stage_tags(stages: Mapping[str, Any]) -> list[str]:
    """Tags a vision stage saw, so search finds "cat" or "neon"; unusable ones are dropped."""
    found: list[str] = []
    for result in stages.values():
        if isinstance(result, dict) and isinstance(result.get("tags"), list):
            found.extend(t for t in result["tags"]
                         if isinstance(t, str) and len(t.strip()) <= MAX_TAG and "\x00" not in t)
    return normalize_tags(found)


def _carry_quality(path: Path, quality: dict[str, Any]) -> None:
    """Put the new quality into the file's sidecar (if it has a readable one)."""
    side = sidecar.sidecar_path(path)
    try:
        rec = sidecar.load(side.read_text(encoding="utf-8"))
    except (OSError, sidecar.SidecarError, UnicodeDecodeError):
        return       # relocate rebuilds the record from the catalog
    # The sidecar read above is alice's (it parsed); replace it only while that still holds.
    fileops.write_text_atomic(side, sidecar.dump(dataclasses.replace(rec, quality=store.clean_json(quality))),
                              may_replace=lambda p: reserve.sidecar_is_ours(p, rec.file_hash))
