"""BFL FLUX API provider against its local fake: submit, poll the polling_url, read result.sample."""
from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from alice.daemon.generation.deliver import stage_output
from alice.providers.bfl import BflProvider
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
from alice.providers.results import JobState
from tests.fakes.bfl import FakeBfl
from tests.fakes.harness import Clock, Sleeps, assert_no_secret, provider_for, settings_for
from tests.fakes.server import Fault

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake():
    with FakeBfl() as server:
        yield server


def make(fake: FakeBfl, **overrides) -> BflProvider:
    return provider_for(BflProvider, "bfl", fake, **overrides)


async def test_generation_polls_until_ready_and_downloads(fake: FakeBfl, tmp_path: Path) -> None:
    async with make(fake) as bfl:
        result = await bfl.generate("flux-pro-1.1", {"prompt": "a lighthouse", "width": 1024, "height": 768})
    assert result.status is JobState.COMPLETED and result.cost_usd == Decimal("0.0400")
    assert result.outputs[0].url.startswith(fake.url) and result.outputs[0].media_type == "image/png"
    submit = next(s for s in fake.seen if s.route == "submit")
    assert submit.path == "/v1/flux-pro-1.1" and submit.headers["x-key"] == fake.api_key
    assert fake.count("poll") == 4          # Pending, Pending, Ready, then the result read

    path = await stage_output(result.outputs[0], tmp_path)
    # The signed query string is not part of the file name.
    assert path.name.endswith(".png") and "sig" not in path.name
    assert path.read_bytes().startswith(b"\x89PNG")
    # The CDN URL got no API key.
    assert "x-key" not in next(s for s in fake.seen if s.route == "file").headers

    # The provider's own download client (kept across outputs) sends no key either.
    async with make(fake) as bfl:
        again = await stage_output(result.outputs[0], tmp_path, stem="again", provider=bfl)
    assert again.name == "again.png" and again.read_bytes() == path.read_bytes()
    assert all("x-key" not in s.headers for s in fake.seen if s.route == "file")


@pytest.mark.parametrize("final", ["Content Moderated", "Request Moderated", "Error"])
async def test_moderated_or_failed_jobs_raise(fake: FakeBfl, final: str) -> None:
    fake.steps = ["Pending", final]
    async with make(fake) as bfl:
        with pytest.raises(ProviderJobFailed, match=final):
            await bfl.generate("flux-dev", {"prompt": "x"})


async def test_unknown_task_is_a_failure_not_a_hang(fake: FakeBfl) -> None:
    async with make(fake) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
        fake.jobs.clear()
        status = await bfl.status(job)
    assert status.state is JobState.FAILED and status.detail == "Task not found"


async def test_foreign_polling_host_does_not_get_the_key(fake: FakeBfl) -> None:
    fake.polling_base = "http://198.51.100.7:9"
    async with make(fake) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
        with pytest.raises(ProviderMalformedResponse, match="refusing to send the API key"):
            await bfl.status(job)
    assert fake.count("poll") == 0


async def test_regional_sibling_host_is_trusted() -> None:
    settings = ProviderSettings.from_mapping("bfl", {"api_key": "k" * 20}, env={})
    bfl = BflProvider(settings)
    assert bfl._trusted("https://api.us1.bfl.ai/v1/get_result?id=1")
    assert not bfl._trusted("https://api.bfl.ai.evil.com/v1/get_result")
    assert not bfl._trusted("http://api.bfl.ai/v1/get_result")     # no downgrade to plain HTTP
    await bfl.aclose()


async def test_rate_limited_polls_wait_and_continue(fake: FakeBfl) -> None:
    sleeps = Sleeps()
    async with BflProvider(settings_for("bfl", fake), sleep=sleeps) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
        fake.fail("poll", Fault(429, {"detail": "Too many requests"}, {"Retry-After": "2"}))
        assert (await bfl.status(job)).state is JobState.RUNNING
    assert 2.0 in sleeps.waits


async def test_5xx_on_submit_retried(fake: FakeBfl) -> None:
    fake.fail("submit", Fault(500), Fault(503))
    async with make(fake) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
    assert fake.count("submit") == 3 and job.request_id in fake.jobs


async def test_circuit_opens_and_closes(fake: FakeBfl) -> None:
    clock = Clock()
    fake.fail("submit", *[Fault(503)] * 2)
    async with make(fake, clock=clock, max_retries=0, failure_threshold=2, cooldown_s=5) as bfl:
        for _ in range(2):
            with pytest.raises(ProviderTransientError):
                await bfl.submit("flux-dev", {"prompt": "x"})
        with pytest.raises(ProviderUnavailable):
            await bfl.submit("flux-dev", {"prompt": "x"})
        clock.advance(5)
        await bfl.submit("flux-dev", {"prompt": "x"})
        assert bfl.breaker.state is CircuitState.CLOSED


async def test_slow_poll_times_out(fake: FakeBfl) -> None:
    async with make(fake, timeout_s=0.15, max_retries=0) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
        fake.fail("poll", Fault(200, {"status": "Pending"}, delay_s=0.6))
        with pytest.raises(ProviderTimeout):
            await bfl.status(job)


@pytest.mark.parametrize("body, match", [
    ({"id": "x"}, "no status"),
    ({"id": "x", "status": "Exploded"}, "unknown status"),
    ("Service Unavailable", "not JSON"),
])
async def test_malformed_poll_answers(fake: FakeBfl, body, match: str) -> None:
    async with make(fake) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
        fake.fail("poll", Fault(200, body))
        with pytest.raises(ProviderMalformedResponse, match=match):
            await bfl.status(job)


async def test_ready_without_sample_is_malformed(fake: FakeBfl) -> None:
    async with make(fake) as bfl:
        job = await bfl.submit("flux-dev", {"prompt": "x"})
        fake.fail("poll", Fault(200, {"id": job.request_id, "status": "Ready", "result": {}}))
        with pytest.raises(ProviderMalformedResponse, match="without result.sample"):
            await bfl.result(job)


async def test_validation_error_carries_the_services_words(fake: FakeBfl) -> None:
    async with make(fake) as bfl:
        with pytest.raises(ProviderRequestError, match="Field required") as info:
            await bfl.submit("flux-dev", {"prompt": ""})
    assert info.value.status == 422


async def test_wrong_key_is_refused_and_masked(fake: FakeBfl, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "bfl-wrong-0000-SECRET"
    settings = ProviderSettings.from_mapping("bfl", {"base_url": fake.url}, env={"BFL_API_KEY": wrong})
    with capture_logs() as events:
        async with BflProvider(settings, sleep=Sleeps()) as bfl:
            with pytest.raises(ProviderAuthError, match="HTTP 403") as info:
                await bfl.submit("flux-dev", {"prompt": "x"})
    out = capsys.readouterr()
    assert_no_secret(wrong, info.value, events, caplog.text, out.out, out.err)
    assert fake.seen[0].headers["x-key"] == wrong
