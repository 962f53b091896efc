"""Everything the catalog knows about one asset: for assets.get and assets.generation."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alice.daemon.catalog.curation import tags_of
from alice.daemon.catalog.file_records import records_of
from alice.daemon.catalog.models import Asset, Generation, Location, Project

_ASSET_COLUMNS = (Asset.id, Asset.content_id, Asset.file_hash, Asset.size, Asset.format, Asset.media, Asset.tool,
                  Asset.ai, Asset.width, Asset.height, Asset.created_at, Asset.discovered_at, Asset.organized_at,
                  Asset.stars, Asset.user_stars, Asset.rating, Asset.quality_score, Asset.quality, Asset.evidence,
                  Asset.warnings, Asset.phash)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def locations(s: Session, asset_id: int) -> list[dict[str, Any]]:
    rows = s.execute(select(Location).where(Location.asset_id == asset_id).order_by(Location.id)).scalars()
    return [{"path": loc.path, "role": loc.role, "present": loc.present, "file_hash": loc.file_hash,
             "first_seen": _iso(loc.first_seen), "last_seen": _iso(loc.last_seen), "gone_at": _iso(loc.gone_at)}
            for loc in rows]


def asset_detail(s: Session, asset_id: int) -> dict[str, Any]:
    row = s.execute(select(*_ASSET_COLUMNS, Project.name.label("project"))
                    .join(Project, Project.id == Asset.project_id).where(Asset.id == asset_id)).one()
    out = {k: _iso(v) for k, v in row._mapping.items()}
    out["stars"] = out.pop("rating") or None          # what a person sees
    out["computed_stars"] = row.stars
    gen = s.execute(select(Generation.prompt, Generation.negative_prompt, Generation.model, Generation.seed)
                    .where(Generation.asset_id == asset_id)).first()
    out["generation"] = dict(gen._mapping) if gen else None
    out["tags"] = tags_of(s, asset_id)
    out["locations"] = locations(s, asset_id)
    # `tool` and `generation` above are the asset's (its first file's); each file's own are here.
    out["records"] = records_of(s, asset_id)
    out["path"] = next((loc["path"] for loc in out["locations"]
                        if loc["present"] and loc["role"] == "organized"), None)
    return out


def generation_record(s: Session, asset_id: int) -> dict[str, Any]:
    """The full generation record, with where the file came from (sources) and where alice filed it (outputs)."""
    gen = s.execute(select(Generation).where(Generation.asset_id == asset_id)).scalar_one_or_none()
    asset = s.execute(select(Asset.content_id, Asset.tool, Asset.ai, Asset.evidence)
                      .where(Asset.id == asset_id)).one()
    locs = locations(s, asset_id)
    record = None
    if gen is not None:
        record = {c: _iso(getattr(gen, c)) for c in ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler",
                                                      "scheduler", "model", "model_hash", "width", "height",
                                                      "loras", "stated_created_at", "raw")}
    return {
        "asset_id": asset_id, "content_id": asset.content_id, "tool": asset.tool, "ai": asset.ai,
        "evidence": asset.evidence, "generation": record,
        "records": records_of(s, asset_id, raw=True),
        "sources": [loc for loc in locs if loc["role"] in ("source", "quarantine-source")],
        "outputs": [loc for loc in locs if loc["role"] in ("organized", "quarantine")],
    }
