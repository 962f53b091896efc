"""How the quality stages combine: which stage runs next, and the final stars.

Pure bookkeeping over results already obtained; running a stage (and checking
the project's budget for a paid one) is the caller's job.

A stage result is either an object with a `score` attribute (TechnicalResult)
or a mapping with a "score" key, 0..100. A mapping without a score, or with
"error" set, is a stage that was tried and failed: it is kept for the record
but neither passes a gate nor counts in the combination.

Cascade rule: stages run in `QualityConfig.stages` order; stage k runs only
when stage k-1 has a score >= gate(k). Final score: the weighted mean of the
scores of the stages that produced one, by `stage_weights` (stages with
weight 0 are recorded but do not count). A user's own rating always wins.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from alice.pipeline.quality.config import TECHNICAL, QualityConfig


class StageResultError(ValueError):
    """A stage result carries a score that is not a number in 0..100."""


class RatingError(ValueError):
    """A user rating is not a star count 1..5."""


def stars_for(score: float, thresholds: Sequence[float]) -> int:
    """1..5 stars: one more than the number of cut points the score reaches."""
    return 1 + sum(1 for cut in thresholds if score >= cut)


def stage_score(stage: str, result: Any) -> float | None:
    """The 0..100 score of one stage result, None if the stage failed."""
    if result is None:
        return None
    if isinstance(result, Mapping):
        if result.get("error"):
            return None
        score = result.get("score")
    else:
        score = getattr(result, "score", None)
    if score is None:
        return None
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise StageResultError(f"stage '{stage}' returned score {score!r}; expected a number 0..100")
    if not 0.0 <= float(score) <= 100.0:
        raise StageResultError(f"stage '{stage}' returned score {score!r}, outside 0..100")
    return float(score)


def next_stages(results: Mapping[str, Any], cfg: QualityConfig) -> list[str]:
    """Stages that should run now, given the results so far (empty: the cascade is done).

    The technical stage runs first. Afterwards at most one stage is due: the
    first configured stage without a result, if the stage before it scored at
    least that stage's gate. A failed stage ends the cascade.
    """
    if TECHNICAL not in results:
        return [TECHNICAL]
    for before, stage in zip(cfg.stages, cfg.stages[1:], strict=False):
        if stage in results:
            continue
        previous = stage_score(before, results.get(before))
        if previous is None or previous < cfg.gate(stage):
            return []
        return [stage]
    return []


def combine(results: Mapping[str, Any], cfg: QualityConfig) -> tuple[float, int]:
    """Final (score, stars) from the stages that produced a score."""
    technical = stage_score(TECHNICAL, results.get(TECHNICAL))
    if technical is None:
        raise StageResultError("the technical stage has no score; combine() needs it")
    total = 0.0
    acc = 0.0
    for stage in cfg.stages:
        score = stage_score(stage, results.get(stage))
        weight = cfg.stage_weight(stage)
        if score is None or weight <= 0.0:
            continue
        total += weight
        acc += weight * score
    final = acc / total if total > 0.0 else technical
    final = round(final, 2)
    return final, stars_for(final, cfg.star_thresholds)


def effective_stars(computed: int | None, user: int | None) -> int | None:
    """The stars to file under: the user's rating when there is one, else the computed.

    0 means "no rating" (as in XMP xmp:Rating and most photo tools); anything
    else outside 1..5, such as Lightroom's -1 "rejected", is refused rather than
    guessed at, so the caller decides what a rejection means.
    """
    if user is not None and user != 0:
        if isinstance(user, bool) or not isinstance(user, int) or not 1 <= user <= 5:
            raise RatingError(f"user rating {user!r} is not a star count 1..5 (0 or None = unrated)")
        return user
    if computed is not None and (isinstance(computed, bool) or not isinstance(computed, int)
                                 or not 1 <= computed <= 5):
        raise RatingError(f"computed rating {computed!r} is not a star count 1..5")
    return computed
