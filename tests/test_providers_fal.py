"""fal.ai provider against a local fake of the queue API. Also the home of the
base-class behaviours (retries, circuit, timeouts, redaction), exercised here
through a real HTTP round trip."""
from __future__ import annotations

import asyncio
import json
import logging
import socket
from decimal import Decimal
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from alice.daemon.generation.deliver import stage_output
from alice.providers.circuit import CircuitState
from alice.providers.config import ProviderSettings
from alice.providers.errors import (
    BudgetExceeded,
    ProviderAuthError,
    ProviderJobFailed,
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from alice.providers.fal import FalProvider
from alice.providers.results import JobState
from tests.fakes.fal import FakeFal
from tests.fakes.harness import Clock, Sleeps, assert_no_secret, provider_for, settings_for
from tests.fakes.server import Fault

pytestmark = pytest.mark.anyio
FLUX = "fal-ai/flux/dev"
KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


@pytest.fixture
def fake():
    with FakeFal() as server:
        yield server


def make(fake: FakeFal, sleeps: Sleeps | None = None, clock: Clock | None = None, **overrides) -> FalProvider:
    return provider_for(FalProvider, "fal", fake, sleep=sleeps, clock=clock, **overrides)


async def test_image_job_walks_the_queue_and_downloads(fake: FakeFal, tmp_path: Path) -> None:
    async with make(fake) as fal:
        result = await fal.generate(FLUX, {"prompt": "a red fox", "image_size": "square_hd", "num_images": 2})
    assert result.status is JobState.COMPLETED
    assert len(result.outputs) == 2 and result.outputs[0].media_type == "image/png"
    assert result.cost_usd == Decimal("0.0500")          # 2 images x 1 MP x $0.025
    assert fake.count("submit") == 1 and fake.count("status") == 3 and fake.count("result") == 1
    submitted = next(s for s in fake.seen if s.route == "submit")
    assert submitted.path == "/fal-ai/flux/dev" and submitted.json()["prompt"] == "a red fox"
    # Status and result go to the app path without the /dev subpath, as fal documents.
    assert all(s.path.startswith("/fal-ai/flux/requests/") for s in fake.seen if s.route in ("status", "result"))

    path = await stage_output(result.outputs[0], tmp_path)
    assert path.suffix == ".png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


async def test_video_job_prices_by_duration(fake: FakeFal) -> None:
    async with make(fake) as fal:
        result = await fal.generate(KLING, {"prompt": "waves", "duration": "10"})
    assert result.outputs[0].media_type == "video/mp4" and result.outputs[0].url.endswith(".mp4")
    assert result.cost_usd == Decimal("2.8000")


async def test_submit_returns_a_job_that_can_be_polled_later(fake: FakeFal) -> None:
    async with make(fake) as fal:
        job = await fal.submit(FLUX, {"prompt": "x"})
        assert job.request_id in fake.jobs and job.cost_usd == Decimal("0.0250")
        first = await fal.status(job)
        assert first.state is JobState.QUEUED and first.detail == "queue position 2"
        assert (await fal.status(job)).state is JobState.RUNNING
        assert (await fal.wait(job)).request_id == job.request_id


async def test_server_errors_are_retried_then_succeed(fake: FakeFal) -> None:
    sleeps = Sleeps()
    fake.fail("submit", Fault(500), Fault(503, body="<html>busy</html>"))
    async with make(fake, sleeps) as fal:
        result = await fal.generate(FLUX, {"prompt": "x"})
    assert result.status is JobState.COMPLETED
    assert fake.count("submit") == 3
    backoffs = sleeps.waits[:2]
    assert all(0 <= w <= 0.01 for w in backoffs)     # full jitter under backoff_max_s
    assert fal.breaker.state is CircuitState.CLOSED


async def test_rate_limit_honours_retry_after_with_a_cap(fake: FakeFal) -> None:
    sleeps = Sleeps()
    fake.fail("submit", Fault(429, {"detail": "slow down"}, {"Retry-After": "3"}),
              Fault(429, {"detail": "slow down"}, {"Retry-After": "120"}))
    async with make(fake, sleeps, retry_after_cap_s=5.0) as fal:
        await fal.submit(FLUX, {"prompt": "x"})
    assert sleeps.waits[:2] == [3.0, 5.0]
    # Being throttled says nothing about the service being down.
    assert fal.breaker.snapshot().consecutive_failures == 0


async def test_retries_give_up_with_the_services_message(fake: FakeFal) -> None:
    fake.fail("submit", *[Fault(502, {"detail": "bad gateway"})] * 3)
    async with make(fake) as fal:
        with pytest.raises(ProviderTransientError, match="HTTP 502 bad gateway") as info:
            await fal.submit(FLUX, {"prompt": "x"})
    assert info.value.status == 502 and fake.count("submit") == 3   # 1 + max_retries


async def test_client_errors_are_not_retried(fake: FakeFal) -> None:
    async with make(fake) as fal:
        with pytest.raises(ProviderRequestError, match="field required") as info:
            await fal.submit(FLUX, {"not_a_prompt": 1})
    assert info.value.status == 422 and fake.count("submit") == 1


async def test_circuit_opens_refuses_then_half_open_probe_closes_it(fake: FakeFal) -> None:
    clock = Clock()
    fake.fail("submit", *[Fault(500)] * 3)
    async with make(fake, clock=clock, max_retries=0, failure_threshold=3, cooldown_s=30) as fal:
        for _ in range(3):
            with pytest.raises(ProviderTransientError):
                await fal.submit(FLUX, {"prompt": "x"})
        assert fal.breaker.state is CircuitState.OPEN
        with pytest.raises(ProviderUnavailable) as info:
            await fal.submit(FLUX, {"prompt": "x"})
        assert info.value.retry_in_s == pytest.approx(30)
        assert fake.count("submit") == 3                    # refused without a request
        assert fal.health()["circuit"]["state"] == "open" and fal.health()["healthy"] is False
        assert fal.metrics.registry.get_sample_value("alice_provider_circuit_state", {"provider": "fal"}) == 2

        clock.advance(31)
        assert fal.breaker.state is CircuitState.HALF_OPEN
        await fal.submit(FLUX, {"prompt": "x"})             # the probe succeeds
        assert fal.breaker.state is CircuitState.CLOSED
        assert fal.breaker.snapshot().times_opened == 1
        assert fal.metrics.registry.get_sample_value("alice_provider_circuit_state", {"provider": "fal"}) == 0


async def test_half_open_sends_one_probe_while_others_are_refused(fake: FakeFal) -> None:
    clock = Clock()
    fake.fail("submit", Fault(500), Fault(200, {"request_id": "probe"}, delay_s=0.2))
    async with make(fake, clock=clock, max_retries=0, failure_threshold=1, cooldown_s=30) as fal:
        with pytest.raises(ProviderTransientError):
            await fal.submit(FLUX, {"prompt": "x"})
        clock.advance(30)
        outcomes = await asyncio.gather(*(fal.submit(FLUX, {"prompt": "x"}) for _ in range(5)),
                                        return_exceptions=True)
    refused = [o for o in outcomes if isinstance(o, ProviderUnavailable)]
    assert len(refused) == 4 and "probe request" in str(refused[0])
    assert [o.request_id for o in outcomes if not isinstance(o, Exception)] == ["probe"]
    assert fake.count("submit") == 2


async def test_failed_half_open_probe_reopens_the_circuit(fake: FakeFal) -> None:
    clock = Clock()
    fake.fail("submit", *[Fault(500)] * 4)
    async with make(fake, clock=clock, max_retries=0, failure_threshold=3, cooldown_s=30) as fal:
        for _ in range(3):
            with pytest.raises(ProviderTransientError):
                await fal.submit(FLUX, {"prompt": "x"})
        clock.advance(31)
        with pytest.raises(ProviderTransientError):
            await fal.submit(FLUX, {"prompt": "x"})
        assert fal.breaker.state is CircuitState.OPEN
        with pytest.raises(ProviderUnavailable):
            await fal.submit(FLUX, {"prompt": "x"})
        assert fake.count("submit") == 4


async def test_circuit_opening_mid_retries_stops_the_retries(fake: FakeFal) -> None:
    fake.fail("submit", *[Fault(500)] * 10)
    async with make(fake, max_retries=5, failure_threshold=2) as fal:
        with pytest.raises(ProviderUnavailable):
            await fal.submit(FLUX, {"prompt": "x"})
    assert fake.count("submit") == 2


async def test_slow_status_times_out_and_is_retried_for_reads(fake: FakeFal) -> None:
    async with make(fake, timeout_s=0.2, max_retries=1) as fal:
        job = await fal.submit(FLUX, {"prompt": "x"})
        fake.fail("status", Fault(200, {"status": "IN_QUEUE"}, delay_s=1.0))
        assert (await fal.status(job)).state is JobState.QUEUED    # second attempt answered
        fake.fail("status", *[Fault(200, {"status": "IN_QUEUE"}, delay_s=1.0)] * 2)
        with pytest.raises(ProviderTimeout, match="timeout_s=0.2"):
            await fal.status(job)
    assert fake.count("status") == 4   # two calls, each first attempt timed out


async def test_slow_submit_is_not_resent(fake: FakeFal) -> None:
    # Re-sending a submission whose answer never came could start (and bill) a second job.
    fake.fail("submit", Fault(200, {"request_id": "late"}, delay_s=1.0))
    async with make(fake, timeout_s=0.2, max_retries=3) as fal:
        with pytest.raises(ProviderTimeout):
            await fal.submit(FLUX, {"prompt": "x"})
    assert fake.count("submit") == 1


async def test_connection_refused_is_transient() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    settings = ProviderSettings.from_mapping("fal", {"base_url": f"http://127.0.0.1:{port}", "api_key": "k" * 20,
                                                     "max_retries": 1, "backoff_base_s": 0.001}, env={})
    async with FalProvider(settings, sleep=Sleeps()) as fal:
        with pytest.raises(ProviderTransientError, match="could not reach 127.0.0.1"):
            await fal.submit(FLUX, {"prompt": "x"})
        assert fal.breaker.snapshot().total_failures == 2


@pytest.mark.parametrize("fault, match", [
    (Fault(200, "<html>gateway</html>"), "not JSON"),
    (Fault(200, {"queued": True}), "no request_id"),
    (Fault(200, b"\xff\xfe\x00garbage"), "not JSON"),
    (Fault(200, b"this is not gzip", {"Content-Encoding": "gzip"}), "broken content encoding"),
])
async def test_malformed_submit_answers(fake: FakeFal, fault: Fault, match: str) -> None:
    fake.fail("submit", fault)
    async with make(fake) as fal:
        with pytest.raises(ProviderMalformedResponse, match=match):
            await fal.submit(FLUX, {"prompt": "x"})
    assert fake.count("submit") == 1


async def test_malformed_status_and_result(fake: FakeFal) -> None:
    async with make(fake) as fal:
        job = await fal.submit(FLUX, {"prompt": "x"})
        fake.fail("status", Fault(200, {"status": "SOMETHING_NEW"}))
        with pytest.raises(ProviderMalformedResponse, match="SOMETHING_NEW"):
            await fal.status(job)
        fake.fail("result", Fault(200, {"images": [{"width": 3}]}))
        with pytest.raises(ProviderMalformedResponse, match="output without a url"):
            await fal.result(job)
        fake.fail("result", Fault(200, {"nothing": []}))
        with pytest.raises(ProviderMalformedResponse, match="no images, video or audio"):
            await fal.result(job)


async def test_oversized_answer_is_refused_not_buffered(fake: FakeFal) -> None:
    fake.fail("submit", Fault(200, {"request_id": "x", "pad": "a" * 50_000}))
    async with make(fake, max_response_bytes=10_000) as fal:
        with pytest.raises(ProviderMalformedResponse, match="larger than"):
            await fal.submit(FLUX, {"prompt": "x"})


async def test_failed_job_raises_with_the_reason(fake: FakeFal) -> None:
    fake.job_error = "CUDA out of memory"
    async with make(fake) as fal:
        with pytest.raises(ProviderJobFailed, match="CUDA out of memory") as info:
            await fal.generate(FLUX, {"prompt": "x"})
    assert info.value.request_id in fake.jobs


async def test_job_that_never_finishes_times_out(fake: FakeFal) -> None:
    fake.steps = ["IN_QUEUE"]
    clock = Clock()
    sleeps = Sleeps()

    async def advancing_sleep(seconds: float) -> None:
        clock.advance(seconds)
        await sleeps(seconds)

    fal = FalProvider(settings_for("fal", fake, poll_interval_s=10, poll_timeout_s=60),
                      clock=clock, sleep=advancing_sleep)
    async with fal:
        with pytest.raises(ProviderTimeout, match="still queued after 60s"):
            await fal.generate(FLUX, {"prompt": "x"})
    assert 6 <= fake.count("status") <= 8


async def test_budget_hook_refusal_sends_nothing(fake: FakeFal) -> None:
    seen = []

    def budget(estimate) -> None:
        seen.append(estimate)
        if estimate.usd > Decimal("1"):
            raise BudgetExceeded("fal", f"${estimate.usd} would pass today's $1 budget")

    async with FalProvider(settings_for("fal", fake), budget_check=budget, sleep=Sleeps()) as fal:
        await fal.submit(FLUX, {"prompt": "cheap"})
        with pytest.raises(BudgetExceeded, match="budget"):
            await fal.submit(KLING, {"prompt": "dear", "duration": "10"})
    assert [str(e.usd) for e in seen] == ["0.0250", "2.8000"]
    assert fake.count("submit") == 1


async def test_unknown_model_and_bad_params_are_request_errors(fake: FakeFal) -> None:
    async with make(fake) as fal:
        with pytest.raises(ProviderRequestError, match="unknown model"):
            await fal.submit("fal-ai/nope", {"prompt": "x"})
        with pytest.raises(ProviderRequestError, match="num_images"):
            await fal.submit(FLUX, {"prompt": "x", "num_images": "many"})
        with pytest.raises(ProviderRequestError, match="params must be a mapping"):
            await fal.submit(FLUX, ["prompt"])
    assert fake.count("submit") == 0


async def test_missing_key_fails_before_sending(fake: FakeFal) -> None:
    settings = ProviderSettings.from_mapping("fal", {"base_url": fake.url}, env={})
    async with FalProvider(settings) as fal:
        with pytest.raises(ProviderAuthError, match="FAL|api_key"):
            await fal.submit(FLUX, {"prompt": "x"})
    assert fake.seen == []


async def test_wrong_key_is_an_auth_error_and_never_leaks(fake: FakeFal, caplog, capsys) -> None:
    wrong = "fal-wrong-key-SECRET-98765"
    caplog.set_level(logging.DEBUG)
    settings = ProviderSettings.from_mapping("fal", {"base_url": fake.url, "max_retries": 0}, env={"FAL_KEY": wrong})
    with capture_logs() as events:
        async with FalProvider(settings, sleep=Sleeps()) as fal:
            with pytest.raises(ProviderAuthError) as info:
                await fal.submit(FLUX, {"prompt": "x"})
            provider_repr = repr(fal)
    # The fake echoed the key back in its error body; we must have masked it.
    assert "Invalid credentials" in str(info.value) and "***" in str(info.value)
    assert fake.seen[0].headers["authorization"] == f"Key {wrong}"     # it was sent, to the service only
    out = capsys.readouterr()
    assert_no_secret(wrong, info.value, provider_repr, settings, events, caplog.text, out.out, out.err)
    assert fake.count("submit") == 1
    # A traceback rendered with local variables must not show it either.
    tb = info.tb
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).parent.name == "providers":
            assert_no_secret(wrong, *(repr(v) for v in tb.tb_frame.f_locals.values()))
        tb = tb.tb_next


