"""The catalog's tables as typed SQLAlchemy models.

The migrations in `migrations/versions` create exactly this schema; a test
compares the two with Alembic's autogenerate so they cannot drift apart.

Columns that later features read (stars, user_stars, quality, the search
vector, projects.budget) exist from the first revision so those features
need no table rewrite on a catalog that already holds months of assets.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names, so a later migration can drop or alter them by name.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# organized / quarantine: the copy alice filed; source / quarantine-source: where it was found.
LOCATION_ROLES = ("organized", "source", "quarantine", "quarantine-source")
JOB_STATES = ("queued", "running", "done", "failed")
# A file record's search vector; capped because PostgreSQL limits a tsvector to 1 MB.
FILE_RECORD_SEARCH = ("setweight(to_tsvector('english'::regconfig, left(coalesce(prompt, ''), 100000)), 'A') || "
                      "setweight(to_tsvector('english'::regconfig, left(coalesce(negative_prompt, ''), 100000)), 'D')")


class Seed(TypeDecorator[int]):
    """A generation seed as a Python int.

    ComfyUI and others draw seeds from the full unsigned 64-bit range, which
    overflows BIGINT; NUMERIC(20, 0) holds every such value exactly.
    """

    impl = Numeric(20, 0)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(int(value))

    def process_result_value(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """A model's Table, for Core statements executed with many rows: the ORM's bulk insert
    would split the rows into one statement per set of non-None values."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    budget: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))     # provider spend cap, in USD
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = _now()
    # Set when spending reached the budget; generation requests are refused until the budget is raised.
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Asset(Base):
    """One row per unique content (content_id), however many copies exist."""

    __tablename__ = "assets"
    __table_args__ = (
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
        CheckConstraint("user_stars BETWEEN 1 AND 5", name="user_stars_range"),
        Index("ix_assets_search", "search", postgresql_using="gin"),
        Index("ix_assets_created_at_id", "created_at", "id"),
        # Search (daemon/catalog/search.py): "filter by x, newest first" with keyset paging, no sort step.
        Index("ix_assets_rating_created_at_id", "rating", "created_at", "id"),
        Index("ix_assets_tool_created_at_id", "tool", "created_at", "id"),
        Index("ix_assets_project_id_created_at_id", "project_id", "created_at", "id"),
        Index("ix_assets_phash_bands", "phash_bands", postgresql_using="gin"),
        Index("ix_assets_pixels_pending", "id", postgresql_where=text("pixels_pending")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    content_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    file_hash: Mapped[str] = mapped_column(Text, nullable=False)          # of the first copy recorded
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    format: Mapped[str] = mapped_column(Text, nullable=False)
    media: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    tool: Mapped[str | None] = mapped_column(Text, index=True)
    ai: Mapped[bool] = mapped_column(Boolean, nullable=False)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), nullable=False, index=True)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)  # generation date
    discovered_at: Mapped[datetime] = _now()
    organized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stars: Mapped[int | None] = mapped_column(SmallInteger, index=True)    # computed rating
    user_stars: Mapped[int | None] = mapped_column(SmallInteger)            # a person's rating wins over stars
    quality_score: Mapped[float | None] = mapped_column(Double)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    evidence: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    warnings: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    # Prompts, tags and file names in one vector, rebuilt by store.refresh_search
    # whenever one of them changes; they live in three tables, so no generated column can.
    search: Mapped[str | None] = mapped_column(TSVECTOR)
    # What a person sees: user_stars, else stars, else 0 (unrated); generated so no writer can forget it.
    rating: Mapped[int] = mapped_column(SmallInteger, Computed("coalesce(user_stars, stars, 0)", persisted=True),
                                        nullable=False)
    # 64-bit perceptual hash (pipeline/perceptual.py) and its tagged 16-bit quarters (daemon/catalog/similar.py).
    phash: Mapped[int | None] = mapped_column(BigInteger)
    phash_bands: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    # Filed, pixels not yet decoded: the second stage's to-do list (daemon/ingest/pixel_stage.py).
    pixels_pending: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))


