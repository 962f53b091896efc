"""The catalog writes and reads the organizer needs.

Every function takes an open Session (from `Catalog.session()`), so the
caller decides what commits together: recording an asset, its location and
its event in one transaction means a crash leaves either all of it or none.

Writes are race-safe without application locks: two processes recording the
same content both use INSERT .. ON CONFLICT against a unique index, so one
creates the row and the other finds it.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast, overload

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Result,
    Select,
    SQLColumnExpression,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alice.daemon.catalog import json_rows
from alice.daemon.catalog.file_records import record_file
from alice.daemon.catalog.models import (
    LOCATION_ROLES,
    Asset,
    AssetProject,
    AssetTag,
    Event,
    Location,
    Project,
    Tag,
)
from alice.daemon.fs.names import escape, is_clean
from alice.pipeline.record import AssetRecord

EVENTS_CHANNEL = "alice_events"
# PostgreSQL limits a tsvector to 1 MB; prompts are capped upstream, but a
# hostile file must not make recording fail, so search text is cut here too.
_SEARCH_TEXT_CAP = 100_000
_INT32 = 2**31 - 1
_SEED_LIMIT = 10**20            # NUMERIC(20, 0)


@dataclass(frozen=True)
class AssetRow:
    id: int
    content_id: str
    file_hash: str
    size: int
    format: str
    media: str
    tool: str | None
    ai: bool
    project_name: str
    width: int | None
    height: int | None
    created_at: datetime
    stars: int | None
    user_stars: int | None


@dataclass(frozen=True)
class LocationRow:
    id: int
    asset_id: int
    path: str
    file_hash: str
    role: str
    present: bool
    size: int | None
    mtime_ns: int | None
    first_seen: datetime
    last_seen: datetime
    gone_at: datetime | None


@dataclass(frozen=True)
class EventRow:
    id: int
    at: datetime
    kind: str
    asset_id: int | None
    path: str | None
    data: dict[str, Any]


# -- cleaning values PostgreSQL would reject --

@overload
def clean_text(value: str) -> str: ...
@overload
def clean_text(value: None) -> None: ...
def clean_text(value: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; metadata from damaged files sometimes does. Nor lone
    surrogates: a file name that is not UTF-8 is stored with its bytes escaped (fs/names.py)."""
    return None if value is None else escape(str(value)).replace("\x00", "")


