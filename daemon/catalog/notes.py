"""A project's memory: its brief, style notes and dated decisions, and the one-call context an assistant reads.

Notes are only added: a new brief supersedes the last (the newest one is the
brief), so what was decided when stays readable. Writes take an open Session
like curation.py, so the event that reports them commits with them.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alice.daemon.catalog import curation, store
from alice.daemon.catalog.models import NOTE_KINDS, Asset, AssetTag, Event, Project, ProjectNote, Tag

MAX_NOTE = 4000
AUTHORS = ("user", "assistant")
MAX_NOTES = 50            # per kind in a context: an assistant reads it at the start of each conversation
TOP_TAGS = 10
RECENT_DAYS = 7


def _note_json(n: ProjectNote) -> dict[str, Any]:
    return {"id": n.id, "kind": n.kind, "text": n.text, "author": n.author, "at": n.created_at.isoformat()}


def add_note(s: Session, project: str, kind: str, text: str, author: str = "user") -> dict[str, Any]:
    """Record a note on `project` (created if new); CurationError says what was wrong with it."""
    if kind not in NOTE_KINDS:
        raise curation.CurationError(f"a note's kind is one of {', '.join(NOTE_KINDS)}, not {kind!r}")
    if author not in AUTHORS:
        raise curation.CurationError(f"a note's author is one of {', '.join(AUTHORS)}, not {author!r}")
    body = text.strip() if isinstance(text, str) else ""
    if not body or "\x00" in body:
        raise curation.CurationError("a note needs some text (and no NUL characters)")
    if len(body) > MAX_NOTE:
        raise curation.CurationError(f"a note can be at most {MAX_NOTE} characters; split it or shorten it")
    pid = store.project_id(s, curation.check_project_name(project))
    note = ProjectNote(project_id=pid, kind=kind, text=body, author=author)
    s.add(note)
    s.flush()
    s.refresh(note)
    out = {"project": curation.get_project(s, pid).name, **_note_json(note)}
    store.append_event(s, "project_noted", None, None,
                       {"project": out["project"], "kind": kind, "note_id": out["id"], "author": author})
    return out


def context(s: Session, project: int | str, now: datetime | None = None) -> dict[str, Any]:
    """Brief, style notes and decisions (newest first), with counts: assets, top tags, recent activity."""
    info = curation.get_project(s, project)
    notes = {kind: [_note_json(n) for n in s.execute(
        select(ProjectNote).where(ProjectNote.project_id == info.id, ProjectNote.kind == kind)
        .order_by(ProjectNote.created_at.desc(), ProjectNote.id.desc()).limit(MAX_NOTES)).scalars()]
        for kind in NOTE_KINDS}
    briefs = notes["brief"]
    tags = s.execute(select(Tag.name, func.count().label("n")).join(AssetTag, AssetTag.tag_id == Tag.id)
                     .join(Asset, Asset.id == AssetTag.asset_id).where(Asset.project_id == info.id)
                     .group_by(Tag.name).order_by(func.count().desc(), Tag.name).limit(TOP_TAGS)).all()
    since = (now or datetime.now(UTC)) - timedelta(days=RECENT_DAYS)
    in_project = Asset.project_id == info.id
    recent_assets = s.execute(select(func.count()).where(in_project, Asset.discovered_at >= since)).scalar_one()
    rated = s.execute(select(func.count()).where(in_project, Asset.rating >= 4)).scalar_one()
    last_asset = s.execute(select(func.max(Asset.discovered_at)).where(in_project)).scalar_one()
    last_event = s.execute(select(func.max(Event.at)).join(Asset, Asset.id == Event.asset_id)
                           .where(in_project)).scalar_one()
    last_activity = max((x for x in (last_asset, last_event) if x is not None), default=None)
    return {
        "project": info.name,
        "project_id": info.id,
        "brief": briefs[0] if briefs else None,
        "earlier_briefs": len(briefs) - 1 if briefs else 0,
        "style": notes["style"],
        "decisions": notes["decision"],
        "counts": {
            "assets": info.assets,
            "four_stars_or_more": rated,
            "top_tags": [{"tag": t, "assets": n} for t, n in tags],
            f"new_last_{RECENT_DAYS}_days": recent_assets,
            "last_asset_at": last_asset.isoformat() if last_asset else None,
            "last_activity_at": last_activity.isoformat() if last_activity else None,
        },
    }


def context_text(ctx: dict[str, Any]) -> str:
    """The context as a short text an assistant (or a person) reads."""
    lines = [f"# Project {ctx['project']}"]
    brief = ctx["brief"]
    lines.append(f"\nBrief ({brief['at'][:10]}, {brief['author']}): {brief['text']}" if brief else "\nNo brief yet.")
    if ctx["style"]:
        lines.append("\nStyle notes:")
        lines += [f"- {n['text']}  ({n['at'][:10]}, {n['author']})" for n in ctx["style"]]
    if ctx["decisions"]:
        lines.append("\nDecisions (newest first):")
        lines += [f"- {n['at'][:10]}: {n['text']}  ({n['author']})" for n in ctx["decisions"]]
    c = ctx["counts"]
    tags = ", ".join(f"{t['tag']} ({t['assets']})" for t in c["top_tags"]) or "none"
    lines.append(f"\n{c['assets']} assets, {c['four_stars_or_more']} rated 4+ stars, "
                 f"{c[f'new_last_{RECENT_DAYS}_days']} new in the last {RECENT_DAYS} days; "
                 f"last activity {c['last_activity_at'] or 'never'}. Top tags: {tags}.")
    return "\n".join(lines)


def project_names(s: Session) -> list[str]:
    return list(s.execute(select(Project.name).order_by(Project.name)).scalars())
