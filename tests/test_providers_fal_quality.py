"""fal Arbiter as the aesthetics stage: request shape, pricing, score mapping, bad input."""
from __future__ import annotations

import base64
import io
from decimal import Decimal

import pytest
from PIL import Image

from alice.providers.errors import ProviderMalformedResponse, ProviderRequestError
from alice.providers.fal import QUALITY_MODEL, FalProvider
from tests.fakes.fal import FakeFal
from tests.fakes.harness import settings_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake():
    with FakeFal() as server:
        yield server


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


async def test_musiq_reading_is_the_score_and_costs_the_image_price(fake: FakeFal) -> None:
    async with FalProvider(settings_for("fal", fake)) as fal:
        reading = await fal.measure_quality(png())
    assert (reading.score, reading.value, reading.measurement) == (71.5, 71.5, "musiq")
    assert reading.cost_usd == Decimal("0.0025") and reading.model == QUALITY_MODEL
    (submit,) = [s for s in fake.seen if s.route == "submit"]
    assert submit.path == f"/{QUALITY_MODEL}"
    assert submit.json()["inputs"][0]["hypothesis"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("measurement, value, score", [("nima", 5.5, 50.0), ("nima", 10.0, 100.0),
                                                       ("arniqa", 0.42, 42.0), ("clip_iqa", 1.3, 100.0)])
async def test_other_metrics_map_their_range_onto_0_100(fake: FakeFal, measurement, value, score) -> None:
    fake.quality_value = value
    async with FalProvider(settings_for("fal", fake)) as fal:
        reading = await fal.measure_quality(png(), measurement=measurement)
    assert reading.score == pytest.approx(score) and reading.value == value
    assert fake.seen[0].json()["measurements"] == [measurement]


@pytest.mark.parametrize("answer", [{"values": [{"musiq": None}]}, {"values": [{"musiq": True}]},
                                    {"values": "71"}, ["musiq", 71]])
async def test_wrong_shapes_are_malformed(fake: FakeFal, answer) -> None:
    fake.quality_answer = answer
    async with FalProvider(settings_for("fal", fake)) as fal:
        with pytest.raises(ProviderMalformedResponse):
            await fal.measure_quality(png())


async def test_bad_requests_are_refused_before_sending(fake: FakeFal) -> None:
    async with FalProvider(settings_for("fal", fake)) as fal:
        with pytest.raises(ProviderRequestError, match="unknown measurement"):
            await fal.measure_quality(png(), measurement="vibes")
        with pytest.raises(ProviderRequestError, match="does not measure image quality"):
            await fal.measure_quality(png(), model="fal-ai/flux/dev")
        with pytest.raises(ProviderRequestError, match="cannot"):
            await fal.measure_quality(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert fake.seen == []


async def test_large_images_are_sent_downscaled(fake: FakeFal) -> None:
    async with FalProvider(settings_for("fal", fake)) as fal:
        await fal.measure_quality(png((4000, 3000)))
    url = fake.seen[0].json()["inputs"][0]["hypothesis"]
    header, _, data = url.partition(",")
    with Image.open(io.BytesIO(base64.b64decode(data))) as sent:
        assert max(sent.size) <= 1568 and header == "data:image/jpeg;base64"


async def test_the_aesthetic_stage_runs_through_the_stage_entry_points(fake: FakeFal) -> None:
    async with FalProvider(settings_for("fal", fake)) as fal:
        assert fal.stage_estimate("aesthetic", QUALITY_MODEL).usd == Decimal("0.0025")
        asked: list[str] = []
        reading = await fal.run_stage("aesthetic", png(), model=QUALITY_MODEL,
                                      context=lambda: asked.append("context") or None)
        assert reading.score == 71.5 and asked == []     # the metric never reads the prompt
        with pytest.raises(ProviderRequestError, match="runs no 'vision' quality stage"):
            fal.stage_estimate("vision", QUALITY_MODEL)