def clean_json(value: Any) -> Any:
    """Make `value` storable as JSONB: no NULs, no NaN, nothing json cannot encode. Keys
    become strings as JSON spells them (None -> "null"), tuples and sets lists."""
    if isinstance(value, dict | list | tuple):
        # Most values (a ComfyUI graph of a few hundred nodes, filed for every file) are
        # clean already: the C encoder says so at a fraction of the cost of walking them.
        try:
            encoded = json.dumps(value, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            return _clean_json(value)
        if "\\u0000" not in encoded and is_clean(encoded):
            return json.loads(encoded)
    return _clean_json(value)


def _clean_json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return escape(value).replace("\x00", "")
    if isinstance(value, dict):
        return {clean_json(_key(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_clean_json(v) for v in value]
    return _clean_json(str(value))


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)      # as the encoder spells a key (True -> "true")
    return str(key)


def _bounded_int(value: Any, limit: int = _INT32) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -limit <= number <= limit else None


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# -- projects, assets, generations --

def project_id(s: Session, name: str) -> int:
    """The id of project `name`, created if new."""
    name = clean_text(name) or "default"
    # Look first: the project almost always exists, and a read costs less than a
    # conflicting insert. The insert settles the race of two first files at once.
    found = s.execute(select(Project.id).where(Project.name == name)).scalar_one_or_none()
    if found is not None:
        return found
    new = s.execute(insert(Project).values(name=name)
                    .on_conflict_do_nothing(index_elements=[Project.name])
                    .returning(Project.id)).scalar_one_or_none()
    if new is not None:
        return new
    return s.execute(select(Project.id).where(Project.name == name)).scalar_one()


def record_asset(s: Session, rec: AssetRecord, *, refresh: bool = True) -> tuple[int, bool]:
    """Insert the asset for `rec.content_id` unless it exists; return (asset id, created).

    An existing asset row is left as it is (the first copy recorded defines
    it), but its generation row gains any parameter it lacked: a second copy
    of the same pixels may carry the prompt the first one had stripped. Each
    file's own reading is kept whole as its file record (file_records.py).
    """
    values = asset_values(rec, project_id(s, rec.project))
    row = s.execute(insert_assets(values), {"rows": json_rows.encode([values])}).first()
    inserted = row.id if row is not None else None
    created = inserted is not None
    asset_id: int = inserted if inserted is not None else \
        s.execute(select(Asset.id).where(Asset.content_id == rec.content_id)).scalar_one()
    if not created:
        join_project(s, asset_id, values["project_id"])    # a copy dropped into another project's folder
    generation = generation_row(asset_id, rec)
    s.execute(upsert_generations(generation), {"rows": json_rows.encode([generation])})
    record_file(s, asset_id, rec.file_hash, values["tool"], values["ai"], values["evidence"], generation)
    if refresh:
        refresh_search(s, asset_id)
    return asset_id, created


def asset_values(rec: AssetRecord, project: int) -> dict[str, Any]:
    """The assets row for `rec`, cleaned for PostgreSQL (record_asset, group_record)."""
    quality_score = _finite((rec.quality or {}).get("score")) if isinstance(rec.quality, dict) else None
    return dict(
        content_id=rec.content_id,
        file_hash=rec.file_hash,
        size=rec.size,
        format=clean_text(rec.format) or "unknown",
        media=clean_text(rec.media) or "other",
        tool=clean_text(rec.tool),
        ai=bool(rec.ai),
        project_id=project,
        width=_bounded_int(rec.width),
        height=_bounded_int(rec.height),
        created_at=rec.created_at,
        organized_at=rec.organized_at,
        stars=rec.stars if rec.stars in (1, 2, 3, 4, 5) else None,
        quality=clean_json(rec.quality),
        quality_score=quality_score,
        evidence=clean_json(list(rec.evidence)),
        warnings=clean_json(list(rec.warnings)),
        pixels_pending=bool(getattr(rec, "pixels_pending", False)),
    )


def join_project(s: Session, asset_id: int, project: int | str) -> None:
    """Make the asset a member of `project` (an id, or a name created if new) besides its own."""
    pid = project if isinstance(project, int) else project_id(s, project)
    own = s.execute(select(Asset.project_id).where(Asset.id == asset_id)).scalar_one()
    if pid != own:
        s.execute(insert(AssetProject).values(asset_id=asset_id, project_id=pid).on_conflict_do_nothing())


def projects_of(s: Session, asset_id: int) -> list[str]:
    """Every project the asset belongs to: its own (assets.project_id) first, then the others by name."""
    own = s.execute(select(Project.name).join(Asset, Asset.project_id == Project.id)
                    .where(Asset.id == asset_id)).scalar_one_or_none()
    others = s.execute(select(Project.name).join(AssetProject, AssetProject.project_id == Project.id)
                       .where(AssetProject.asset_id == asset_id).order_by(Project.name)).scalars().all()
    return ([own] if own is not None else []) + [n for n in others if n != own]


def record_reading(s: Session, asset_id: int, rec: AssetRecord) -> None:
    """Keep the file record of `rec`'s bytes (a duplicate of a filed file still says what it says).

    A catalog from before file records holds only each asset's first file's;
    dropping a later file again fills its record in.
    """
    record_file(s, asset_id, rec.file_hash, clean_text(rec.tool), bool(rec.ai), clean_json(list(rec.evidence)),
                generation_row(asset_id, rec))


def generation_row(asset_id: int, rec: AssetRecord) -> dict[str, Any]:
    g = rec.generation
    seed = _bounded_int(g.seed, _SEED_LIMIT - 1)
    row = dict(
        asset_id=asset_id,
        prompt=clean_text(g.prompt),
        negative_prompt=clean_text(g.negative_prompt),
        seed=seed,
        steps=_bounded_int(g.steps),
        cfg=_finite(g.cfg),
        sampler=clean_text(g.sampler),
        scheduler=clean_text(g.scheduler),
        model=clean_text(g.model),
        model_hash=clean_text(g.model_hash),
        width=_bounded_int(g.width),
        height=_bounded_int(g.height),
        loras=clean_json(list(g.loras or [])),
        stated_created_at=clean_text(g.created_at),
        raw=clean_json(dict(rec.raw or {})),
    )
    return row


# The statements recording rows, each built once per column set and executed with the rows
# as one JSON parameter (json_rows.py): {"rows": json_rows.encode(rows)}, one row or a group's
# (group_record.py). Each table's ON CONFLICT rule is written here once.
def insert_assets(columns: Iterable[str]) -> Any:
    """New assets' rows; an existing content id is left as it is. Returns (content_id, id)
    of the rows created."""
    return json_rows.insert("assets", columns, "ON CONFLICT (content_id) DO NOTHING RETURNING content_id, id")


def upsert_generations(columns: Iterable[str]) -> Any:
    """Generation rows (one per asset), an existing row gaining only the parameters it lacked."""
    return _upsert_generations(tuple(columns))


@cache
def _upsert_generations(columns: tuple[str, ...]) -> Any:
    fill = [f'"{c}" = coalesce(generations."{c}", excluded."{c}")' for c in columns
            if c not in ("asset_id", "loras", "raw")]
    fill += ["loras = coalesce(nullif(generations.loras, '[]'::jsonb), excluded.loras)",
             "raw = coalesce(nullif(generations.raw, '{}'::jsonb), excluded.raw)"]
    return json_rows.insert("generations", columns, "ON CONFLICT (asset_id) DO UPDATE SET " + ", ".join(fill))


def _asset_row(s: Session, where: Any) -> AssetRow | None:
    row = s.execute(select(Asset, Project.name).join(Project, Project.id == Asset.project_id).where(where)).first()
    if row is None:
        return None
    a, project = row
    return AssetRow(id=a.id, content_id=a.content_id, file_hash=a.file_hash, size=a.size, format=a.format,
                    media=a.media, tool=a.tool, ai=a.ai, project_name=project, width=a.width, height=a.height,
                    created_at=a.created_at, stars=a.stars, user_stars=a.user_stars)


def asset_by_content_id(s: Session, cid: str) -> AssetRow | None:
    return _asset_row(s, Asset.content_id == cid)


def asset_by_id(s: Session, asset_id: int) -> AssetRow | None:
    return _asset_row(s, Asset.id == asset_id)


def record_quarantined(s: Session, file_hash: str, size: int, format: str | None, media: str | None,
                       project: str, reason: str) -> int:
    """Record a file alice could not read as an asset keyed by its whole-file hash; return its id.

    Unreadable files have no payload hash, so the file hash stands in as
    content id: the same broken file dropped twice is still one asset.
    """
    values = dict(content_id=file_hash, file_hash=file_hash, size=size, format=clean_text(format) or "unknown",
                  media=clean_text(media) or "other", tool=None, ai=False, project_id=project_id(s, project),
                  created_at=func.now(), warnings=clean_json([reason]))
    asset_id = s.execute(insert(Asset).values(**values).on_conflict_do_nothing(index_elements=[Asset.content_id])
                         .returning(Asset.id)).scalar_one_or_none()
    if asset_id is None:
        asset_id = s.execute(select(Asset.id).where(Asset.content_id == file_hash)).scalar_one()
    return asset_id


def add_tags(s: Session, asset_id: int, tags: list[str], source: str = "user") -> None:
    """Attach tags (created if new) to an asset; tags it already has are kept as they are."""
    names = sorted({t for t in (clean_text(t.strip().lower()) for t in tags) if t})
    if not names:
        return
    s.execute(insert(Tag).values([{"name": n} for n in names]).on_conflict_do_nothing())
    tag_ids = s.execute(select(Tag.id).where(Tag.name.in_(names))).scalars().all()
    s.execute(insert(AssetTag).values([{"asset_id": asset_id, "tag_id": t, "source": source} for t in tag_ids])
              .on_conflict_do_nothing())
    refresh_search(s, asset_id)


def refresh_search(s: Session, asset_id: int) -> None:
    """Rebuild the asset's search vector from its files' prompts, its tags and its file names.

    Weights let search rank a prompt hit (A) over a tag (B), a file name (C)
    and a negative prompt (D). The prompts are every file record's vector
    (file_records.search, A and D), so text finds an asset by any of its
    files; an asset with no record (filed before records existed) uses its
    generation row. File names use the 'simple' configuration so "IMG_0042"
    is not stemmed; separators become spaces so each part matches.
    """
    refresh_search_many(s, [asset_id])


def refresh_search_many(s: Session, asset_ids: list[int]) -> None:
    """refresh_search for several assets in one statement (group commit)."""
    s.execute(text("""
        UPDATE assets a SET search =
            coalesce(
                (SELECT alice_tsvector_agg(fr.search ORDER BY fr.recorded_at, fr.file_hash)
                 FROM file_records fr WHERE fr.asset_id = a.id),
                setweight(to_tsvector('english', left(coalesce(
                    (SELECT g.prompt FROM generations g WHERE g.asset_id = a.id), ''), :cap)), 'A')
                || setweight(to_tsvector('english', left(coalesce(
                    (SELECT g.negative_prompt FROM generations g WHERE g.asset_id = a.id), ''), :cap)), 'D'))
         || setweight(to_tsvector('english', left(coalesce(
                (SELECT string_agg(t.name, ' ') FROM asset_tags at JOIN tags t ON t.id = at.tag_id
                 WHERE at.asset_id = a.id), ''), :cap)), 'B')
         || setweight(to_tsvector('simple', left(coalesce(
                (SELECT string_agg(regexp_replace(regexp_replace(l.path, '^.*/', ''), '[_.-]+', ' ', 'g'), ' ')
                 FROM locations l WHERE l.asset_id = a.id), ''), :cap)), 'C')
        WHERE a.id = ANY(:ids)
    """), {"ids": list(asset_ids), "cap": _SEARCH_TEXT_CAP})


# -- locations --

def add_location(s: Session, asset_id: int, path: str, file_hash: str, role: str, *,
                 size: int | None = None, mtime_ns: int | None = None, refresh: bool = True) -> int:
    """Record that `path` holds this asset (idempotent on path); return the location id.

    A path seen again is marked present again; if it now holds other content
    (a file replaced in place), the row follows the new content. `size` and
    `mtime_ns` (of a source) let a later run skip a file that has not changed.
    """
    if role not in LOCATION_ROLES:
        raise ValueError(f"location role must be one of {', '.join(LOCATION_ROLES)}, not {role!r}")
    path = clean_text(path)
    row = dict(asset_id=asset_id, path=path, file_hash=file_hash, role=role, size=size, mtime_ns=mtime_ns)
    location_id: int = s.execute(upsert_locations("RETURNING id"), {"rows": json_rows.encode([row])}).scalar_one()
    if refresh:   # callers adding several locations at once refresh once, at the end
        refresh_search(s, asset_id)
    return location_id


def upsert_locations(returning: str = "") -> Any:
    """Location rows (cleaned paths, distinct), idempotent on path: a path seen again is
    present again and follows its new content. `returning`: a RETURNING clause."""
    return json_rows.insert("locations", ("asset_id", "path", "file_hash", "role", "size", "mtime_ns"),
                            "ON CONFLICT (path) DO UPDATE SET asset_id = excluded.asset_id, "
                            "file_hash = excluded.file_hash, role = excluded.role, size = excluded.size, "
                            "mtime_ns = excluded.mtime_ns, present = true, gone_at = NULL, last_seen = now() "
                            + returning)


def _location_row(loc: Location | None) -> LocationRow | None:
    if loc is None:
        return None
    return LocationRow(id=loc.id, asset_id=loc.asset_id, path=loc.path, file_hash=loc.file_hash, role=loc.role,
                       present=loc.present, size=loc.size, mtime_ns=loc.mtime_ns, first_seen=loc.first_seen,
                       last_seen=loc.last_seen, gone_at=loc.gone_at)


def location_of(s: Session, path: str) -> LocationRow | None:
    return _location_row(s.execute(select(Location).where(Location.path == clean_text(path))).scalar_one_or_none())


FILED_ROLES = ("organized", "quarantine")


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (its result is a CursorResult, which the generic type hides)."""
    return cast(CursorResult[Any], result).rowcount


def filed_copies(asset_id: int | SQLColumnExpression[int], roles: tuple[str, ...] = FILED_ROLES) -> Select[Any]:
    """The one rule for "the copy alice filed": present locations in `roles`, organized
    before quarantine, newest first. `asset_id` may be a column (Asset.id) for a
    correlated subquery; narrow it with .with_only_columns(Location.path)."""
    return (select(Location)
            .where(Location.asset_id == asset_id, Location.present.is_(True), Location.role.in_(roles))
            .order_by((Location.role == "organized").desc(), Location.id.desc()))


def filed_copy(s: Session, asset_id: int) -> LocationRow | None:
    """The copy alice filed for this asset (organized, else quarantine) that is still present."""
    return _location_row(s.execute(filed_copies(asset_id).limit(1)).scalar_one_or_none())


@contextmanager
def content_lock(engine: Engine, content_id: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock on one content id, across threads, processes and machines.

    Filing checks "is this content already filed?" and then copies; without
    the lock two workers given the same bytes at once would both copy them.
    """
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:c, 0))"), {"c": content_id})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:c, 0))"), {"c": content_id})
            conn.commit()


