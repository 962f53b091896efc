"""Counts for the `stats` method: assets by tool, project, day and stars."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alice.daemon.catalog.models import Asset, Project

MAX_DAYS = 366


def stats(s: Session, days: int = 30) -> dict[str, Any]:
    """Totals, and per-day counts for the last `days` days (UTC days)."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be 1..{MAX_DAYS}, got {days!r}")

    def grouped(column: Any, *join: Any) -> dict[str, int]:
        q = select(column, func.count()).select_from(Asset)
        if join:
            q = q.join(*join)
        return {("unknown" if k is None else str(k)): n for k, n in s.execute(q.group_by(column))}

    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    day = func.date_trunc("day", Asset.created_at, "UTC")
    by_day = {d.date().isoformat(): n for d, n in s.execute(
        select(day, func.count()).where(Asset.created_at >= since).group_by(day).order_by(day))}
    by_stars = grouped(Asset.rating)
    return {
        "assets": s.execute(select(func.count()).select_from(Asset)).scalar_one(),
        "by_tool": grouped(Asset.tool),
        "by_project": grouped(Project.name, Project, Project.id == Asset.project_id),
        "by_media": grouped(Asset.media),
        "by_stars": {("unrated" if k == "0" else k): v for k, v in sorted(by_stars.items())},
        "by_day": by_day,
        "days": days,
    }
