"""What a person (or their assistant) changes about assets: tags, stars, projects.

Writes take an open Session, like store.py, so the caller commits them
together with the event that reports them and with the file move, if any.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alice.daemon import errors
from alice.daemon.catalog import asset_ref, store
from alice.daemon.catalog.models import Asset, AssetTag, Project, Tag

MAX_TAG = 100
MAX_PROJECT_NAME = 100


class CurationError(errors.InvalidRequest):
    """A change that cannot be made as asked; the message says what to send instead."""


class Conflict(CurationError, errors.Conflict):
    """The change contradicts what is there (a project name already taken)."""
    exit_code = errors.Conflict.exit_code
    rpc_code = errors.Conflict.rpc_code


class NotFound(errors.NotFound):
    """No asset or project by that id or name."""


def resolve_asset(s: Session, ref: int | str) -> int:
    """An asset id from an id or a content id ("b3:..."), never a path (socket callers
    name files through the path guard); AssetNotFound names which one was missing."""
    return asset_ref.find_asset(s, ref, paths=False)


def normalize_tags(tags: list[str]) -> list[str]:
    names = sorted({t.strip().lower() for t in tags if isinstance(t, str) and t.strip()})
    for n in names:
        if len(n) > MAX_TAG or "\x00" in n:
            raise CurationError(f"tag {n[:40]!r}... is longer than {MAX_TAG} characters" if len(n) > MAX_TAG
                                else "a tag cannot contain a NUL character")
    return names


def tag(s: Session, asset_id: int, tags: list[str], source: str = "user") -> list[str]:
    """Add tags; return the asset's tags after. The search vector follows (store.add_tags)."""
    store.add_tags(s, asset_id, normalize_tags(tags), source)
    return tags_of(s, asset_id)


def untag(s: Session, asset_id: int, tags: list[str]) -> list[str]:
    """Remove tags (absent ones are ignored); return the asset's tags after."""
    names = normalize_tags(tags)
    if names:
        ids = select(Tag.id).where(Tag.name.in_(names))
        s.execute(delete(AssetTag).where(AssetTag.asset_id == asset_id, AssetTag.tag_id.in_(ids)))
        store.refresh_search(s, asset_id)
    return tags_of(s, asset_id)


def tags_of(s: Session, asset_id: int) -> list[str]:
    return list(s.execute(select(Tag.name).join(AssetTag, AssetTag.tag_id == Tag.id)
                          .where(AssetTag.asset_id == asset_id).order_by(Tag.name)).scalars())


def set_user_stars(s: Session, asset_id: int, stars: int | None) -> None:
    """A person's rating (1..5), which wins over the computed one; None clears it."""
    if stars is not None and (isinstance(stars, bool) or stars not in (1, 2, 3, 4, 5)):
        raise CurationError(f"stars must be 1 to 5 (or null to clear), got {stars!r}")
    s.execute(update(Asset).where(Asset.id == asset_id).values(user_stars=stars))


def set_project(s: Session, asset_id: int, project: str) -> int:
    """Put the asset in `project` (created if new); return the project id."""
    pid = store.project_id(s, check_project_name(project))
    s.execute(update(Asset).where(Asset.id == asset_id).values(project_id=pid))
    return pid


def check_project_name(name: str) -> str:
    from alice.pipeline.plan import sanitize_segment

    if not isinstance(name, str) or not name.strip():
        raise CurationError("a project name must be non-empty text")
    if len(name) > MAX_PROJECT_NAME:
        raise CurationError(f"a project name can be at most {MAX_PROJECT_NAME} characters")
    clean = sanitize_segment(name.strip())
    if clean != name.strip():
        raise CurationError(f"{name!r} cannot be a folder name as is; use {clean!r}")
    return clean


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    assets: int
    budget: float | None
    created_at: str
    settings: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def _project_rows(s: Session, where: Any = None) -> list[ProjectInfo]:
    counts = (select(Asset.project_id, func.count().label("n")).group_by(Asset.project_id).subquery())
    q = (select(Project, func.coalesce(counts.c.n, 0))
         .outerjoin(counts, counts.c.project_id == Project.id).order_by(Project.name))
    if where is not None:
        q = q.where(where)
    return [ProjectInfo(id=p.id, name=p.name, assets=n, budget=float(p.budget) if p.budget is not None else None,
                        created_at=p.created_at.isoformat(), settings=p.settings or {})
            for p, n in s.execute(q)]


def list_projects(s: Session) -> list[ProjectInfo]:
    return _project_rows(s)


def get_project(s: Session, ref: int | str) -> ProjectInfo:
    rows = _project_rows(s, Project.id == ref if isinstance(ref, int) else Project.name == ref)
    if not rows:
        raise NotFound(f"no project {ref!r}; projects.list shows the ones there are")
    return rows[0]


def create_project(s: Session, name: str, budget: float | None = None) -> ProjectInfo:
    """A new, empty project; CurationError if the name is taken."""
    name = check_project_name(name)
    if budget is not None and (budget < 0 or budget > 1e8):
        raise CurationError("budget must be between 0 and 100,000,000 (USD)")
    created = s.execute(insert(Project).values(name=name, budget=budget)
                        .on_conflict_do_nothing(index_elements=[Project.name]).returning(Project.id)
                        ).scalar_one_or_none()
    if created is None:
        raise Conflict(f"a project named {name!r} exists already; projects.get shows it")
    return get_project(s, created)
