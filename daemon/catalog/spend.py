"""What each project may spend on providers, has spent, and has in flight.

Spent is the recorded cost of requests that finished; reserved is the
estimate of requests recorded or running, so two requests admitted at the
same moment cannot both use the last of a budget. `lock_project` takes the
project row FOR UPDATE: admitting a request and recording it happen under
that lock, in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from alice.daemon.catalog import store
from alice.daemon.catalog.models import GenerationRequest, Project
from alice.daemon.catalog.requests import IN_FLIGHT
from alice.daemon.catalog.store import append_event
from alice.daemon.catalog.store import project_id as ensure_project

_ZERO = Decimal("0")


@dataclass(frozen=True)
class ProjectSpend:
    id: int
    name: str
    budget: Decimal | None          # None: no cap
    spent: Decimal
    reserved: Decimal
    paused_at: datetime | None

    @property
    def remaining(self) -> Decimal | None:
        return None if self.budget is None else self.budget - self.spent - self.reserved

    def to_json(self, by_model: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "project": self.name, "budget_usd": _money(self.budget), "spent_usd": str(self.spent),
            "reserved_usd": str(self.reserved), "remaining_usd": _money(self.remaining),
            "paused": self.paused_at is not None,
            "paused_at": None if self.paused_at is None else self.paused_at.isoformat(),
        }
        if by_model is not None:
            out["by_model"] = by_model
        return out


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sums(s: Session, project_id: int) -> tuple[Decimal, Decimal]:
    spent, reserved = s.execute(
        select(func.coalesce(func.sum(GenerationRequest.cost_usd), 0),
               func.coalesce(func.sum(case((GenerationRequest.state.in_(IN_FLIGHT), GenerationRequest.estimate_usd),
                                           else_=None)), 0))
        .where(GenerationRequest.project_id == project_id)).one()
    return Decimal(spent), Decimal(reserved)


def _spend(s: Session, project: Project) -> ProjectSpend:
    spent, reserved = _sums(s, project.id)
    return ProjectSpend(project.id, project.name, project.budget, spent, reserved, project.paused_at)


def lock_project(s: Session, name: str) -> ProjectSpend:
    """The project (created if new), locked until the transaction ends."""
    pid = ensure_project(s, name)
    project = s.execute(select(Project).where(Project.id == pid).with_for_update()).scalar_one()
    return _spend(s, project)


def project_spend(s: Session, name: str) -> ProjectSpend | None:
    project = s.execute(select(Project).where(Project.name == name)).scalar_one_or_none()
    return None if project is None else _spend(s, project)


def spend_by_model(s: Session, project_id: int) -> list[dict[str, Any]]:
    """Requests, spent and reserved per provider and model, for `alice projects`."""
    in_flight = GenerationRequest.state.in_(IN_FLIGHT)
    rows = s.execute(
        select(GenerationRequest.provider, GenerationRequest.model, func.count(),
               func.coalesce(func.sum(GenerationRequest.cost_usd), 0),
               func.coalesce(func.sum(case((in_flight, GenerationRequest.estimate_usd), else_=None)), 0),
               func.count().filter(GenerationRequest.state == "refused"))
        .where(GenerationRequest.project_id == project_id)
        .group_by(GenerationRequest.provider, GenerationRequest.model)
        .order_by(GenerationRequest.provider, GenerationRequest.model))
    return [{"provider": p, "model": m, "requests": n, "spent_usd": str(Decimal(spent)),
             "reserved_usd": str(Decimal(reserved)), "refused": refused}
            for p, m, n, spent, reserved, refused in rows]


def overview(s: Session) -> list[dict[str, Any]]:
    """Every project with its budget, spend and pause state, by provider and model."""
    projects = s.execute(select(Project).order_by(Project.name)).scalars().all()
    return [_spend(s, p).to_json(spend_by_model(s, p.id)) for p in projects]


def pause(s: Session, project_id: int) -> bool:
    """Mark the project paused; False if it already was."""
    result = s.execute(update(Project).where(Project.id == project_id, Project.paused_at.is_(None))
                       .values(paused_at=func.now()))
    return store.rowcount(result) > 0


def set_budget(s: Session, name: str, budget: Decimal | None) -> tuple[ProjectSpend, str | None]:
    """Set (None: remove) the project's budget. Pausing follows the new budget:
    one that leaves room lifts a pause, one already used up pauses.

    Returns the project after the change and "resumed", "paused" or None.
    """
    before = lock_project(s, name)
    exhausted = budget is not None and before.spent >= budget
    change = None
    paused_at = before.paused_at
    if before.paused_at is not None and not exhausted:
        change, paused_at = "resumed", None
    elif before.paused_at is None and exhausted:
        change = "paused"
    values: dict[str, Any] = {"budget": budget, "paused_at": paused_at if change != "paused" else func.now()}
    paused_at = s.execute(update(Project).where(Project.id == before.id).values(**values)
                          .returning(Project.paused_at)).scalar_one()
    return ProjectSpend(before.id, before.name, budget, before.spent, before.reserved, paused_at), change


def change_budget(s: Session, name: str, budget: Decimal | None) -> tuple[ProjectSpend, str | None]:
    """set_budget, with its events: project.budget_set, and project.resumed / project.paused."""
    after, change = set_budget(s, name, budget)
    data = {"project": name, "budget_usd": _money(budget)}
    append_event(s, "project.budget_set", None, None, data)
    if change:
        append_event(s, f"project.{change}", None, None, {**data, "spent_usd": str(after.spent)})
    return after, change