def filed_copy_of_content(s: Session, content_id: str, file_hash: str) -> tuple[int, str] | None:
    """(asset id, path) of a present filed copy (organized or quarantined) holding exactly
    these bytes of this content, in one round trip: filing asks this of every file."""
    row = s.execute(text("""
        SELECT l.asset_id, l.path FROM locations l JOIN assets a ON a.id = l.asset_id
        WHERE a.content_id = :c AND l.file_hash = :h AND l.present AND l.role IN ('organized', 'quarantine')
        ORDER BY l.id LIMIT 1
    """), {"c": content_id, "h": file_hash}).first()
    return (row[0], row[1]) if row is not None else None


def filed_copy_with_hash(s: Session, asset_id: int, file_hash: str) -> LocationRow | None:
    """A filed copy (organized or quarantined, still present) holding exactly these bytes."""
    return _location_row(s.execute(
        filed_copies(asset_id).where(Location.file_hash == file_hash).order_by(None).order_by(Location.id).limit(1)
    ).scalar_one_or_none())


def mark_location_gone(s: Session, path: str) -> bool:
    """Note that the file at `path` is no longer there; the row stays as history."""
    result = s.execute(update(Location).where(Location.path == clean_text(path), Location.present.is_(True))
                       .values(present=False, gone_at=func.now()))
    return rowcount(result) > 0


