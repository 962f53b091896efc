"""Whether a project may spend an estimate, and when spending pauses it.

The rules, with the figures from daemon/catalog/spend.py:
- a paused project admits nothing until its budget is raised;
- a request is refused when its estimate exceeds what is left (budget minus
  spent minus what requests in flight may still cost);
- a project is paused once what it has spent reaches its budget.
A project without a budget is never refused or paused.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from alice.daemon import errors
from alice.daemon.catalog.spend import ProjectSpend
from alice.providers.errors import BudgetExceeded
from alice.providers.pricing import CostEstimate

MAX_BUDGET = Decimal("99999999")         # NUMERIC(12, 4)


class BudgetValueError(errors.InvalidRequest):
    """A budget given by a person is not a usable amount of dollars."""


def parse_budget(text: str | float | int | Decimal | None) -> Decimal | None:
    """Dollars from "5", "5.00", "$5" or 5; "none"/"off"/None removes the budget."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("none", "off", "unlimited")):
        return None
    if isinstance(text, bool):
        raise BudgetValueError("a budget is an amount of US dollars, like 5 or 12.50, not true/false")
    raw = str(text).strip().lstrip("$")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BudgetValueError(f"a budget is an amount of US dollars, like 5 or 12.50; got {text!r}") from None
    if not value.is_finite() or value < 0 or value > MAX_BUDGET:
        raise BudgetValueError(f"a budget must be between 0 and {MAX_BUDGET} dollars; got {text!r}")
    return value.quantize(Decimal("0.0001"))


def _raise_hint(project: str) -> str:
    return f"raise it with `alice projects set-budget {project} <dollars>`"


def admit(project: ProjectSpend, estimate: CostEstimate) -> None:
    """Raise BudgetExceeded (nothing is sent) unless the project can afford `estimate`."""
    if project.budget is None:
        return
    if project.paused_at is not None:
        raise BudgetExceeded(
            estimate.provider,
            f"project {project.name!r} is paused: it has spent ${project.spent} of its ${project.budget} budget; "
            f"{_raise_hint(project.name)}",
        )
    left = project.remaining
    assert left is not None
    if estimate.usd > left:
        in_flight = f" (${project.reserved} is held by requests still running)" if project.reserved else ""
        raise BudgetExceeded(
            estimate.provider,
            f"project {project.name!r} cannot afford {estimate.model}: estimated ${estimate.usd} "
            f"({estimate.basis}) but only ${max(left, Decimal(0))} of its ${project.budget} budget is left"
            f"{in_flight}; {_raise_hint(project.name)}",
        )


def exhausted(project: ProjectSpend) -> bool:
    """True when what the project has spent has reached its budget."""
    return project.budget is not None and project.spent >= project.budget
