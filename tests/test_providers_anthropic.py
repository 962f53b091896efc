"""Anthropic provider against its fake Messages API: vision ratings."""
from __future__ import annotations

import io
import logging
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image
from structlog.testing import capture_logs

from alice.providers.anthropic import AnthropicProvider
from alice.providers.config import ProviderSettings
from alice.providers.errors import (
    BudgetExceeded,
    ProviderAuthError,
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from tests.corpus_paths import CORPUS
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.harness import Clock, Sleeps, assert_no_secret, provider_for
from tests.fakes.server import Fault, png_bytes

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server


def make(fake: FakeAnthropic, **overrides) -> AnthropicProvider:
    return provider_for(AnthropicProvider, "anthropic", fake, **overrides)


async def test_rating_from_fenced_json_in_prose(fake: FakeAnthropic, tmp_path: Path) -> None:
    image = tmp_path / "img.png"
    image.write_bytes(png_bytes(40, 30))
    async with make(fake) as claude:
        rating = await claude.rate_image(image)
    assert rating.score == 64 and rating.defects == ["extra fingers", "garbled text"]
    assert rating.tags == ["portrait", "neon"] and rating.summary == "Striking but flawed."
    assert rating.raw.startswith("Here is my assessment") and rating.model == "claude-haiku-4-5"
    # 1200 in x $1/M + 80 out x $5/M = 0.0016
    assert rating.cost_usd == Decimal("0.0016")
    sent = fake.seen[0]
    assert sent.headers["x-api-key"] == fake.api_key and sent.headers["anthropic-version"] == "2023-06-01"
    block = sent.json()["messages"][0]["content"][0]
    assert block["type"] == "image" and block["source"]["media_type"] == "image/png"


async def test_big_or_unsendable_images_are_reencoded(fake: FakeAnthropic) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3000, 1000), (10, 200, 30)).save(buf, "TIFF")
    async with make(fake) as claude:
        await claude.rate_image(buf.getvalue())
    source = fake.seen[0].json()["messages"][0]["content"][0]["source"]
    assert source["media_type"] == "image/jpeg"
    import base64
    with Image.open(io.BytesIO(base64.b64decode(source["data"]))) as sent:
        assert max(sent.size) == 1568


async def test_corpus_file_can_be_rated(fake: FakeAnthropic) -> None:
    images = sorted(p for p in CORPUS.glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
    async with make(fake) as claude:
        rating = await claude.rate_image(images[0])
    assert 0 <= rating.score <= 100


@pytest.mark.parametrize("blob, match", [
    (b"", "empty"),
    (b"definitely not an image", "cannot rate this file"),
    (png_bytes(200, 200)[:60], "cannot"),
])
async def test_bad_image_input_fails_before_sending(fake: FakeAnthropic, blob: bytes, match: str) -> None:
    async with make(fake) as claude:
        with pytest.raises(ProviderRequestError, match=match):
            await claude.rate_image(blob)
    assert fake.seen == []


async def test_strict_schema(fake: FakeAnthropic) -> None:
    async with make(fake) as claude:
        fake.vision_text = '{"score": 70.5, "defects": [], "tags": []}'
        with pytest.raises(ProviderMalformedResponse, match="whole number"):
            await claude.rate_image(png_bytes())
        fake.vision_text = '{"score": true, "defects": [], "tags": []}'
        with pytest.raises(ProviderMalformedResponse):
            await claude.rate_image(png_bytes())
        fake.vision_text = 'Sure! {"score": 91, "defects": [], "tags": ["Landscape"]} hope it helps'
        assert (await claude.rate_image(png_bytes())).tags == ["landscape"]


async def test_malformed_message_envelope(fake: FakeAnthropic) -> None:
    async with make(fake) as claude:
        fake.fail("messages", Fault(200, {"type": "message", "usage": {"input_tokens": 1, "output_tokens": 1}}))
        with pytest.raises(ProviderMalformedResponse, match="no content"):
            await claude.rate_image(png_bytes())


async def test_overloaded_529_is_retried(fake: FakeAnthropic) -> None:
    fake.fail("messages", Fault(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    async with make(fake) as claude:
        assert (await claude.rate_image(png_bytes())).score == 64
    assert fake.count("messages") == 2


async def test_overloaded_for_good_then_circuit_opens(fake: FakeAnthropic) -> None:
    clock = Clock()
    fake.fail("messages", *[Fault(529, {"type": "error", "error": {"type": "overloaded_error",
                                                                    "message": "Overloaded"}})] * 4)
    async with make(fake, clock=clock, max_retries=1, failure_threshold=4, cooldown_s=20) as claude:
        for _ in range(2):
            with pytest.raises(ProviderTransientError, match="Overloaded"):
                await claude.rate_image(png_bytes())
        with pytest.raises(ProviderUnavailable):
            await claude.rate_image(png_bytes())
        assert claude.health()["circuit"]["state"] == "open"
        clock.advance(20)
        assert (await claude.rate_image(png_bytes())).score == 64
        assert claude.health()["circuit"]["state"] == "closed"


async def test_timeout(fake: FakeAnthropic) -> None:
    fake.fail("messages", Fault(200, {}, delay_s=0.5))
    async with make(fake, timeout_s=0.1, max_retries=0) as claude:
        with pytest.raises(ProviderTimeout):
            await claude.rate_image(png_bytes())


async def test_budget_hook_sees_an_estimate_and_can_refuse(fake: FakeAnthropic) -> None:
    def refuse(estimate) -> None:
        assert estimate.unit.value == "million_tokens" and estimate.usd > 0
        raise BudgetExceeded("anthropic", "daily vision budget spent")

    async with make(fake, budget_check=refuse) as claude:
        with pytest.raises(BudgetExceeded):
            await claude.rate_image(png_bytes())
    assert fake.seen == []


async def test_wrong_key_never_appears(fake: FakeAnthropic, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-ant-api03-WRONG-zzzzzzzz"
    settings = ProviderSettings.from_mapping("anthropic", {"base_url": fake.url}, env={"ANTHROPIC_API_KEY": wrong})
    with capture_logs() as events:
        async with AnthropicProvider(settings, sleep=Sleeps()) as claude:
            with pytest.raises(ProviderAuthError, match="invalid x-api-key \\*\\*\\*") as info:
                await claude.rate_image(png_bytes())
    out = capsys.readouterr()
    assert_no_secret(wrong, info.value, events, caplog.text, out.out, out.err)


async def test_the_vision_stage_bounds_its_cost_and_sends_the_context(fake: FakeAnthropic) -> None:
    from alice.providers.vision import PROMPT

    async with make(fake) as claude:
        # Admitted before the image is read: the largest image, the instructions, the longest context.
        bound = claude.stage_estimate("vision", "claude-haiku-4-5")
        tokens_in = 1600 + len(PROMPT) // 3 + 700
        assert bound.basis == f"{tokens_in} in x $1/Mtok + 800 out x $5/Mtok"
        rating = await claude.run_stage("vision", png_bytes(40, 30), model="claude-haiku-4-5",
                                        context=lambda: "a neon portrait")
    assert rating.score == 64
    sent = fake.seen[0].json()["messages"][0]["content"]
    assert any("a neon portrait" in (part.get("text") or "") for part in sent)
