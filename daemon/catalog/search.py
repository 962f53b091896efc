"""assets.search: a validated query, its SQL, keyset pagination and a bounded count.

Text goes through PostgreSQL full-text search on assets.search (prompts weight
A, tags B, file names C, negative prompts D; see store.refresh_search), which
holds the prompts of every file of the asset. Tool, model and seed match an
asset when any of its files' records (file_records) matches. The
query is parsed with websearch_to_tsquery ("quoted phrases", -exclusions, or)
under both the 'english' configuration, so "portraits" finds "portrait", and
'simple', so a file-name token that stemming would change still matches
exactly. No extension is needed, so it works on the embedded server.

Pagination is keyset: the cursor is an opaque base64 of the last row's sort
key and id, so page 500 costs what page 1 costs and rows inserted meanwhile
neither repeat nor vanish between pages.

The total is exact when the planner expects at most COUNT_CAP matches and
counting them takes under COUNT_BUDGET_MS; otherwise it is the planner's
estimate and `total_exact` is false (show "about 412,000"). Counting 30,000
text matches reads 30,000 rows from the heap (~90 ms at 1M assets), more than
the whole page costs, and nobody pages through them all.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any

import psycopg
from sqlalchemy import Float, Text, and_, case, cast, exists, false, func, literal, or_, select, text, true, tuple_
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ClauseElement, Executable

from alice.daemon import errors
from alice.daemon.catalog import store
from alice.daemon.catalog.models import (
    Asset,
    AssetParent,
    AssetProject,
    AssetTag,
    FileRecord,
    Generation,
    Location,
    Project,
    Tag,
)
from alice.daemon.catalog.page import DEFAULT_LIMIT, MAX_LIMIT

COUNT_CAP = 5_000
COUNT_BUDGET_MS = 6
RANK_CANDIDATES = 1_000
MAX_TEXT = 1_000
MAX_LIST = 50
SORTS = ("date", "stars", "relevance")
ORDERS = ("desc", "asc")
MEDIA = ("image", "video", "audio", "other")
SEARCHABLE_MEDIA = ("image", "video", "audio")
PROMPT_PREVIEW = 500


# Above this many assets that joined a searched project from elsewhere, they are matched
# by a subquery instead of a literal list.
MAX_EXTRA_MEMBERS = 1000


class SearchError(errors.InvalidRequest):
    """A search that cannot run as asked; the message names the field and what it accepts."""


def _str_tuple(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SearchError(f"'{name}' must be a string or a list of strings, got {value!r}")
    if len(value) > MAX_LIST:
        raise SearchError(f"'{name}' lists {len(value)} values; at most {MAX_LIST} are allowed")
    return tuple(v.strip() for v in value if v.strip())


def _when(name: str, value: Any, end_of_day: bool) -> datetime | None:
    """A date ('2025-01-01': the whole day) or an ISO date-time; naive means local time."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise SearchError(f"'{name}' must be a date like 2025-01-01 or an ISO date-time, got {value!r}")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time())
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(f"'{name}' must be a date like 2025-01-01 or an ISO date-time, got {value!r}") from None
    return moment if moment.tzinfo else moment.astimezone()


