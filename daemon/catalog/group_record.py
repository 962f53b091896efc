"""Recording a group of newly filed files with multi-row statements (group commit).

store.record_asset and its companions cost about ten statements, so ten round
trips, per file. A group placed together is recorded here with one statement
per table for the whole group: assets, generations, file records, locations,
the search vectors, events; the caller's transaction commits them together,
so the crash order of filing (daemon/ingest/filing.py) is the same as one
file at a time. What is rare stays per file: an asset that already existed
(a copy joining another project), lineage edges.

Rows of one multi-row upsert must not touch the same key twice (PostgreSQL
refuses "ON CONFLICT DO UPDATE command cannot affect row a second time"); a
group where two files share a content id or a path is recorded file by file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from alice.daemon.catalog import file_records, json_rows, lineage, similar, store
from alice.daemon.catalog.models import Asset
from alice.pipeline.record import AssetRecord


@dataclass
class NewFile:
    """A file filed at `dest` from `source`: what store.record_asset, two add_location calls
    and the "organized" event record for it."""

    rec: AssetRecord
    dest: str
    source: str
    size: int
    mtime_ns: int


def can_batch(files: list[NewFile]) -> bool:
    """Whether the group touches every key once (else: file by file, record_one)."""
    cids = [f.rec.content_id for f in files]
    paths = [p for f in files for p in (store.clean_text(f.dest), store.clean_text(f.source))]
    return len(set(cids)) == len(cids) and len(set(paths)) == len(paths)


def record_one(s: Session, f: NewFile) -> int:
    """One file, with the per-file statements (store.py)."""
    rec = f.rec
    asset_id, created = store.record_asset(s, rec, refresh=False)
    store.add_location(s, asset_id, f.dest, rec.file_hash, "organized", refresh=False)
    store.add_location(s, asset_id, f.source, rec.file_hash, "source",
                       size=f.size, mtime_ns=f.mtime_ns, refresh=False)
    lineage.record_parents(s, asset_id, rec.parents)
    store.refresh_search(s, asset_id)
    if created and rec.perceptual_hash is not None:
        similar.set_perceptual_hash(s, asset_id, rec.perceptual_hash)
    store.append_event(s, "organized", asset_id, f.dest,
                       {"source": f.source, "tool": rec.tool, "project": rec.project})
    return asset_id


def record_new_files(s: Session, files: list[NewFile]) -> list[int]:
    """Record every file of the group; returns their asset ids, in order."""
    if not files:
        return []
    if len(files) == 1 or not can_batch(files):
        return [record_one(s, f) for f in files]
    projects = {name: store.project_id(s, name) for name in dict.fromkeys(f.rec.project for f in files)}
    rows = [store.asset_values(f.rec, projects[f.rec.project]) for f in files]
    created: dict[str, int] = dict(s.execute(store.insert_assets(rows[0]), {"rows": json_rows.encode(rows)}).all())
    ids = dict(created)
    missing = [f.rec.content_id for f in files if f.rec.content_id not in ids]
    if missing:
        ids.update(s.execute(select(Asset.content_id, Asset.id)
                             .where(Asset.content_id.in_(missing))).all())
    asset_ids = [ids[f.rec.content_id] for f in files]
    for f, row, asset_id in zip(files, rows, asset_ids, strict=True):
        if f.rec.content_id not in created:
            store.join_project(s, asset_id, row["project_id"])   # a copy dropped into another project's folder

    generations = [store.generation_row(asset_id, f.rec) for f, asset_id in zip(files, asset_ids, strict=True)]
    s.execute(store.upsert_generations(generations[0]), {"rows": json_rows.encode(generations)})
    records = [dict(asset_id=asset_id, file_hash=f.rec.file_hash, tool=row["tool"], ai=row["ai"],
                    evidence=row["evidence"], **{k: v for k, v in g.items() if k != "asset_id"})
               for f, row, g, asset_id in zip(files, rows, generations, asset_ids, strict=True)]
    s.execute(file_records.upsert_records(records[0]), {"rows": json_rows.encode(records)})

    locations = []
    for f, asset_id in zip(files, asset_ids, strict=True):
        locations.append(dict(asset_id=asset_id, path=store.clean_text(f.dest), file_hash=f.rec.file_hash,
                              role="organized", size=None, mtime_ns=None))
        locations.append(dict(asset_id=asset_id, path=store.clean_text(f.source), file_hash=f.rec.file_hash,
                              role="source", size=f.size, mtime_ns=f.mtime_ns))
    s.execute(store.upsert_locations(), {"rows": json_rows.encode(locations)})

    for f, asset_id in zip(files, asset_ids, strict=True):
        lineage.record_parents(s, asset_id, f.rec.parents)
    set_perceptual_hashes(s, [(asset_id, f.rec.perceptual_hash) for f, asset_id in zip(files, asset_ids, strict=True)
                              if f.rec.content_id in created and f.rec.perceptual_hash is not None])
    store.refresh_search_many(s, asset_ids)
    append_events(s, [("organized", asset_id, f.dest, {"source": f.source, "tool": f.rec.tool,
                                                       "project": f.rec.project})
                      for f, asset_id in zip(files, asset_ids, strict=True)])
    return asset_ids


def set_perceptual_hashes(s: Session, hashes: list[tuple[int, int]]) -> None:
    """similar.set_perceptual_hash for several assets in one UPDATE."""
    if not hashes:
        return
    rows = []
    for asset_id, phash in hashes:
        value = similar.to_signed64(phash)
        rows.append({"id": asset_id, "phash": value, "bands": similar.bands(value)})
    s.execute(text("""
        UPDATE assets a SET phash = r.phash, phash_bands = ARRAY(SELECT jsonb_array_elements_text(r.bands)::int)
        FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id bigint, phash bigint, bands jsonb)
        WHERE a.id = r.id
    """), {"rows": json.dumps(rows)})


def append_events(s: Session, events: list[tuple[str, int | None, str | None, dict[str, Any]]]) -> None:
    """store.append_event for many events: one INSERT of every row and their NOTIFYs, in order."""
    if not events:
        return
    s.execute(text("""
        WITH e AS (
            INSERT INTO events (kind, asset_id, path, data)
            SELECT kind, asset_id, path, data
            FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(n int, kind text, asset_id bigint, path text,
                                                                 data jsonb)
            ORDER BY n
            RETURNING id, kind
        )
        SELECT pg_notify(:channel, json_build_object('id', id, 'kind', kind)::text) FROM e
    """).bindparams(bindparam("rows"), bindparam("channel")),
        {"rows": json.dumps([{"n": n, "kind": kind, "asset_id": asset_id, "path": store.clean_text(path),
                              "data": store.clean_json(data or {})}
                             for n, (kind, asset_id, path, data) in enumerate(events)]),
         "channel": store.EVENTS_CHANNEL})
