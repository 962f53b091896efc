"""Hedra talking-avatar provider against its fake: model lookup, two uploads, create, poll, download."""
from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from alice.daemon.generation.deliver import stage_output
from alice.providers.circuit import CircuitState
from alice.providers.config import ProviderSettings
from alice.providers.errors import (
    ProviderAuthError,
    ProviderJobFailed,
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from alice.providers.hedra import HedraProvider
from alice.providers.results import JobState
from tests.fakes.harness import Clock, Sleeps, assert_no_secret, provider_for
from tests.fakes.hedra import CHARACTER_2, FakeHedra
from tests.fakes.server import Fault, png_bytes

pytestmark = pytest.mark.anyio
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 28


@pytest.fixture
def fake():
    with FakeHedra() as server:
        yield server


def make(fake: FakeHedra, **overrides) -> HedraProvider:
    return provider_for(HedraProvider, "hedra", fake, **overrides)


async def test_avatar_from_files_end_to_end(fake: FakeHedra, tmp_path: Path) -> None:
    portrait = tmp_path / "face.png"
    portrait.write_bytes(png_bytes(64, 64))
    voice = tmp_path / "line.wav"
    voice.write_bytes(WAV)
    async with make(fake) as hedra:
        result = await hedra.generate("character-2", {"text_prompt": "smiling", "duration_ms": 6000},
                                      image=portrait, audio=voice)
    assert result.status is JobState.COMPLETED and result.cost_usd == Decimal("0.3000")
    created = next(s for s in fake.seen if s.route == "create_generation").json()
    assert created["ai_model_id"] == CHARACTER_2 and created["type"] == "video"
    assert created["generated_video_inputs"] == {"text_prompt": "smiling", "duration_ms": 6000,
                                                 "resolution": "540p", "aspect_ratio": "1:1"}
    uploads = [s for s in fake.seen if s.route == "upload"]
    assert len(uploads) == 2 and png_bytes(64, 64) in uploads[0].body and WAV in uploads[1].body
    assert all(s.headers["x-api-key"] == fake.api_key for s in fake.seen if s.route != "file")

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    path = await stage_output(result.outputs[0], out_dir)
    assert path.suffix == ".mp4" and b"ftyp" in path.read_bytes()


async def test_model_uuid_is_looked_up_once(fake: FakeHedra) -> None:
    async with make(fake) as hedra:
        for _ in range(2):
            await hedra.submit("character-3", {}, image=png_bytes(), audio=WAV)
    assert fake.count("models") == 1


async def test_explicit_model_id_skips_the_lookup(fake: FakeHedra) -> None:
    async with make(fake) as hedra:
        await hedra.submit("character-2", {"ai_model_id": CHARACTER_2}, image=png_bytes(), audio=WAV)
    assert fake.count("models") == 0


async def test_missing_inputs_are_refused_before_any_request(fake: FakeHedra, tmp_path: Path) -> None:
    async with make(fake) as hedra:
        with pytest.raises(ProviderRequestError, match="both image= and audio="):
            await hedra.submit("character-2", {}, image=png_bytes())
        with pytest.raises(ProviderRequestError, match="cannot read audio"):
            await hedra.submit("character-2", {"ai_model_id": CHARACTER_2}, image=png_bytes(),
                               audio=tmp_path / "missing.wav")
        with pytest.raises(ProviderRequestError, match="must be bytes or a path"):
            await hedra.submit("character-2", {"ai_model_id": CHARACTER_2}, image=12345, audio=WAV)
    assert fake.count("create_generation") == 0


async def test_error_status_raises_with_hedras_message(fake: FakeHedra) -> None:
    fake.job_error = "MODERATION_FAILED: input image rejected"
    async with make(fake) as hedra:
        with pytest.raises(ProviderJobFailed, match="MODERATION_FAILED"):
            await hedra.generate("character-2", {}, image=png_bytes(), audio=WAV)


async def test_upload_retried_after_a_dropped_connection(fake: FakeHedra) -> None:
    fake.fail("upload", Fault(drop=True))
    async with make(fake) as hedra:
        job = await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
    assert fake.count("upload") == 3 and job.request_id in fake.generations


async def test_create_generation_5xx_then_ok(fake: FakeHedra) -> None:
    fake.fail("create_generation", Fault(500, {"detail": "internal"}))
    async with make(fake) as hedra:
        result = await hedra.generate("character-2", {}, image=png_bytes(), audio=WAV)
    assert result.status is JobState.COMPLETED and fake.count("create_generation") == 2


async def test_circuit_opens_then_probe_closes(fake: FakeHedra) -> None:
    clock = Clock()
    fake.fail("models", *[Fault(503)] * 2)
    async with make(fake, clock=clock, max_retries=0, failure_threshold=2, cooldown_s=60) as hedra:
        for _ in range(2):
            with pytest.raises(ProviderTransientError):
                await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
        with pytest.raises(ProviderUnavailable):
            await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
        clock.advance(60)
        await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
        assert hedra.breaker.state is CircuitState.CLOSED


async def test_slow_status_times_out(fake: FakeHedra) -> None:
    async with make(fake, timeout_s=0.15, max_retries=0) as hedra:
        job = await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
        fake.fail("status", Fault(200, {"status": "queued"}, delay_s=0.6))
        with pytest.raises(ProviderTimeout):
            await hedra.status(job)


async def test_malformed_answers(fake: FakeHedra) -> None:
    async with make(fake) as hedra:
        fake.fail("create_asset", Fault(200, {"name": "no id"}))
        with pytest.raises(ProviderMalformedResponse, match="no id"):
            await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
        job = await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
        fake.fail("status", Fault(200, {"status": "teleporting"}))
        with pytest.raises(ProviderMalformedResponse, match="unknown status"):
            await hedra.status(job)
        fake.fail("status", Fault(200, {"status": "complete"}))
        with pytest.raises(ProviderMalformedResponse, match="without a video URL"):
            await hedra.result(job)
        fake.fail("models", Fault(200, {"models": "none"}))
        hedra._model_ids.clear()
        with pytest.raises(ProviderMalformedResponse, match="not a list"):
            await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)


async def test_unknown_model_name_at_hedra(fake: FakeHedra) -> None:
    fake.fail("models", Fault(200, [{"id": "x", "name": "Something Else"}]))
    async with make(fake) as hedra:
        with pytest.raises(ProviderRequestError, match="ai_model_id"):
            await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)


async def test_wrong_key_is_refused_and_masked(fake: FakeHedra, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "hedra-wrong-SECRET-1234"
    settings = ProviderSettings.from_mapping("hedra", {"base_url": fake.url}, env={"HEDRA_API_KEY": wrong})
    with capture_logs() as events:
        async with HedraProvider(settings, sleep=Sleeps()) as hedra:
            with pytest.raises(ProviderAuthError) as info:
                await hedra.submit("character-2", {}, image=png_bytes(), audio=WAV)
    assert "Invalid API key: ***" in str(info.value)
    out = capsys.readouterr()
    assert_no_secret(wrong, info.value, events, caplog.text, out.out, out.err)
