"""What the providers hand back: jobs, their status, generated files, ratings."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Any


class JobState(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"          # includes moderated / cancelled; `detail` says which


@dataclass(frozen=True)
class Job:
    """A submitted generation, enough to poll it again (even from another process)."""

    provider: str
    model: str
    request_id: str
    urls: dict[str, str] = field(default_factory=dict)   # service-given status/result URLs
    cost_usd: Decimal | None = None                      # the estimate it was admitted with

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model, "request_id": self.request_id,
                "urls": dict(self.urls), "cost_usd": None if self.cost_usd is None else str(self.cost_usd)}


@dataclass(frozen=True)
class JobStatus:
    state: JobState
    detail: str | None = None                 # queue position, progress, or why it failed
    raw: Any = None


@dataclass(frozen=True)
class OutputFile:
    """One generated file: at a URL to download, or already in hand as bytes."""

    media_type: str
    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    filename: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValueError("an OutputFile has exactly one of url or data")


@dataclass(frozen=True)
class GenerationResult:
    provider: str
    model: str
    request_id: str
    status: JobState
    outputs: list[OutputFile]
    cost_usd: Decimal | None          # the estimate the request was admitted with
    raw: Any = None                   # the service's answer (b64 payloads stripped)


@dataclass(frozen=True)
class VisionRating:
    score: int                        # 0 (unusable) .. 100 (flawless)
    defects: list[str]
    tags: list[str]
    raw: str                          # the model's answer text, as given
    cost_usd: Decimal | None          # from the token usage the service reported
    provider: str = ""
    model: str = ""
    summary: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score, "defects": list(self.defects), "tags": list(self.tags),
            "summary": self.summary, "raw": self.raw, "provider": self.provider, "model": self.model,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
        }


@dataclass(frozen=True)
class QualityMeasurement:
    """A quality/aesthetics service's reading of one image."""

    score: float                      # 0..100, the metric mapped linearly from its native range
    measurement: str                  # which metric: musiq, nima, ...
    value: float                      # the metric as the service gave it
    raw: Any                          # the service's answer
    cost_usd: Decimal | None          # the estimate the request was admitted with
    provider: str = ""
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "measurement": self.measurement, "value": self.value, "raw": self.raw,
                "provider": self.provider, "model": self.model,
                "cost_usd": None if self.cost_usd is None else str(self.cost_usd)}


# What a paid quality stage returns (Provider.run_stage): a rating or a measurement.
StageAnswer = VisionRating | QualityMeasurement
