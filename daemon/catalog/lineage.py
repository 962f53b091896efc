"""Lineage edges: which assets an asset was made from (asset_parents), and the tree around one.

Edges are recorded when a file is filed whose own record names its parents
(pipeline/lineage.py): a recreate or vary's original, a request's references,
a graph's or img2img's input images. A parent is linked only when its content
is in the catalog when the child is filed (it always is for a re-run, which
starts from a filed file); the sidecar and the file's record keep every
parent they name either way.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alice.daemon.catalog.models import LINEAGE_KINDS, Asset, AssetParent, Generation, Location, Project

MAX_DEPTH = 20          # generations walked up or down
MAX_NODES = 500         # assets one tree shows


class LineageError(ValueError):
    """A lineage request that cannot be answered as asked."""


def record_parents(s: Session, child_id: int, parents: Iterable[dict[str, str]]) -> int:
    """Link `child_id` to each parent whose content is in the catalog; returns the edges added."""
    wanted = [(p["content_id"], p["kind"]) for p in parents if p.get("kind") in LINEAGE_KINDS]
    if not wanted:
        return 0
    ids = dict(s.execute(select(Asset.content_id, Asset.id)
                         .where(Asset.content_id.in_({cid for cid, _ in wanted}))).all())
    rows = [{"child_id": child_id, "parent_id": ids[cid], "kind": kind}
            for cid, kind in wanted if cid in ids and ids[cid] != child_id]
    if not rows:
        return 0
    result = s.execute(insert(AssetParent).values(rows).on_conflict_do_nothing()
                       .returning(AssetParent.parent_id))
    return len(result.all())


def parents(s: Session, asset_id: int) -> list[tuple[int, str]]:
    return [(r.parent_id, r.kind) for r in s.execute(
        select(AssetParent).where(AssetParent.child_id == asset_id).order_by(AssetParent.parent_id))
        .scalars()]


def children(s: Session, asset_id: int) -> list[tuple[int, str]]:
    return [(r.child_id, r.kind) for r in s.execute(
        select(AssetParent).where(AssetParent.parent_id == asset_id).order_by(AssetParent.child_id))
        .scalars()]


def tree(s: Session, asset_id: int, depth: int = MAX_DEPTH) -> dict[str, Any]:
    """{"asset": node, "parents": [node + "kind" + "parents"...], "children": [node + "kind" + "children"...]}:
    ancestors walked up and descendants down, each asset shown once (a diamond is cut, `seen` marks it)."""
    if not 1 <= depth <= MAX_DEPTH:
        raise LineageError(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")
    root = _nodes(s, [asset_id]).get(asset_id)
    if root is None:
        raise LookupError(f"no asset {asset_id} in the catalog")
    budget = [MAX_NODES]
    seen_up: set[int] = {asset_id}
    seen_down: set[int] = {asset_id}
    return {"asset": root,
            "parents": _walk(s, asset_id, parents, "parents", depth, seen_up, budget),
            "children": _walk(s, asset_id, children, "children", depth, seen_down, budget),
            "truncated": budget[0] <= 0}


def _walk(s: Session, asset_id: int, step: Any, key: str, depth: int, seen: set[int],
          budget: list[int]) -> list[dict[str, Any]]:
    if depth <= 0 or budget[0] <= 0:
        return []
    edges = step(s, asset_id)
    info = _nodes(s, [other for other, _ in edges])
    out = []
    for other, kind in edges:
        if budget[0] <= 0 or other not in info:
            break
        budget[0] -= 1
        node = {**info[other], "kind": kind}
        if other in seen:
            node["seen"] = True           # already shown above: a diamond, not a new branch
            node[key] = []
        else:
            seen.add(other)
            node[key] = _walk(s, other, step, key, depth - 1, seen, budget)
        out.append(node)
    return out


def _nodes(s: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    filed = (select(Location.path).where(Location.asset_id == Asset.id, Location.role == "organized",
                                         Location.present.is_(True))
             .order_by(Location.id.desc()).limit(1).scalar_subquery())
    rows = s.execute(select(Asset.id, Asset.content_id, Asset.tool, Asset.media, Project.name, Generation.prompt,
                            Generation.seed, filed)
                     .join(Project, Project.id == Asset.project_id)
                     .outerjoin(Generation, Generation.asset_id == Asset.id)
                     .where(Asset.id.in_(ids))).all()
    return {r[0]: {"id": r[0], "content_id": r[1], "tool": r[2], "media": r[3], "project": r[4],
                   "prompt": (r[5] or "")[:200] or None, "seed": r[6], "path": r[7]} for r in rows}
