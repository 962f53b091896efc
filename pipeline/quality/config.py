"""Settings of the quality cascade, as read from the `quality:` section of config.yaml.

    quality:
      enabled: true
      weights: {sharpness: 0.8}                 # exponents, merged over DEFAULT_WEIGHTS
      star_thresholds: [25, 45, 65, 82]         # score cut points for 2, 3, 4, 5 stars
      work_edge: 512                            # long edge of the measured copy, at least (technical.py)
      max_pixels: 50000000                      # refuse to decode more than this (after JPEG draft)
      video_frames: 5
      video_timeout_s: 30
      stages: [technical, vision]               # the cascade, cheapest first
      gates: {vision: 60}                       # min score of the stage before to go on
      default_gate: 60                          # for stages without a gate
      stage_weights: {technical: 1, vision: 2}  # for the final combination

`technical` (pipeline/quality/technical.py) is always the first stage; later
stage names are whatever the providers layer registers, this module only checks
that gates and weights name a stage that is in `stages`.
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

MEASURES = ("sharpness", "noise", "exposure", "contrast", "colourfulness", "compression", "resolution")

TECHNICAL = "technical"

# Sharpness leads because blur is the commonest way an image is ruined and the
# one no later edit fixes; colourfulness is low so monochrome work is not sunk.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType({
    "sharpness": 0.60,
    "noise": 0.35,
    "exposure": 0.45,
    "contrast": 0.15,
    "colourfulness": 0.06,
    "compression": 0.40,
    "resolution": 0.12,
})

DEFAULT_THRESHOLDS = (25.0, 45.0, 65.0, 82.0)


class QualityConfigError(ValueError):
    """A `quality:` setting is unusable; the message names the key."""


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class QualityConfig:
    enabled: bool = False
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    star_thresholds: tuple[float, float, float, float] = DEFAULT_THRESHOLDS
    work_edge: int = 512
    max_pixels: int = 50_000_000
    video_frames: int = 5
    video_timeout_s: float = 30.0
    stages: tuple[str, ...] = (TECHNICAL,)
    gates: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    default_gate: float = 60.0
    stage_weights: Mapping[str, float] = field(default_factory=lambda: _frozen({TECHNICAL: 1.0}))

    def gate(self, stage: str) -> float:
        """Min score the stage before `stage` must reach for `stage` to run."""
        return float(self.gates.get(stage, self.default_gate))

    def stage_weight(self, stage: str) -> float:
        return float(self.stage_weights.get(stage, 1.0))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> QualityConfig:
        """Build from the YAML mapping; unknown or ill-typed keys raise QualityConfigError."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise QualityConfigError(f"quality must be a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise QualityConfigError(f"unknown key 'quality.{key}'{hint}; known keys: {', '.join(sorted(known))}")
        kw: dict[str, Any] = {}
        if "enabled" in data:
            kw["enabled"] = _bool("enabled", data["enabled"])
        if "weights" in data:
            kw["weights"] = _weights(data["weights"])
        if "star_thresholds" in data:
            kw["star_thresholds"] = _thresholds(data["star_thresholds"])
        if "work_edge" in data:
            kw["work_edge"] = _int("work_edge", data["work_edge"], 64, 4096)
        if "max_pixels" in data:
            kw["max_pixels"] = _int("max_pixels", data["max_pixels"], 1_000_000, 1_000_000_000)
        if "video_frames" in data:
            kw["video_frames"] = _int("video_frames", data["video_frames"], 1, 60)
        if "video_timeout_s" in data:
            kw["video_timeout_s"] = _number("video_timeout_s", data["video_timeout_s"], 1.0, 3600.0)
        if "default_gate" in data:
            kw["default_gate"] = _number("default_gate", data["default_gate"], 0.0, 100.0)
        stages = _stages(data["stages"]) if "stages" in data else cls.stages
        kw["stages"] = stages
        if "gates" in data:
            kw["gates"] = _per_stage("gates", data["gates"], stages, 0.0, 100.0, allow_first=False)
        if "stage_weights" in data:
            merged = {TECHNICAL: 1.0, **_per_stage("stage_weights", data["stage_weights"], stages, 0.0, 1000.0)}
            kw["stage_weights"] = _frozen(merged)
        return cls(**kw)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise QualityConfigError(f"quality.{key} must be true or false, got {value!r}")
    return value


def _number(key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QualityConfigError(f"quality.{key} must be a number, got {value!r}")
    if not lo <= float(value) <= hi:
        raise QualityConfigError(f"quality.{key} must be between {lo:g} and {hi:g}, got {value!r}")
    return float(value)


def _int(key: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QualityConfigError(f"quality.{key} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise QualityConfigError(f"quality.{key} must be between {lo} and {hi}, got {value!r}")
    return value


def _mapping(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise QualityConfigError(f"quality.{key} must be a mapping, got {value!r}")
    return value


def _weights(value: Any) -> Mapping[str, float]:
    merged = dict(DEFAULT_WEIGHTS)
    for name, w in _mapping("weights", value).items():
        if name not in MEASURES:
            raise QualityConfigError(f"unknown measure 'quality.weights.{name}'; measures: {', '.join(MEASURES)}")
        merged[name] = _number(f"weights.{name}", w, 0.0, 100.0)
    if not any(merged.values()):
        raise QualityConfigError("quality.weights: at least one measure needs a weight above 0")
    return _frozen(merged)


def _thresholds(value: Any) -> tuple[float, float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise QualityConfigError(
            f"quality.star_thresholds must be 4 scores (for 2, 3, 4 and 5 stars), got {value!r}")
    cuts = tuple(_number(f"star_thresholds[{i}]", v, 0.0, 100.0) for i, v in enumerate(value))
    if any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
        raise QualityConfigError(f"quality.star_thresholds must rise strictly, got {list(value)!r}")
    return cuts  # type: ignore[return-value]


def _stages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(s, str) and s for s in value):
        raise QualityConfigError(f"quality.stages must be a list of stage names, got {value!r}")
    if not value or value[0] != TECHNICAL:
        raise QualityConfigError(f"quality.stages must start with '{TECHNICAL}' (the free local stage), got {value!r}")
    if len(set(value)) != len(value):
        raise QualityConfigError(f"quality.stages names a stage twice: {value!r}")
    return tuple(value)


def _per_stage(key: str, value: Any, stages: tuple[str, ...], lo: float, hi: float,
               allow_first: bool = True) -> Mapping[str, float]:
    out: dict[str, float] = {}
    for name, v in _mapping(key, value).items():
        if name not in stages:
            raise QualityConfigError(f"quality.{key}.{name}: '{name}' is not in quality.stages {list(stages)!r}")
        if not allow_first and name == stages[0]:
            raise QualityConfigError(f"quality.{key}.{name}: the first stage always runs and has no gate")
        out[name] = _number(f"{key}.{name}", v, lo, hi)
    return _frozen(out)