async def test_key_never_in_logs_across_a_messy_run(fake: FakeFal, caplog, capsys) -> None:
    caplog.set_level(logging.DEBUG)
    fake.fail("submit", Fault(500, {"detail": f"upstream saw key {fake.api_key}"}),
              Fault(429, {"detail": "wait"}, {"Retry-After": "0"}))
    fake.fail("status", Fault(200, f"not json {fake.api_key}"))
    errors = []
    with capture_logs() as events:
        async with make(fake) as fal:
            job = await fal.submit(FLUX, {"prompt": "x"})
            try:
                await fal.status(job)
            except ProviderMalformedResponse as exc:
                errors.append(exc)
            await fal.wait(job)
    assert events and any(e["event"] == "provider.retry" for e in events)
    assert errors and "***" in str(errors[0])
    out = capsys.readouterr()
    assert_no_secret(fake.api_key, events, caplog.text, out.out, out.err, *errors)
    assert_no_secret(fake.api_key, json.dumps([e for e in events], default=str))


async def test_key_is_not_sent_to_a_foreign_host(fake: FakeFal) -> None:
    async with make(fake) as fal:
        job = await fal.submit(FLUX, {"prompt": "x"})
        evil = type(job)(job.provider, job.model, job.request_id,
                         {"status": "http://203.0.113.9/steal", "result": job.urls["result"]})
        with pytest.raises(ProviderMalformedResponse, match="refusing to send the API key"):
            await fal.status(evil)
