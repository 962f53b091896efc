"""Cascade bookkeeping and the `quality:` config section."""
from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alice.pipeline.quality.cascade import (
    RatingError,
    StageResultError,
    combine,
    effective_stars,
    next_stages,
    stage_score,
    stars_for,
)
from alice.pipeline.quality.config import DEFAULT_WEIGHTS, QualityConfig, QualityConfigError
from alice.pipeline.quality.technical import TechnicalResult


def tech(score: float) -> TechnicalResult:
    return TechnicalResult(score=score, stars=stars_for(score, (25, 45, 65, 82)), measures={}, raw={},
                           width=100, height=100, elapsed_ms=1.0)


CFG = QualityConfig.from_mapping({
    "stages": ["technical", "aesthetic", "vision"],
    "gates": {"aesthetic": 50, "vision": 70},
    "stage_weights": {"technical": 1, "aesthetic": 1, "vision": 2},
})


# --- stars -------------------------------------------------------------------

@pytest.mark.parametrize("score,stars", [(0, 1), (24.99, 1), (25, 2), (44.9, 2), (45, 3), (64.99, 3),
                                         (65, 4), (81.9, 4), (82, 5), (100, 5)])
def test_stars_for_cut_points(score: float, stars: int) -> None:
    assert stars_for(score, (25, 45, 65, 82)) == stars


# --- next_stages ---------------------------------------------------------------

def test_technical_runs_first() -> None:
    assert next_stages({}, CFG) == ["technical"]


def test_a_stage_runs_only_when_the_stage_before_it_passed_its_gate() -> None:
    assert next_stages({"technical": tech(49.9)}, CFG) == []
    assert next_stages({"technical": tech(50)}, CFG) == ["aesthetic"]
    assert next_stages({"technical": tech(90), "aesthetic": {"score": 69}}, CFG) == []
    assert next_stages({"technical": tech(90), "aesthetic": {"score": 70}}, CFG) == ["vision"]


def test_the_cascade_ends_after_the_last_stage_or_a_failure() -> None:
    done = {"technical": tech(90), "aesthetic": {"score": 90}, "vision": {"score": 80}}
    assert next_stages(done, CFG) == []
    failed = {"technical": tech(90), "aesthetic": {"error": "provider unavailable", "cost": 0}}
    assert next_stages(failed, CFG) == []


def test_only_technical_configured_means_nothing_after_it() -> None:
    assert next_stages({"technical": tech(99)}, QualityConfig()) == []


def test_default_gate_applies_to_stages_without_one() -> None:
    cfg = QualityConfig.from_mapping({"stages": ["technical", "vision"], "default_gate": 80})
    assert next_stages({"technical": tech(79)}, cfg) == []
    assert next_stages({"technical": tech(80)}, cfg) == ["vision"]


# --- combine -----------------------------------------------------------------

def test_combine_weights_the_stages_that_scored() -> None:
    results = {"technical": tech(60), "aesthetic": {"score": 80, "cost": 0.001}, "vision": {"score": 90}}
    score, stars = combine(results, CFG)
    assert score == pytest.approx((60 + 80 + 2 * 90) / 4)
    assert stars == 4


def test_combine_with_technical_only_is_the_technical_score() -> None:
    assert combine({"technical": tech(50)}, CFG) == (50.0, 3)


def test_failed_and_zero_weight_stages_do_not_count() -> None:
    cfg = QualityConfig.from_mapping({"stages": ["technical", "aesthetic", "vision"],
                                      "stage_weights": {"aesthetic": 0}})
    results = {"technical": tech(40), "aesthetic": {"score": 100}, "vision": {"error": "timeout"}}
    assert combine(results, cfg) == (40.0, 2)


def test_unconfigured_stages_in_results_are_ignored() -> None:
    assert combine({"technical": tech(70), "old-stage": {"score": 0}}, CFG) == (70.0, 4)


@pytest.mark.parametrize("bad", [150, -1, float("nan"), "high", True])
def test_bad_stage_scores_are_refused_with_the_stage_named(bad: object) -> None:
    with pytest.raises(StageResultError, match="vision"):
        combine({"technical": tech(50), "aesthetic": {"score": 60}, "vision": {"score": bad}}, CFG)


def test_combine_needs_the_technical_stage() -> None:
    with pytest.raises(StageResultError, match="technical"):
        combine({"vision": {"score": 80}}, CFG)


def test_stage_score_reads_objects_and_mappings() -> None:
    assert stage_score("technical", tech(42)) == 42.0
    assert stage_score("vision", {"score": 7}) == 7.0
    assert stage_score("vision", {"defects": []}) is None
    assert stage_score("vision", None) is None


# --- user ratings --------------------------------------------------------------