def present_paths(s: Session) -> list[str]:
    """Every path, of any role, the catalog believes holds a file (for the startup check)."""
    return list(s.execute(select(Location.path).where(Location.present.is_(True)).order_by(Location.id)).scalars())


def organized_paths(s: Session) -> set[str]:
    """Every path in the organized tree the catalog believes is present."""
    return set(s.execute(select(Location.path).where(Location.role == "organized",
                                                     Location.present.is_(True))).scalars())


# -- events --

def append_event(s: Session | Connection, kind: str, asset_id: int | None, path: str | None, data: dict[str, Any]) -> int:
    """Append to the event log and NOTIFY listeners; both take effect when `s` commits.

    `s` may also be a Connection, for code (the queue) that works below the ORM.
    """
    # One round trip for the row and its NOTIFY. Listeners get only a pointer and
    # read the row itself: NOTIFY payloads are capped at 8000 bytes and a path or
    # error message could exceed it.
    return s.execute(text("""
        WITH e AS (
            INSERT INTO events (kind, asset_id, path, data)
            VALUES (:kind, :asset_id, :path, CAST(:data AS jsonb)) RETURNING id
        )
        SELECT id, pg_notify(:channel, json_build_object('id', id, 'kind', CAST(:kind AS text))::text) FROM e
    """), {"kind": kind, "asset_id": asset_id, "path": clean_text(path),
           "data": json.dumps(clean_json(data or {})), "channel": EVENTS_CHANNEL}).scalar_one()