class Generation(Base):
    """What made an asset: the common parameters as columns, the tool's own record as JSONB."""

    __tablename__ = "generations"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    prompt: Mapped[str | None] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Seed, index=True)
    steps: Mapped[int | None] = mapped_column(Integer)
    cfg: Mapped[float | None] = mapped_column(Double)
    sampler: Mapped[str | None] = mapped_column(Text)
    scheduler: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text, index=True)
    model_hash: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    loras: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    stated_created_at: Mapped[str | None] = mapped_column(Text)            # as the file states it
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))


class FileRecord(Base):
    """What one file (one set of bytes) of an asset says made it: its own tool and generation.

    Files with the same pixels share an asset, yet each may carry another
    tool's record (an A1111 file re-saved by InvokeAI, a NovelAI export).
    `assets.tool` and `generations` hold the first file's reading (gaps filled
    from later ones); these rows keep every file's, so search finds an asset by
    any of them and assets.get says which record came from which file.
    """

    __tablename__ = "file_records"
    __table_args__ = (
        # Search (daemon/catalog/search.py) filters with EXISTS on these; the primary key serves the per-asset probe.
        Index("ix_file_records_tool_asset_id", "tool", "asset_id"),
        Index("ix_file_records_model_asset_id", "model", "asset_id"),
        Index("ix_file_records_seed_asset_id", "seed", "asset_id"),
    )

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    file_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    tool: Mapped[str | None] = mapped_column(Text)
    ai: Mapped[bool] = mapped_column(Boolean, nullable=False)
    evidence: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    prompt: Mapped[str | None] = mapped_column(Text)
    negative_prompt: Mapped[str | None] = mapped_column(Text)
    seed: Mapped[int | None] = mapped_column(Seed)
    steps: Mapped[int | None] = mapped_column(Integer)
    cfg: Mapped[float | None] = mapped_column(Double)
    sampler: Mapped[str | None] = mapped_column(Text)
    scheduler: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    model_hash: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    loras: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    stated_created_at: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # This record's part of assets.search (prompt A, negative prompt D); store.refresh_search
    # joins every record's vector into the asset's, so text search stays one GIN lookup.
    search: Mapped[str] = mapped_column(TSVECTOR, Computed(FILE_RECORD_SEARCH, persisted=True), nullable=False)
    recorded_at: Mapped[datetime] = _now()


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class AssetProject(Base):
    """The projects an asset belongs to besides its own (assets.project_id): each one whose
    folder a copy of the same content was dropped into later."""

    __tablename__ = "asset_projects"

    asset_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("assets.id", ondelete="CASCADE"),
                                          primary_key=True)
    project_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("projects.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    created_at: Mapped[datetime] = _now()


class AssetTag(Base):
    __tablename__ = "asset_tags"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True)
    source: Mapped[str] = mapped_column(Text, nullable=False, server_default="user")   # user | auto | <tool>
    created_at: Mapped[datetime] = _now()