def test_user_rating_always_wins() -> None:
    assert effective_stars(5, 1) == 1
    assert effective_stars(None, 4) == 4
    assert effective_stars(2, None) == 2
    assert effective_stars(3, 0) == 3            # 0 = unrated in XMP
    assert effective_stars(None, None) is None


@pytest.mark.parametrize("bad", [-1, 6, 2.5, True])
def test_invalid_user_ratings_are_refused(bad: object) -> None:
    with pytest.raises(RatingError):
        effective_stars(3, bad)  # type: ignore[arg-type]


# --- config ----------------------------------------------------------------------

def test_defaults_and_empty_mapping_agree() -> None:
    assert QualityConfig.from_mapping({}) == QualityConfig() == QualityConfig.from_mapping(None)
    cfg = QualityConfig()
    assert cfg.work_edge == 512 and cfg.stages == ("technical",)
    assert list(cfg.star_thresholds) == sorted(cfg.star_thresholds)


def test_partial_weights_merge_over_defaults() -> None:
    cfg = QualityConfig.from_mapping({"weights": {"sharpness": 1.0}})
    assert cfg.weights["sharpness"] == 1.0
    assert cfg.weights["noise"] == DEFAULT_WEIGHTS["noise"]


def test_config_is_immutable() -> None:
    cfg = QualityConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.work_edge = 10  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.weights["sharpness"] = 0  # type: ignore[index]


def test_enabled_is_accepted() -> None:
    assert QualityConfig.from_mapping({"enabled": True}).enabled is True


@pytest.mark.parametrize("data,key", [
    ({"work_egde": 512}, "work_egde"),
    ({"weights": {"sharpnes": 1}}, "sharpnes"),
    ({"weights": {"noise": "lots"}}, "weights.noise"),
    ({"weights": {"noise": -1}}, "weights.noise"),
    ({"weights": {k: 0 for k in DEFAULT_WEIGHTS}}, "weights"),
    ({"star_thresholds": [10, 20, 30]}, "star_thresholds"),
    ({"star_thresholds": [10, 30, 20, 40]}, "star_thresholds"),
    ({"star_thresholds": [10, 20, 30, 400]}, "star_thresholds[3]"),
    ({"work_edge": 10}, "work_edge"),
    ({"work_edge": 512.5}, "work_edge"),
    ({"work_edge": True}, "work_edge"),
    ({"video_frames": 0}, "video_frames"),
    ({"video_timeout_s": "30s"}, "video_timeout_s"),
    ({"enabled": "yes"}, "enabled"),
    ({"stages": ["vision", "technical"]}, "stages"),
    ({"stages": ["technical", "vision", "vision"]}, "stages"),
    ({"stages": "technical"}, "stages"),
    ({"stages": ["technical", "vision"], "gates": {"aesthetic": 50}}, "gates.aesthetic"),
    ({"stages": ["technical", "vision"], "gates": {"technical": 50}}, "gates.technical"),
    ({"stages": ["technical", "vision"], "gates": {"vision": 101}}, "gates.vision"),
    ({"stage_weights": {"vision": 1}}, "stage_weights.vision"),
])
def test_bad_settings_name_the_key(data: dict, key: str) -> None:
    with pytest.raises(QualityConfigError) as exc:
        QualityConfig.from_mapping(data)
    assert key in str(exc.value)


def test_unknown_key_suggests_the_right_one() -> None:
    with pytest.raises(QualityConfigError, match="did you mean 'work_edge'"):
        QualityConfig.from_mapping({"work_egde": 512})


def test_not_a_mapping() -> None:
    with pytest.raises(QualityConfigError, match="mapping"):
        QualityConfig.from_mapping(["technical"])  # type: ignore[arg-type]


# --- properties ------------------------------------------------------------------

_score = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(t=_score, a=_score, v=_score, wa=st.floats(0, 10), wv=st.floats(0, 10))
def test_combined_score_lies_between_the_stage_scores(t: float, a: float, v: float, wa: float, wv: float) -> None:
    cfg = QualityConfig.from_mapping({"stages": ["technical", "aesthetic", "vision"],
                                      "stage_weights": {"aesthetic": wa, "vision": wv}})
    score, stars = combine({"technical": tech(t), "aesthetic": {"score": a}, "vision": {"score": v}}, cfg)
    assert min(t, a, v) - 0.01 <= score <= max(t, a, v) + 0.01
    assert stars == stars_for(score, cfg.star_thresholds)


@given(x=_score, y=_score)
def test_more_score_never_means_fewer_stars(x: float, y: float) -> None:
    lo, hi = sorted((x, y))
    assert stars_for(lo, QualityConfig().star_thresholds) <= stars_for(hi, QualityConfig().star_thresholds)
