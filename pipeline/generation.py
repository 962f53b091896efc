"""The answer to "which AI made this, and with what settings?"."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Generation:
    """Generation parameters. None means the file does not say."""

    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    cfg: float | None = None
    sampler: str | None = None
    scheduler: str | None = None
    model: str | None = None         # the checkpoint verbatim as the file names it ("x_v1.safetensors")
    model_name: str | None = None    # its stem for display ("x_v1"); filled from `model` when a detector leaves it
    model_hash: str | None = None
    width: int | None = None
    height: int | None = None
    loras: list[str] = field(default_factory=list)
    created_at: str | None = None    # ISO 8601 as the file states it
    # Every sampling pass of a multi-pass graph (base, hires fix, refiner, ...), base first:
    # {"node", "class", "seed", "steps", "cfg", "sampler", "scheduler", "denoise", "model"}, keys
    # present only where the file says. The top-level fields above describe the base pass.
    passes: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Generation:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass
class Detection:
    tool: str | None                 # canonical slug from shared/docs/ai-metadata-formats.md, None = no AI marker
    ai: bool
    evidence: list[str] = field(default_factory=list)   # e.g. "png:text:parameters", "c2pa:claim_generator=..."
    generation: Generation = field(default_factory=Generation)
    raw: dict[str, Any] = field(default_factory=dict)   # the tool's own record (JSON-safe, capped), for the catalog's JSONB

    @classmethod
    def none(cls) -> Detection:
        return cls(tool=None, ai=False)
