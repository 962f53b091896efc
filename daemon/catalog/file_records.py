"""Each filed file's own record: the tool and generation its bytes carry.

An asset is one content (pixels); its files may differ in metadata, and each
file's reading is kept here under (asset_id, file_hash). Search matches an
asset when any of its records matches (daemon/catalog/search.py); assets.get
lists them with the paths that hold each (daemon/catalog/asset_detail.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alice.daemon.catalog import json_rows
from alice.daemon.catalog.models import FileRecord, Location

GENERATION_FIELDS = ("prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler", "model",
                     "model_hash", "width", "height", "loras", "stated_created_at")


def record_file(s: Session, asset_id: int, file_hash: str, tool: str | None, ai: bool, evidence: list[str],
                generation: dict[str, Any]) -> None:
    """Store what the file with `file_hash` says, replacing an earlier reading of the same bytes.

    Values arrive cleaned for PostgreSQL by store.record_asset; `generation`
    has the generations row's columns, so both tables hold the same values.
    """
    row = dict(asset_id=asset_id, file_hash=file_hash, tool=tool, ai=ai, evidence=evidence,
               **{k: v for k, v in generation.items() if k != "asset_id"})
    s.execute(upsert_records(row), {"rows": json_rows.encode([row])})


def upsert_records(columns: Iterable[str]) -> Any:
    """The statement storing file records with these columns; execute it with the rows as
    one JSON parameter (json_rows.py; a group's at once: group_record.py)."""
    return _upsert_records(tuple(columns))


@cache
def _upsert_records(columns: tuple[str, ...]) -> Any:
    # The same bytes read again (a newer alice may read more): the latest reading wins.
    fill = [f'"{c}" = excluded."{c}"' for c in columns if c not in ("asset_id", "file_hash")]
    return json_rows.insert("file_records", columns,
                            "ON CONFLICT (asset_id, file_hash) DO UPDATE SET " + ", ".join(fill))


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def records_of(s: Session, asset_id: int, *, raw: bool = False) -> list[dict[str, Any]]:
    """Every file record of the asset, oldest first, each with the paths that held those bytes.

    The tool's own record (`raw`, a whole ComfyUI graph at times) only when asked for.
    """
    paths: dict[str, list[dict[str, Any]]] = {}
    for loc in s.execute(select(Location.path, Location.role, Location.present, Location.file_hash)
                         .where(Location.asset_id == asset_id).order_by(Location.id)):
        paths.setdefault(loc.file_hash, []).append({"path": loc.path, "role": loc.role, "present": loc.present})
    out = []
    for r in s.execute(select(FileRecord).where(FileRecord.asset_id == asset_id)
                       .order_by(FileRecord.recorded_at, FileRecord.file_hash)).scalars():
        generation = {k: getattr(r, k) for k in GENERATION_FIELDS}
        if raw:
            generation["raw"] = r.raw
        out.append({"file_hash": r.file_hash, "paths": paths.get(r.file_hash, []), "tool": r.tool, "ai": r.ai,
                    "evidence": r.evidence, "recorded_at": _iso(r.recorded_at), "generation": generation})
    return out