class Location(Base):
    """Every path a content has lived at; rows are kept after the file leaves."""

    __tablename__ = "locations"
    __table_args__ = (
        CheckConstraint("role IN ('organized', 'source', 'quarantine', 'quarantine-source')", name="role_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), nullable=False, index=True)
    path: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    file_hash: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    present: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    # Of the file when recorded: a source with the same size and mtime need not be read again.
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    first_seen: Mapped[datetime] = _now()
    last_seen: Mapped[datetime] = _now()
    gone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """Append-only: a trigger in the migration rejects UPDATE, DELETE and TRUNCATE."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = _now()
    kind: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    path: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))


class Job(Base):
    """One unit of work for the durable queue (daemon/ingest/queue.py)."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name="state_known"),
        # At most one live job per path: enqueue relies on this for dedupe under races.
        Index("uq_jobs_live_path", "path", unique=True,
              postgresql_where=text("state IN ('queued', 'running')")),
        Index("ix_jobs_claimable", "state", "not_before"),
        Index("ix_jobs_lease", "lease_until", postgresql_where=text("state = 'running'")),
        Index("ix_jobs_path", "path"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    inbox: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="5")
    not_before: Mapped[datetime] = _now()
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    worker: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime: Mapped[float | None] = mapped_column(Double)
    # "device:inode" of the file when it was queued (daemon/fs/source.py checks it before reading).
    identity: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


REQUEST_STATES = ("recorded", "submitted", "running", "done", "failed", "refused")


class GenerationRequest(Base):
    """One request alice sent (or refused to send) to a generation provider.

    Written in state `recorded` before anything goes over the network, so a
    crash mid-request still leaves a row saying what was asked and what it may cost.
    """

    __tablename__ = "generation_requests"
    __table_args__ = (
        CheckConstraint("state IN ('recorded', 'submitted', 'running', 'done', 'failed', 'refused')",
                        name="state_known"),
        # Spend per project by provider and model (daemon/catalog/spend.py).
        Index("ix_generation_requests_project_id_provider_model", "project_id", "provider", "model"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), nullable=False)
    provider: Mapped[str] = mapped_column(Text, nullable=False)
    model: Mapped[str] = mapped_column(Text, nullable=False)
    prompt: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    # Content ids of the input files ("references" is an SQL keyword, hence the name).
    reference_ids: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    state: Mapped[str] = mapped_column(Text, nullable=False, server_default="recorded")
    provider_request_id: Mapped[str | None] = mapped_column(Text)
    job: Mapped[dict[str, Any] | None] = mapped_column(JSONB)          # enough to poll it again (results.Job)
    estimate_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    recreated_from: Mapped[int | None] = mapped_column(ForeignKey("generation_requests.id"))
    # Renewed by the process finishing the request; once it lapses another process may take over.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Fields a re-run adds to the record stamped into the outputs (rerun, parents).
    record_extra: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False,
                                                         server_default=text("'{}'::jsonb"))


class RequestOutput(Base):
    """A file a request produced, delivered into the inbox; the asset is the one with this content_id."""

    __tablename__ = "request_outputs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("generation_requests.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    content_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    path: Mapped[str] = mapped_column(Text, nullable=False)            # where it was delivered
    file_hash: Mapped[str] = mapped_column(Text, nullable=False)       # of the delivered file (record included)
    embedded: Mapped[bool] = mapped_column(Boolean, nullable=False)    # does the file carry the record itself
    created_at: Mapped[datetime] = _now()


LINEAGE_KINDS = ("recreated_from", "varied_from", "reference", "graph_input")


class AssetParent(Base):
    """An edge of the lineage: `child` was made from `parent` (daemon/catalog/lineage.py)."""

    __tablename__ = "asset_parents"
    __table_args__ = (
        CheckConstraint("kind IN ('recreated_from', 'varied_from', 'reference', 'graph_input')", name="kind_known"),
        CheckConstraint("child_id <> parent_id", name="not_self"),
    )

    child_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = _now()


class QualityCache(Base):
    """A paid quality stage's answer for one content (daemon/quality/assess.py): never bought twice."""

    __tablename__ = "quality_cache"

    content_id: Mapped[str] = mapped_column(Text, primary_key=True)
    stage: Mapped[str] = mapped_column(Text, primary_key=True)       # stage kind: vision | aesthetic
    provider: Mapped[str] = mapped_column(Text, primary_key=True)
    model: Mapped[str] = mapped_column(Text, primary_key=True)
    result: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    cost_usd: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))   # what the answer cost when bought
    created_at: Mapped[datetime] = _now()


NOTE_KINDS = ("brief", "style", "decision")


class ProjectNote(Base):
    """A project's memory for assistants: its brief, style notes and dated decisions (daemon/catalog/notes.py).

    Append-only in use: a new brief supersedes the old one (the newest is the brief), so what was
    decided when stays readable.
    """

    __tablename__ = "project_notes"
    __table_args__ = (
        CheckConstraint("kind IN ('brief', 'style', 'decision')", name="kind_known"),
        Index("ix_project_notes_project_id_kind_created_at", "project_id", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    author: Mapped[str] = mapped_column(Text, nullable=False, server_default="user")   # user | assistant
    created_at: Mapped[datetime] = _now()


class Board(Base):
    """A named, ordered set of assets (daemon/catalog/boards.py)."""

    __tablename__ = "boards"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class BoardItem(Base):
    __tablename__ = "board_items"

    board_id: Mapped[int] = mapped_column(ForeignKey("boards.id", ondelete="CASCADE"), primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True, index=True)
    # Gaps are fine: order is by position, and a new item goes after the last.
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    added_at: Mapped[datetime] = _now()
