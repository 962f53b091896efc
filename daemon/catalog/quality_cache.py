"""Catalog rows for paid quality answers, one per (content, stage kind, provider, model).

Like store.py, every function takes an open Session so the caller decides
what commits together (the answer, and the request row that says what it cost).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from alice.daemon.catalog.models import QualityCache
from alice.daemon.catalog.store import clean_json


@dataclass(frozen=True)
class CachedAnswer:
    result: dict[str, Any]
    cost_usd: Decimal | None


def lookup(s: Session, content_id: str, stage: str, provider: str, model: str) -> CachedAnswer | None:
    row = s.execute(select(QualityCache.result, QualityCache.cost_usd).where(
        QualityCache.content_id == content_id, QualityCache.stage == stage,
        QualityCache.provider == provider, QualityCache.model == model)).first()
    return None if row is None else CachedAnswer(dict(row[0]), row[1])


def store_answer(s: Session, content_id: str, stage: str, provider: str, model: str,
                 result: dict[str, Any], cost_usd: Decimal | None) -> bool:
    """Keep an answer; False if one was there already (two processes bought the same one)."""
    inserted = s.execute(insert(QualityCache).values(
        content_id=content_id, stage=stage, provider=provider, model=model,
        result=clean_json(result), cost_usd=cost_usd,
    ).on_conflict_do_nothing().returning(QualityCache.content_id)).first()
    return inserted is not None