@dataclass(frozen=True)
class SearchQuery:
    """Every filter is optional; all given filters must hold (AND)."""

    text: str | None = None
    tool: tuple[str, ...] = ()
    project: tuple[str, ...] = ()
    ai: bool | None = None
    media: str | None = None
    model: str | None = None
    lora: str | None = None               # a LoRA name as models.list shows it
    seed: int | None = None
    stars_min: int | None = None          # 0 = unrated; user stars win over computed ones
    stars_max: int | None = None
    since: datetime | None = None         # created_at >= since
    until: datetime | None = None         # created_at < until (a bare date includes that whole day)
    width_min: int | None = None
    width_max: int | None = None
    height_min: int | None = None
    height_max: int | None = None
    aspect_min: float | None = None       # width / height
    aspect_max: float | None = None
    tags_all: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    content_id: str | None = None
    child_of: int | None = None           # assets made from this asset (its children in the lineage)
    parent_of: int | None = None          # assets this asset was made from (its parents)
    sort: str = "date"
    order: str = "desc"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    count: bool = True

    def __post_init__(self) -> None:
        text_ = self.text.strip() if isinstance(self.text, str) else self.text
        if text_ is not None and not isinstance(text_, str):
            raise SearchError(f"'text' must be a string, got {self.text!r}")
        if text_ and len(text_) > MAX_TEXT:
            raise SearchError(f"'text' is {len(text_)} characters; at most {MAX_TEXT} are allowed")
        object.__setattr__(self, "text", text_ or None)
        for name in ("tool", "project", "tags_all", "tags_any", "tags_none"):
            values = _str_tuple(name, getattr(self, name))
            if name.startswith("tags"):
                values = tuple(v.lower() for v in values)
            object.__setattr__(self, name, values)
        object.__setattr__(self, "since", _when("since", self.since, end_of_day=False))
        object.__setattr__(self, "until", _when("until", self.until, end_of_day=True))
        if self.media is not None and self.media not in MEDIA:
            raise SearchError(f"'media' must be one of {', '.join(MEDIA)}, got {self.media!r}")
        if self.sort not in SORTS:
            raise SearchError(f"'sort' must be one of {', '.join(SORTS)}, got {self.sort!r}")
        if self.order not in ORDERS:
            raise SearchError(f"'order' must be desc or asc, got {self.order!r}")
        if self.sort == "relevance" and not self.text:
            raise SearchError("sort 'relevance' needs 'text' to rank by; use sort 'date' or 'stars' without text")
        if self.ai is not None and not isinstance(self.ai, bool):
            raise SearchError(f"'ai' must be true or false, got {self.ai!r}")
        for name in ("model", "lora", "content_id", "cursor"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str):
                raise SearchError(f"'{name}' must be a string, got {v!r}")
        self._ints()
        self._ranges()

    def _ints(self) -> None:
        bounds = {"seed": (0, 10**20 - 1), "child_of": (1, 2**63 - 1), "parent_of": (1, 2**63 - 1),
                  "stars_min": (0, 5), "stars_max": (0, 5), "limit": (1, MAX_LIMIT),
                  "width_min": (0, 2**31 - 1), "width_max": (0, 2**31 - 1),
                  "height_min": (0, 2**31 - 1), "height_max": (0, 2**31 - 1)}
        for name, (lo, hi) in bounds.items():
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                raise SearchError(f"'{name}' must be a whole number, got {v!r}")
            if not lo <= v <= hi:
                raise SearchError(f"'{name}' must be between {lo} and {hi}, got {v}")
        for name in ("aspect_min", "aspect_max"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not math.isfinite(v) or v <= 0):
                raise SearchError(f"'{name}' must be a positive number (width / height, e.g. 1.5), got {v!r}")

    def _ranges(self) -> None:
        for lo, hi in (("stars_min", "stars_max"), ("width_min", "width_max"), ("height_min", "height_max"),
                       ("aspect_min", "aspect_max"), ("since", "until")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and a > b:
                raise SearchError(f"'{lo}' ({a}) is above '{hi}' ({b}): nothing can match")

    @property
    def filters_records(self) -> bool:
        """Whether a filter is on what a file's record says (file_records), not on the asset."""
        return bool(self.tool) or self.model is not None or self.seed is not None or self.lora is not None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SearchQuery:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise SearchError(f"unknown search field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**params)


@dataclass
class SearchPage:
    items: list[dict[str, Any]]
    total: int | None
    total_exact: bool
    next_cursor: str | None
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"items": self.items, "total": self.total, "total_exact": self.total_exact,
                "next_cursor": self.next_cursor, **self.extra}


# -- SQL -------------------------------------------------------------------------------

def _regconfig(name: str) -> Any:
    return text(f"'{name}'::regconfig")


def tsquery_of(q: SearchQuery) -> Any:
    """The text condition's tsquery: english (stemmed) OR simple (exact tokens).

    When both parse alike ("cat" is "cat" either way) only one is used: the
    index would otherwise be searched twice for the same words. The planner
    folds this CASE to a constant, since both functions are immutable.
    """
    english = func.websearch_to_tsquery(_regconfig("english"), q.text)
    simple = func.websearch_to_tsquery(_regconfig("simple"), q.text)
    return case((cast(english, Text) == cast(simple, Text), english), else_=english.op("||")(simple))


def conditions(s: Session, q: SearchQuery) -> list[Any]:
    """The WHERE clauses for every filter in q (tag names are resolved to ids first)."""
    # Only media are assets worth finding; a catalog from before this rule may still hold
    # notes and archives recorded as "other".
    where: list[Any] = [Asset.media.in_(SEARCHABLE_MEDIA)]
    if q.text:
        where.append(Asset.search.op("@@")(tsquery_of(q)))
    if q.filters_records:
        where.append(exists(file_record_match(q)))
    if q.project:
        # Resolved first, so the planner sees the ids and estimates how many rows each holds.
        ids = list(s.execute(select(Project.id).where(Project.name.in_(q.project))).scalars())
        # Also the assets that joined these projects besides their own (asset_projects):
        # usually none or few, resolved first so the common case keeps its index plan.
        extra = list(s.execute(select(AssetProject.asset_id).where(AssetProject.project_id.in_(ids))
                               .limit(MAX_EXTRA_MEMBERS + 1)).scalars()) if ids else []
        if len(extra) > MAX_EXTRA_MEMBERS:
            members = select(AssetProject.asset_id).where(AssetProject.project_id.in_(ids))
            where.append(or_(Asset.project_id.in_(ids), Asset.id.in_(members)))
        elif extra:
            where.append(or_(Asset.project_id.in_(ids), Asset.id.in_(extra)))
        else:
            where.append(Asset.project_id.in_(ids) if ids else false())
    if q.ai is not None:
        where.append(Asset.ai.is_(q.ai))
    if q.media:
        where.append(Asset.media == q.media)
    if q.content_id:
        where.append(Asset.content_id == q.content_id)
    if q.child_of is not None:
        where.append(exists(select(AssetParent.child_id).where(AssetParent.child_id == Asset.id,
                                                               AssetParent.parent_id == q.child_of)))
    if q.parent_of is not None:
        where.append(exists(select(AssetParent.parent_id).where(AssetParent.parent_id == Asset.id,
                                                                AssetParent.child_id == q.parent_of)))
    if q.stars_min is not None:
        where.append(Asset.rating >= q.stars_min)
    if q.stars_max is not None:
        where.append(Asset.rating <= q.stars_max)
    if q.since is not None:
        where.append(Asset.created_at >= q.since)
    if q.until is not None:
        where.append(Asset.created_at < q.until)
    for col, lo, hi in ((Asset.width, q.width_min, q.width_max), (Asset.height, q.height_min, q.height_max)):
        if lo is not None:
            where.append(col >= lo)
        if hi is not None:
            where.append(col <= hi)
    if q.aspect_min is not None or q.aspect_max is not None:
        aspect = cast(Asset.width, Float) / func.nullif(Asset.height, 0)
        if q.aspect_min is not None:
            where.append(aspect >= q.aspect_min)
        if q.aspect_max is not None:
            where.append(aspect <= q.aspect_max)
    where.extend(_tag_conditions(s, q))
    return where


def file_record_match(q: SearchQuery, asset_id: Any = Asset.id) -> Any:
    """Records of the asset matching tool, model, seed and LoRA, all in the same file's record.

    Every asset recorded from a reading has a record for each of its files, its
    first file's among them (the migration gave existing assets theirs), so
    `tool` also matches the asset's primary tool. A small tool or model is found
    through its (x, asset_id) index; a common one by probing the primary key
    of assets met in date order.
    """
    r = select(FileRecord.asset_id).where(FileRecord.asset_id == asset_id)
    if q.tool:
        r = r.where(FileRecord.tool.in_(q.tool))
    if q.model is not None:
        r = r.where(FileRecord.model == q.model)
    if q.seed is not None:
        r = r.where(FileRecord.seed == q.seed)
    if q.lora is not None:
        r = r.where(FileRecord.loras.contains([q.lora]))
    return r


def _tag_conditions(s: Session, q: SearchQuery) -> list[Any]:
    names = set(q.tags_all) | set(q.tags_any) | set(q.tags_none)
    if not names:
        return []
    ids = dict(s.execute(select(Tag.name, Tag.id).where(Tag.name.in_(names))).all())

    def has(tag_ids: list[int]) -> Any:
        return exists(select(AssetTag.asset_id).where(AssetTag.asset_id == Asset.id, AssetTag.tag_id.in_(tag_ids)))

    where: list[Any] = []
    for name in q.tags_all:
        where.append(has([ids[name]]) if name in ids else false())   # an unknown tag: nothing has it
    if q.tags_any:
        known = [ids[n] for n in q.tags_any if n in ids]
        where.append(has(known) if known else false())
    unwanted = [ids[n] for n in q.tags_none if n in ids]
    if unwanted:
        where.append(~has(unwanted))
    return where


def _sort_key(q: SearchQuery) -> list[Any]:
    if q.sort == "relevance":
        # Weights for D, C, B, A (negative prompt, file name, tag, prompt).
        rank = func.ts_rank_cd(text("'{0.1, 0.3, 0.6, 1.0}'::float4[]"), Asset.search, tsquery_of(q))
        return [rank, Asset.id]
    if q.sort == "stars":
        return [Asset.rating, Asset.created_at, Asset.id]
    return [Asset.created_at, Asset.id]


def encode_cursor(q: SearchQuery, values: list[Any]) -> str:
    raw = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    data = json.dumps({"s": q.sort, "o": q.order, "k": raw}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def decode_cursor(q: SearchQuery, cursor: str) -> list[Any]:
    bad = SearchError("'cursor' is not one this search returned; start again without a cursor")
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        keys = data["k"]
        if data["s"] != q.sort or data["o"] != q.order:
            raise SearchError("'cursor' belongs to a search with another sort or order; "
                              "keep sort and order the same while paging")
        if not isinstance(keys, list) or len(keys) != len(_sort_key(q)):
            raise bad
        if q.sort == "date":
            return [datetime.fromisoformat(keys[0]), int(keys[1])]
        if q.sort == "stars":
            return [int(keys[0]), datetime.fromisoformat(keys[1]), int(keys[2])]
        return [float(keys[0]), int(keys[1])]
    except SearchError:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise bad from None


def search(s: Session, q: SearchQuery) -> SearchPage:
    """One page of assets matching q, with the cursor of the next page and the total."""
    # Parallel workers take longer to start (~15 ms on a busy 2-core machine) than these
    # index walks take to finish; they only help the full scans search avoids.
    s.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    where = conditions(s, q)
    page = page_statement(q, where)
    rows = s.execute(page).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(q, [*last[1:], last[0]])
    items = describe(s, [r[0] for r in rows], q)
    extra: dict[str, Any] = {}
    if q.sort == "relevance":
        for item, row in zip(items, rows, strict=False):
            item["rank"] = round(float(row[1]), 6)
        if not q.count:
            matches = select(Asset.id).where(*where).limit(RANK_CANDIDATES + 1).subquery()
            extra["relevance_sampled"] = s.execute(select(func.count()).select_from(matches)).scalar_one() \
                > RANK_CANDIDATES
    total, exact = count(s, where) if q.count else (None, False)     # last: it may set a statement timeout
    if q.sort == "relevance" and total is not None:
        extra["relevance_sampled"] = total > RANK_CANDIDATES
    return SearchPage(items=items, total=total, total_exact=exact, next_cursor=next_cursor, extra=extra)


def page_statement(q: SearchQuery, where: list[Any]) -> Any:
    """The SELECT of one page: (id, sort key...) rows, one more than the limit to see if more follow."""
    desc = q.order == "desc"
    if q.sort == "relevance":
        # Ranking needs every match's vector from the heap (~3 us a row): a common word
        # matching 30,000 assets would cost 100 ms. So at most RANK_CANDIDATES matches,
        # in the order the index yields them, are ranked; `relevance_sampled` says when
        # more matched. Sorting by date is always complete.
        candidates = select(Asset.id, Asset.search).where(*where).limit(RANK_CANDIDATES).subquery()
        rank = func.ts_rank_cd(text("'{0.1, 0.3, 0.6, 1.0}'::float4[]"), candidates.c.search, tsquery_of(q))
        key = [rank, candidates.c.id]
        page = select(candidates.c.id, rank)
    else:
        key = _sort_key(q)
        page = select(Asset.id, *key[:-1]).where(*where)
    if q.cursor:
        after = decode_cursor(q, q.cursor)
        page = page.where(tuple_(*key).op("<" if desc else ">")(tuple_(*[literal(v) for v in after])))
    return page.order_by(*[k.desc() if desc else k.asc() for k in key]).limit(q.limit + 1)


def estimate(s: Session, where: list[Any]) -> int:
    """The planner's row estimate for the filters (under a millisecond; within a factor of ~2 here)."""
    plan = s.execute(Explain(select(Asset.id).where(*where))).scalar_one()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count(s: Session, where: list[Any]) -> tuple[int, bool]:
    """(total, exact). Exact when the planner expects at most COUNT_CAP matches and counting
    them takes under COUNT_BUDGET_MS; otherwise the planner's estimate.

    The budget is a statement timeout that stays set for the rest of the
    transaction, so this is the last statement a search runs.
    """
    guess = estimate(s, where)
    if guess > COUNT_CAP:
        return guess, False
    capped = select(Asset.id).where(*where).limit(COUNT_CAP + 1).subquery()
    try:
        with s.begin_nested():
            s.execute(text(f"SET LOCAL statement_timeout = {COUNT_BUDGET_MS}"))
            n = s.execute(select(func.count()).select_from(capped)).scalar_one()
    except OperationalError as exc:
        if not isinstance(exc.orig, psycopg.errors.QueryCanceled):
            raise
        return max(guess, 1), False
    if n > COUNT_CAP:
        return max(guess, n), False
    return n, True


class Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) of a statement, with its parameters bound as the statement's own."""

    inherit_cache = False

    def __init__(self, stmt: Any) -> None:
        self.stmt = stmt


@compiles(Explain, "postgresql")
def _explain(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.stmt, **kw)


def describe(s: Session, asset_ids: list[int], q: SearchQuery | None = None) -> list[dict[str, Any]]:
    """Result rows for asset ids, in the given order: what a person or an assistant needs to pick one.

    The path, tool, prompt, model and seed of a row are one file's: the filed copy shown and that
    file's own record (file_records), so a row never pairs one file's path with another's prompt.
    When `q` filters on records (tool, model, seed, LoRA), the copy shown is one whose record matched.
    """
    if not asset_ids:
        return []
    shown = store.filed_copies(Asset.id).with_only_columns(Location.path, Location.file_hash)
    if q is not None and q.filters_records:
        matched = exists(file_record_match(q, Location.asset_id).where(FileRecord.file_hash == Location.file_hash))
        shown = shown.order_by(None).order_by(matched.desc(), (Location.role == "organized").desc(),
                                              Location.id.desc())
    copy = shown.limit(1).lateral("shown")
    tags = (select(func.coalesce(func.array_agg(func.distinct(Tag.name)), text("'{}'::text[]")))
            .select_from(AssetTag).join(Tag, Tag.id == AssetTag.tag_id)
            .where(AssetTag.asset_id == Asset.id).scalar_subquery())
    stmt = (select(Asset.id, Asset.content_id, Asset.tool, Asset.ai, Asset.media, Asset.format,
                   Project.name.label("project"), Asset.width, Asset.height, Asset.created_at, Asset.rating,
                   Asset.user_stars, Generation.prompt, Generation.model, Generation.seed, copy.c.path,
                   FileRecord.file_hash.label("record"), FileRecord.tool.label("record_tool"),
                   FileRecord.ai.label("record_ai"), FileRecord.prompt.label("record_prompt"),
                   FileRecord.model.label("record_model"), FileRecord.seed.label("record_seed"),
                   tags.label("tags"))
            .join(Project, Project.id == Asset.project_id)
            .outerjoin(Generation, Generation.asset_id == Asset.id)
            .outerjoin(copy, true())
            .outerjoin(FileRecord, and_(FileRecord.asset_id == Asset.id, FileRecord.file_hash == copy.c.file_hash))
            .where(Asset.id.in_(asset_ids)))
    by_id = {}
    for r in s.execute(stmt):
        own = r.record is not None     # assets filed before file_records existed have only the asset's reading
        prompt = r.record_prompt if own else r.prompt
        by_id[r.id] = {
            "id": r.id, "content_id": r.content_id, "path": r.path, "tool": r.record_tool if own else r.tool,
            "ai": r.record_ai if own else r.ai, "media": r.media,
            "format": r.format, "project": r.project, "width": r.width, "height": r.height,
            "created_at": r.created_at.isoformat(), "stars": r.rating or None, "user_stars": r.user_stars,
            "prompt": prompt if prompt is None or len(prompt) <= PROMPT_PREVIEW else prompt[:PROMPT_PREVIEW] + "…",
            "model": r.record_model if own else r.model, "seed": r.record_seed if own else r.seed,
            "tags": sorted(r.tags or []),
        }
    return [by_id[i] for i in asset_ids if i in by_id]
