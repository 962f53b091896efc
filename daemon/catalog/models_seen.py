"""Every checkpoint and LoRA the catalog has seen in generation records, with how they were used.

A checkpoint is its name and hash together (two files named alike with
different hashes are different models); LoRAs are recorded by name only
(detection keeps their names, not their hashes). Average stars count only
rated assets (a person's stars win over computed ones, as everywhere).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Text, func, literal, select, union_all
from sqlalchemy.orm import Session

from alice.daemon.catalog.models import Asset, Generation, Project

KINDS = ("checkpoint", "lora")
SORTS = ("files", "last_used", "stars", "name")
MAX_PROJECTS = 20


def _rows(s: Session, kind: str, name: Any, hash_: Any, extra_from: Any = None,
          project: str | None = None) -> Any:
    q = (select(literal(kind).label("kind"), name.label("name"), hash_.label("hash"),
                func.count(func.distinct(Asset.id)).label("files"),
                func.array_agg(func.distinct(Project.name)).label("projects"),
                func.avg(func.nullif(Asset.rating, 0)).label("avg_stars"),
                func.count(func.distinct(Asset.id)).filter(Asset.rating > 0).label("rated"),
                func.min(Asset.created_at).label("first_used"), func.max(Asset.created_at).label("last_used"))
         .select_from(Generation))
    if extra_from is not None:
        q = q.join(extra_from, literal(True))
    q = (q.join(Asset, Asset.id == Generation.asset_id).join(Project, Project.id == Asset.project_id)
         .where(name.isnot(None), name != ""))
    if project is not None:
        q = q.where(Project.name == project)
    return q.group_by(name, hash_)


def models_seen(s: Session, kind: str | None = None, project: str | None = None, sort: str = "files",
                limit: int = 200) -> list[dict[str, Any]]:
    """Checkpoints and/or LoRAs with files, projects, average stars, first and last use."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind is one of {', '.join(KINDS)}, not {kind!r}")
    if sort not in SORTS:
        raise ValueError(f"sort is one of {', '.join(SORTS)}, not {sort!r}")
    parts = []
    if kind in (None, "checkpoint"):
        parts.append(_rows(s, "checkpoint", Generation.model, Generation.model_hash, project=project))
    if kind in (None, "lora"):
        lora = func.jsonb_array_elements_text(Generation.loras).table_valued("value").alias("lora")
        parts.append(_rows(s, "lora", lora.c.value, literal(None, Text), extra_from=lora, project=project))
    u = union_all(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    order = {"files": [u.c.files.desc(), u.c.name], "last_used": [u.c.last_used.desc(), u.c.name],
             "stars": [u.c.avg_stars.desc().nulls_last(), u.c.files.desc(), u.c.name],
             "name": [u.c.name, u.c.kind]}[sort]
    rows = s.execute(select(u).order_by(*order).limit(limit)).all()
    return [{"kind": r.kind, "name": r.name, "hash": r.hash, "files": r.files,
             "projects": sorted(p for p in (r.projects or []) if p)[:MAX_PROJECTS],
             "avg_stars": round(float(r.avg_stars), 2) if r.avg_stars is not None else None, "rated": r.rated,
             "first_used": r.first_used.isoformat(), "last_used": r.last_used.isoformat()} for r in rows]