def events_since(s: Session, after_id: int, limit: int = 1000) -> list[EventRow]:
    rows = s.execute(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit)).scalars()
    return [EventRow(id=e.id, at=e.at, kind=e.kind, asset_id=e.asset_id, path=e.path, data=e.data) for e in rows]


def last_event_id(s: Session) -> int:
    return s.execute(select(func.coalesce(func.max(Event.id), 0))).scalar_one()


# -- summary --

def counts(s: Session) -> dict[str, Any]:
    """Totals for `alice status`: assets overall and by tool/project/media, locations, quarantined."""
    def grouped(column: Any, *joins: Any) -> dict[str, int]:
        q = select(column, func.count()).select_from(Asset)
        for j in joins:
            q = q.join(*j)
        return {k if k is not None else "unknown": n for k, n in s.execute(q.group_by(column))}

    present = Location.present.is_(True)
    return {
        "assets": s.execute(select(func.count()).select_from(Asset)).scalar_one(),
        "by_tool": grouped(Asset.tool),
        "by_project": grouped(Project.name, (Project, Project.id == Asset.project_id)),
        "by_media": grouped(Asset.media),
        "locations": s.execute(select(func.count()).select_from(Location).where(present)).scalar_one(),
        "quarantined": s.execute(select(func.count()).select_from(Location)
                                 .where(present, Location.role == "quarantine")).scalar_one(),
    }
