"""The paid quality stages against local fakes: cascade gating, budget stop, cache, failures."""
from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageFilter
from sqlalchemy import select

from alice.daemon.catalog import spend
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.models import GenerationRequest, QualityCache
from alice.daemon.provider_host import ProviderHost
from alice.daemon.quality.assess import Target, run_cascade
from alice.pipeline.quality.cascade import stars_for
from alice.pipeline.quality.config import QualityConfig
from alice.providers.anthropic import AnthropicProvider
from alice.providers.fal import FalProvider
from alice.providers.openai import OpenAIProvider
from tests.corpus_paths import CORPUS
from tests.fakes.anthropic import GOOD_RATING as ANTHROPIC_RATING
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.fal import FakeFal
from tests.fakes.harness import settings_for
from tests.fakes.openai import GOOD_RATING as OPENAI_RATING
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import Fault

FAKE_RATINGS = {"anthropic": ANTHROPIC_RATING, "openai": OPENAI_RATING}

SOURCE = CORPUS / "comfyui-flux-dev.png"


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sharp image (technical ~78, 4 stars) and the same blurred to ruin (~8, 1 star)."""
    root = tmp_path_factory.mktemp("assess-images")
    img = Image.open(SOURCE).convert("RGB").resize((512, 512))
    good, mirrored, blurred = root / "good.png", root / "mirrored.png", root / "blurred.png"
    img.save(good)
    img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(mirrored)
    img.filter(ImageFilter.GaussianBlur(6)).save(blurred)
    return {"good": good, "mirrored": mirrored, "blurred": blurred}


@pytest.fixture
def fakes() -> Iterator[dict[str, object]]:
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai, FakeFal() as fal:
        yield {"anthropic": anthropic, "openai": openai, "fal": fal}


def make_providers(fakes: dict[str, object], **overrides: object) -> ProviderHost:
    return ProviderHost({
        "anthropic": AnthropicProvider(settings_for("anthropic", fakes["anthropic"], **overrides)),
        "openai": OpenAIProvider(settings_for("openai", fakes["openai"], **overrides)),
        "fal": FalProvider(settings_for("fal", fakes["fal"], **overrides)),
    })


@pytest.fixture
def providers(fakes: dict[str, object]) -> Iterator[ProviderHost]:
    built = make_providers(fakes)
    yield built
    built.close()


def cfg(*stages: str, gate: float = 50.0, **weights: float) -> QualityConfig:
    return QualityConfig.from_mapping({
        "stages": ["technical", *stages], "default_gate": gate,
        "stage_weights": {"technical": 1, **{s: weights.get(s.split(":")[0], 1) for s in stages}},
    })


def requests_of(catalog: Catalog) -> list[GenerationRequest]:
    with catalog.session() as s:
        rows = s.execute(select(GenerationRequest).order_by(GenerationRequest.id)).scalars().all()
        s.expunge_all()
        return list(rows)


def test_vision_stage_rates_combines_records_cost_and_caches(images, fakes, providers, catalog) -> None:
    conf = cfg("vision:anthropic", vision=3)
    first = run_cascade(Target(images["good"], project="shoot"), conf, providers, catalog)

    vision = first["stages"]["vision:anthropic"]
    technical = first["stages"]["technical"]["score"]
    assert vision["score"] == 64 and vision["defects"] == ["extra fingers", "garbled text"]
    assert vision["cached"] is False
    # Weighted mean: technical x1, vision x3.
    assert first["score"] == pytest.approx(round((technical + 3 * 64) / 4, 2))
    assert first["stars"] == stars_for(first["score"], conf.star_thresholds)
    # 1200 tokens in x $1/M + 80 out x $5/M = $0.0016, on the request row and in the project's spend.
    assert Decimal(first["cost_usd"]) == Decimal("0.0016")
    (row,) = requests_of(catalog)
    assert (row.provider, row.model, row.state, row.cost_usd) == ("anthropic", "claude-haiku-4-5", "done",
                                                                  Decimal("0.0016"))
    assert row.reference_ids == [first["content_id"]] and row.params["purpose"] == "quality"
    with catalog.session() as s:
        assert spend.project_spend(s, "shoot").spent == Decimal("0.0016")
        cached = s.execute(select(QualityCache)).scalar_one()
        assert (cached.content_id, cached.stage, cached.provider) == (first["content_id"], "vision", "anthropic")
    assert fakes["anthropic"].count("messages") == 1

    second = run_cascade(Target(images["good"], project="shoot"), conf, providers, catalog)
    assert fakes["anthropic"].count("messages") == 1, "a cached answer must not be bought again"
    assert second["stages"]["vision:anthropic"]["cached"] is True
    assert second["score"] == first["score"] and Decimal(second["cost_usd"]) == 0
    assert len(requests_of(catalog)) == 1


def test_low_technical_score_never_reaches_a_paid_stage(images, fakes, providers, catalog) -> None:
    out = run_cascade(Target(images["blurred"], project="shoot"), cfg("vision:anthropic", gate=60),
                      providers, catalog)
    assert out["stages"]["technical"]["score"] < 60
    assert "vision:anthropic" not in out["stages"]
    assert fakes["anthropic"].seen == [] and requests_of(catalog) == []
    assert out["stars"] == out["stages"]["technical"]["stars"] == 1


def test_budget_refusal_stops_the_cascade_and_keeps_technical_stars(images, fakes, providers, catalog) -> None:
    with catalog.session() as s:
        spend.set_budget(s, "tight", Decimal("0.001"))    # a haiku rating is estimated at $0.0065
    out = run_cascade(Target(images["good"], project="tight"), cfg("vision:anthropic", "aesthetic:fal"),
                      providers, catalog)
    vision = out["stages"]["vision:anthropic"]
    assert vision["skipped"] == "budget" and "tight" in vision["reason"] and "set-budget" in vision["reason"]
    assert "aesthetic:fal" not in out["stages"]
    assert fakes["anthropic"].seen == [] and fakes["fal"].seen == []
    assert out["stars"] == out["stages"]["technical"]["stars"]
    (row,) = requests_of(catalog)
    assert row.state == "refused" and row.cost_usd is None


# stage -> (fake, the route its answer comes from, how to make the answer the wrong shape)
FAILING_STAGES = {
    "vision:anthropic": ("anthropic", "messages",
                         lambda f: setattr(f, "vision_text", "I would rate this quite highly, around eighty.")),
    "vision:openai": ("openai", "chat", lambda f: setattr(f, "vision_text", '{"score": "high", "defects": []}')),
    "aesthetic:fal": ("fal", "result", lambda f: setattr(f, "quality_answer", {"values": [{"musiq": "high"}]})),
}
EXPECTED_ERROR = {"http500": "ProviderTransientError", "timeout": "ProviderTimeout",
                  "not_json": "ProviderMalformedResponse", "bad_shape": "ProviderMalformedResponse"}


@pytest.mark.parametrize("failure", list(EXPECTED_ERROR))
@pytest.mark.parametrize("stage", list(FAILING_STAGES))
def test_stage_failure_is_recorded_and_ends_the_cascade(images, fakes, catalog, stage, failure) -> None:
    name, route, wrong_shape = FAILING_STAGES[stage]
    fake = fakes[name]
    if failure == "http500":
        fake.fail(route, *[Fault(500, {"error": {"type": "api_error", "message": "boom"}})] * 2)
    elif failure == "timeout":
        fake.fail(route, *[Fault(delay_s=1.0)] * 2)
    elif failure == "not_json":
        fake.fail(route, *[Fault(200, "<html>502 Bad Gateway</html>")] * 2)
    else:
        wrong_shape(fake)
    # A second paid stage after the failing one must never be reached.
    after = "vision:anthropic" if stage != "vision:anthropic" else "aesthetic:fal"
    built = make_providers(fakes, timeout_s=0.3, max_retries=1)
    try:
        out = run_cascade(Target(images["good"], project="shoot"), cfg(stage, after), built, catalog)
    finally:
        built.close()
    result = out["stages"][stage]
    assert result["error_type"] == EXPECTED_ERROR[failure] and result["error"]
    assert after not in out["stages"] and fakes[FAILING_STAGES[after][0]].seen == []
    assert out["score"] == pytest.approx(out["stages"]["technical"]["score"], abs=0.01)
    assert out["stars"] == out["stages"]["technical"]["stars"]
    (row,) = requests_of(catalog)
    assert row.state == "failed" and row.error and row.provider == name
    # A malformed answer was produced, and billed, by the service; a refusal or timeout was not.
    assert (row.cost_usd is not None) == (EXPECTED_ERROR[failure] == "ProviderMalformedResponse")
    with catalog.session() as s:
        assert s.execute(select(QualityCache)).first() is None, "errors are not cached"
    # The failure is not remembered: once the service behaves, the next run asks again.
    fake.faults.clear()
    if name == "fal":
        fake.quality_answer = None
    else:
        fake.vision_text = FAKE_RATINGS[name]
    healthy = make_providers(fakes)
    try:
        again = run_cascade(Target(images["good"], project="shoot"), cfg(stage), healthy, catalog)
    finally:
        healthy.close()
    assert again["stages"][stage]["cached"] is False and again["stages"][stage]["score"] > 0


def test_another_model_is_another_cache_entry(images, fakes, providers, catalog) -> None:
    run_cascade(Target(images["good"], project="shoot"), cfg("vision:anthropic"), providers, catalog)
    out = run_cascade(Target(images["good"], project="shoot"), cfg("vision:anthropic@claude-sonnet-4-5"),
                      providers, catalog)
    assert out["stages"]["vision:anthropic@claude-sonnet-4-5"]["cached"] is False
    models = [s.json()["model"] for s in fakes["anthropic"].seen]
    assert models == ["claude-haiku-4-5", "claude-sonnet-4-5"]
    again = run_cascade(Target(images["good"], project="shoot"), cfg("vision"), providers, catalog)
    assert again["stages"]["vision"]["cached"] is True      # "vision" is vision:anthropic@claude-haiku-4-5
    assert len(fakes["anthropic"].seen) == 2


def test_aesthetic_then_openai_vision_cascade(images, fakes, providers, catalog) -> None:
    out = run_cascade(Target(images["good"], project="shoot"),
                      cfg("aesthetic:fal", "vision:openai", gate=60), providers, catalog)
    aesthetic, vision = out["stages"]["aesthetic:fal"], out["stages"]["vision:openai"]
    assert aesthetic["measurement"] == "musiq" and aesthetic["score"] == 71.5
    assert vision["score"] == 82 and vision["tags"] == ["cat", "portrait"]
    technical = out["stages"]["technical"]["score"]
    assert out["score"] == pytest.approx(round((technical + 71.5 + 82) / 3, 2))
    submitted = [s for s in fakes["fal"].seen if s.route == "submit"]
    assert len(submitted) == 1 and submitted[0].path == "/fal-ai/arbiter/image"
    body = submitted[0].json()
    assert body["measurements"] == ["musiq"] and body["inputs"][0]["hypothesis"].startswith("data:image/png;base64,")
    states = [(r.provider, r.state) for r in requests_of(catalog)]
    assert states == [("fal", "done"), ("openai", "done")]


def test_aesthetic_gate_uses_the_stage_before(images, fakes, providers, catalog) -> None:
    fakes["fal"].quality_value = 30.0
    out = run_cascade(Target(images["good"], project="shoot"),
                      cfg("aesthetic:fal", "vision:openai", gate=60), providers, catalog)
    assert out["stages"]["aesthetic:fal"]["score"] == 30.0
    assert "vision:openai" not in out["stages"] and fakes["openai"].seen == []


@pytest.mark.parametrize("answer", [{"values": [{"musiq": "high"}]}, {"values": []}, {"result": 3}])
def test_malformed_aesthetic_answer_is_an_error(images, fakes, providers, catalog, answer) -> None:
    fakes["fal"].quality_answer = answer
    out = run_cascade(Target(images["good"], project="shoot"), cfg("aesthetic:fal"), providers, catalog)
    stage = out["stages"]["aesthetic:fal"]
    assert stage["error_type"] == "ProviderMalformedResponse"
    assert out["stars"] == out["stages"]["technical"]["stars"]


def test_paid_stage_without_catalog_is_skipped_not_sent(images, fakes, providers) -> None:
    out = run_cascade(images["good"], cfg("vision:anthropic"), providers, None)
    assert out["stages"]["vision:anthropic"]["skipped"] == "catalog"
    assert fakes["anthropic"].seen == []
    assert out["stars"] == out["stages"]["technical"]["stars"]


def test_undecodable_file_reports_error_and_no_stars(tmp_path, providers, catalog) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    out = run_cascade(Target(bad, project="shoot"), cfg("vision:anthropic"), providers, catalog)
    assert out["score"] is None and out["stars"] is None and out["error"]
    assert "vision:anthropic" not in out["stages"]


def test_provider_without_key_is_skipped_before_anything_is_recorded(images, fakes, catalog) -> None:
    built = ProviderHost({"anthropic": AnthropicProvider(settings_for("anthropic", fakes["anthropic"], api_key=None))})
    try:
        out = run_cascade(Target(images["good"], project="shoot"), cfg("vision:anthropic"), built, catalog)
    finally:
        built.close()
    assert out["stages"]["vision:anthropic"]["skipped"] == "key"
    assert fakes["anthropic"].seen == [] and requests_of(catalog) == []


def test_two_processes_rating_the_same_content_buy_one_answer(images, fakes, providers, catalog) -> None:
    fakes["anthropic"].delays["messages"] = 0.5       # both ask while the first answer is in flight
    conf = cfg("vision:anthropic")
    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(lambda _: run_cascade(Target(images["good"], project="shoot"), conf, providers,
                                                   catalog), range(2)))
    assert fakes["anthropic"].count("messages") == 1
    assert sorted(o["stages"]["vision:anthropic"]["cached"] for o in outs) == [False, True]
    assert [r.state for r in requests_of(catalog)] == ["done"]


def test_a_video_is_rated_on_its_middle_frame(fakes, providers, catalog) -> None:
    video = CORPUS / "c2pa-sora.mp4"
    out = run_cascade(Target(video, project="shoot"), cfg("vision:anthropic", gate=0), providers, catalog)
    assert out["media"] == "video" and out["stages"]["vision:anthropic"]["score"] == 64
    (seen,) = fakes["anthropic"].seen
    blocks = seen.json()["messages"][0]["content"]
    assert blocks[0]["source"]["media_type"] == "image/jpeg"
    assert "frame from the middle of a video" in blocks[1]["text"]


def test_spending_stops_the_next_file_once_the_budget_cannot_cover_it(images, fakes, providers, catalog) -> None:
    with catalog.session() as s:
        spend.set_budget(s, "small", Decimal("0.007"))     # one estimate ($0.0065) fits; after $0.0016 spent, not another
    conf = cfg("vision:anthropic")
    first = run_cascade(Target(images["good"], project="small"), conf, providers, catalog)
    second = run_cascade(Target(images["mirrored"], project="small"), conf, providers, catalog)
    assert first["stages"]["vision:anthropic"]["score"] == 64
    assert second["stages"]["vision:anthropic"]["skipped"] == "budget"
    assert fakes["anthropic"].count("messages") == 1
    with catalog.session() as s:
        assert spend.project_spend(s, "small").spent == Decimal("0.0016")
    # The first file's answer stays free to reuse however the budget stands.
    again = run_cascade(Target(images["good"], project="small"), conf, providers, catalog)
    assert again["stages"]["vision:anthropic"]["cached"] is True
