"""The values a re-run may change, checked once, and `--seeds N..M` ranges."""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

MAX_SEED = 0xFFFF_FFFF_FFFF_FFFF      # ComfyUI's seed inputs are unsigned 64-bit
MAX_SEEDS = 64                        # one vary call queues at most this many runs
MAX_SIDE = 16384                      # ComfyUI's MAX_RESOLUTION
_RANGE = re.compile(r"^\s*(\d+)\s*(?:\.\.|-)\s*(\d+)\s*$")


class RerunError(ValueError):
    """A re-run cannot be built as asked; the message says what to change."""


@dataclass(frozen=True)
class Overrides:
    """Field name -> new value; None leaves the record's value alone."""

    seed: int | None = None
    steps: int | None = None
    cfg: float | None = None
    sampler: str | None = None
    scheduler: str | None = None
    denoise: float | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    model: str | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        for name in ("seed", "steps", "width", "height"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise RerunError(f"{name} must be a whole number, got {value!r}")
        for name in ("cfg", "denoise"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise RerunError(f"{name} must be a number, got {value!r}")
        for name in ("sampler", "scheduler", "prompt", "negative_prompt", "model"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise RerunError(f"{name} must be text, got {type(value).__name__}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise RerunError(f"seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.steps is not None and not 1 <= self.steps <= 10_000:
            raise RerunError(f"steps must be between 1 and 10000, got {self.steps}")
        if self.cfg is not None and not 0 <= self.cfg <= 100:
            raise RerunError(f"cfg must be between 0 and 100, got {self.cfg}")
        if self.denoise is not None and not 0 <= self.denoise <= 1:
            raise RerunError(f"denoise must be between 0 and 1, got {self.denoise}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not 16 <= value <= MAX_SIDE:
                raise RerunError(f"{name} must be between 16 and {MAX_SIDE} pixels, got {value}")
        for name in ("sampler", "scheduler", "model"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise RerunError(f"{name} must not be empty")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Overrides:
        """From a socket/MCP request; unknown names are an error, not silently dropped."""
        data = dict(data or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise RerunError(f"unknown overrides {unknown}; known: {sorted(names)}")
        return cls(**data)

    def given(self) -> dict[str, Any]:
        """Only the fields that were set, for the record of what a variation changed."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def with_seed(self, seed: int) -> Overrides:
        return replace(self, seed=seed)


def parse_seeds(text: str | int) -> list[int]:
    """`--seeds 5..8` (inclusive; `5-8` also works) or a single seed -> the seeds to run."""
    if isinstance(text, int) and not isinstance(text, bool):
        return [Overrides(seed=text).seed]  # type: ignore[list-item]
    if not isinstance(text, str):
        raise RerunError(f"seeds must be N or N..M, got {text!r}")
    if text.strip().isdigit():
        return [Overrides(seed=int(text)).seed]  # type: ignore[list-item]
    match = _RANGE.match(text)
    if not match:
        raise RerunError(f"seeds must be N or N..M (like 100..107), got {text!r}")
    first, last = int(match.group(1)), int(match.group(2))
    if last < first:
        raise RerunError(f"seed range {text!r} runs backwards; write {last}..{first}")
    if last - first + 1 > MAX_SEEDS:
        raise RerunError(f"seed range {text!r} is {last - first + 1} runs; at most {MAX_SEEDS} at once")
    Overrides(seed=last)          # range check of the largest
    return list(range(first, last + 1))


def per_seed(overrides: Overrides, seeds: list[int] | None) -> list[Overrides]:
    """One Overrides per seed (or just `overrides` when no seeds are given)."""
    if not seeds:
        return [overrides]
    if overrides.seed is not None:
        raise RerunError("give either a seed or a seed range, not both")
    return [overrides.with_seed(seed) for seed in seeds]
