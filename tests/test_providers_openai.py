"""OpenAI provider against its fake: image generation (b64) and vision rating."""
from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from alice.daemon.generation.deliver import stage_output
from alice.providers.config import ProviderSettings
from alice.providers.errors import (
    ProviderAuthError,
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from alice.providers.openai import OpenAIProvider
from alice.providers.results import JobState
from tests.fakes.harness import Clock, Sleeps, assert_no_secret, provider_for, settings_for
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import Fault, png_bytes

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def make(fake: FakeOpenAI, **overrides) -> OpenAIProvider:
    return provider_for(OpenAIProvider, "openai", fake, **overrides)


async def test_image_generation_returns_bytes_and_saves(fake: FakeOpenAI, tmp_path: Path) -> None:
    async with make(fake) as openai:
        result = await openai.generate("gpt-image-1", {"prompt": "a teapot", "n": 2, "size": "1024x1024"})
    assert result.status is JobState.COMPLETED and result.cost_usd == Decimal("0.0840")
    assert [o.data[:4] for o in result.outputs] == [b"\x89PNG", b"\x89PNG"]
    assert "b64_json" not in str(result.raw)            # raw stays small enough for the catalog
    sent = fake.seen[0]
    assert sent.headers["authorization"] == f"Bearer {fake.api_key}" and sent.json()["model"] == "gpt-image-1"
    paths = [await stage_output(o, tmp_path, stem="teapot") for o in result.outputs]
    assert [p.name for p in paths] == ["teapot.png", "teapot-2.png"]     # never overwrites


async def test_dall_e_asks_for_base64(fake: FakeOpenAI) -> None:
    async with make(fake) as openai:
        await openai.generate("dall-e-3", {"prompt": "x"})
    assert fake.seen[0].json()["response_format"] == "b64_json"


async def test_vision_rating(fake: FakeOpenAI) -> None:
    async with make(fake) as openai:
        rating = await openai.rate_image(png_bytes(), context="prompt: a cat")
    assert rating.score == 82 and rating.defects == ["soft focus"] and rating.tags == ["cat", "portrait"]
    # 1000 in x $0.15/M + 50 out x $0.60/M
    assert rating.cost_usd == Decimal("0.0002") and rating.model == "gpt-4o-mini"
    body = fake.seen[0].json()
    assert body["response_format"] == {"type": "json_object"} and "max_completion_tokens" in body
    assert "prompt: a cat" in body["messages"][0]["content"][0]["text"]


async def test_vision_model_must_be_a_vision_model(fake: FakeOpenAI) -> None:
    async with make(fake) as openai:
        with pytest.raises(ProviderRequestError, match="cannot rate images"):
            await openai.rate_image(png_bytes(), model="gpt-image-1")
        with pytest.raises(ProviderRequestError, match="does not generate images"):
            await openai.generate("gpt-4o", {"prompt": "x"})
    assert fake.seen == []


@pytest.mark.parametrize("text, match", [
    ('{"score": 150, "defects": [], "tags": []}', "schema"),
    ('{"score": 70, "defects": "none", "tags": []}', "defects"),
    ("I can't rate this image.", "no JSON object"),
    ("", "empty answer"),
])
async def test_vision_answers_that_break_the_schema(fake: FakeOpenAI, text: str, match: str) -> None:
    fake.vision_text = text
    async with make(fake) as openai:
        with pytest.raises(ProviderMalformedResponse, match=match):
            await openai.rate_image(png_bytes())


async def test_refusal_and_missing_usage_are_malformed(fake: FakeOpenAI) -> None:
    async with make(fake) as openai:
        fake.fail("chat", Fault(200, {"choices": [{"message": {"content": None, "refusal": "I can't help"}}]}))
        with pytest.raises(ProviderMalformedResponse, match="refused"):
            await openai.rate_image(png_bytes())
        fake.usage = {}
        with pytest.raises(ProviderMalformedResponse, match="prompt_tokens"):
            await openai.rate_image(png_bytes())


async def test_overloaded_then_ok_and_rate_limit(fake: FakeOpenAI) -> None:
    sleeps = Sleeps()
    fake.fail("chat", Fault(500, {"error": {"message": "The server had an error"}}),
              Fault(429, {"error": {"message": "Rate limit reached"}}, {"retry-after-ms": "250"}))
    async with OpenAIProvider(settings_for("openai", fake), sleep=sleeps) as openai:
        rating = await openai.rate_image(png_bytes())
    assert rating.score == 82 and 0.25 in sleeps.waits and fake.count("chat") == 3


async def test_slow_vision_call_times_out_after_retries(fake: FakeOpenAI) -> None:
    fake.fail("chat", *[Fault(200, {}, delay_s=0.5)] * 2)
    async with make(fake, timeout_s=0.1, max_retries=1) as openai:
        with pytest.raises(ProviderTimeout):
            await openai.rate_image(png_bytes())
    assert fake.count("chat") == 2      # a rating is safe to repeat, so the timeout was retried


async def test_circuit_opens_and_recovers(fake: FakeOpenAI) -> None:
    clock = Clock()
    fake.fail("images", *[Fault(502)] * 3)
    async with make(fake, clock=clock, max_retries=0, failure_threshold=3, cooldown_s=1) as openai:
        for _ in range(3):
            with pytest.raises(ProviderTransientError):
                await openai.generate("gpt-image-1", {"prompt": "x"})
        with pytest.raises(ProviderUnavailable):
            await openai.generate("gpt-image-1", {"prompt": "x"})
        clock.advance(1)
        assert (await openai.generate("gpt-image-1", {"prompt": "x"})).outputs


async def test_malformed_image_answers(fake: FakeOpenAI) -> None:
    async with make(fake) as openai:
        fake.fail("images", Fault(200, {"data": []}))
        with pytest.raises(ProviderMalformedResponse, match="no data"):
            await openai.generate("gpt-image-1", {"prompt": "x"})
        fake.fail("images", Fault(200, {"data": [{"b64_json": "@@not base64@@"}]}))
        with pytest.raises(ProviderMalformedResponse, match="not valid base64"):
            await openai.generate("gpt-image-1", {"prompt": "x"})


async def test_bad_request_message_is_passed_on(fake: FakeOpenAI) -> None:
    async with make(fake) as openai:
        with pytest.raises(ProviderRequestError, match="Missing required parameter"):
            await openai.generate("gpt-image-1", {"size": "1024x1024"})


async def test_wrong_key_never_appears(fake: FakeOpenAI, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-proj-WRONG-abcdefghijklmnop"
    settings = ProviderSettings.from_mapping("openai", {"base_url": fake.url}, env={"OPENAI_API_KEY": wrong})
    with capture_logs() as events:
        async with OpenAIProvider(settings, sleep=Sleeps()) as openai:
            with pytest.raises(ProviderAuthError, match="Incorrect API key provided: \\*\\*\\*") as info:
                await openai.rate_image(png_bytes())
    out = capsys.readouterr()
    assert_no_secret(wrong, info.value, events, caplog.text, out.out, out.err)
