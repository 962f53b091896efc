"""A1111 (Forge, SD.Next) provider against its local fake: checkpoint check,
txt2img/img2img with base64 images and the `info` JSON string, errors, timeouts."""
from __future__ import annotations

import base64
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from alice.daemon.generation.deliver import stage_output
from alice.pipeline.generation import Generation
from alice.pipeline.rerun import a1111 as rerun
from alice.pipeline.rerun.overrides import Overrides
from alice.providers.a1111 import IMG2IMG, TXT2IMG, A1111Provider
from alice.providers.capabilities import Capability
from alice.providers.circuit import CircuitState
from alice.providers.errors import (
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from alice.providers.results import JobState
from tests.fakes.a1111 import FakeA1111
from tests.fakes.harness import Clock, provider_for
from tests.fakes.server import Fault, png_bytes

pytestmark = pytest.mark.anyio

RECORD = Generation(prompt="a lighthouse at dusk", negative_prompt="blurry", seed=1234, steps=25, cfg=6.5,
                    sampler="DPM++ 2M", scheduler="Karras", model="v1-5-pruned-emaonly", model_hash="6ce0161689",
                    width=512, height=768)


@pytest.fixture
def fake():
    with FakeA1111() as server:
        yield server


def make(fake: FakeA1111, **overrides: Any) -> A1111Provider:
    overrides.setdefault("api_key", None)
    return provider_for(A1111Provider, "a1111", fake, **overrides)


async def test_txt2img_from_a_record_returns_the_images_and_their_info(fake: FakeA1111, tmp_path: Path) -> None:
    seen_estimates = []
    body = rerun.payload(RECORD, {"Clip skip": "2"}, Overrides(seed=99))
    async with make(fake, budget_check=seen_estimates.append) as a1111:
        result = await a1111.generate(TXT2IMG, body)
    assert result.status is JobState.COMPLETED and result.cost_usd == Decimal("0")
    assert [e.usd for e in seen_estimates] == [Decimal("0")]
    sent = fake.requests[0]
    assert sent["seed"] == 99 and sent["steps"] == 25 and sent["cfg_scale"] == 6.5
    assert sent["sampler_name"] == "DPM++ 2M" and sent["scheduler"] == "Karras"
    # The record's model name becomes the server's exact title, so A1111 cannot fall back silently.
    assert sent["override_settings"] == {"sd_model_checkpoint": "v1-5-pruned-emaonly.safetensors [6ce0161689]",
                                         "CLIP_stop_at_last_layers": 2}
    assert sent["override_settings_restore_afterwards"] is True
    [output] = result.outputs
    assert output.media_type == "image/png" and output.filename == "txt2img-99"
    path = await stage_output(output, tmp_path)
    with Image.open(path) as img:
        assert "Seed: 99" in img.text["parameters"]
    assert result.raw["info"]["all_seeds"] == [99] and result.raw["parameters"]["prompt"] == "a lighthouse at dusk"
    assert all("authorization" not in s.headers for s in fake.seen)


async def test_a_batch_drops_the_grid(fake: FakeA1111) -> None:
    body = {**rerun.payload(RECORD), "batch_size": 3}
    async with make(fake) as a1111:
        result = await a1111.generate(TXT2IMG, body)
    assert [o.filename for o in result.outputs] == ["txt2img-1234", "txt2img-1235", "txt2img-1236"]
    for output in result.outputs:
        with Image.open(io.BytesIO(output.data)) as img:
            assert "Seed: 0" not in img.text["parameters"]      # the fake's grid carries seed 0


@pytest.mark.parametrize("name", ["v1-5-pruned-emaonly", "v1-5-pruned-emaonly.safetensors", "6ce0161689",
                                  "6ce0161689b3853a", "V1-5-PRUNED-EMAONLY.safetensors [6ce0161689]"])
async def test_checkpoints_are_found_by_any_name_a_record_uses(fake: FakeA1111, name: str) -> None:
    async with make(fake) as a1111:
        assert await a1111.resolve_checkpoint(name) == "v1-5-pruned-emaonly.safetensors [6ce0161689]"
        assert await a1111.resolve_checkpoint("juggernautXL_v9") == "sdxl/juggernautXL_v9.safetensors [c9e3e68f89]"


async def test_an_unknown_checkpoint_is_refused_before_generating(fake: FakeA1111) -> None:
    body = rerun.payload(RECORD, overrides=Overrides(model="dreamshaper_8"))
    async with make(fake) as a1111:
        with pytest.raises(ProviderRequestError, match="no checkpoint 'dreamshaper_8'; it has: "
                                                       "v1-5-pruned-emaonly.safetensors \\[6ce0161689\\], sdxl/"):
            await a1111.generate(TXT2IMG, body)
    assert fake.count("generate") == 0


async def test_img2img_sends_the_init_images(fake: FakeA1111, tmp_path: Path) -> None:
    source = tmp_path / "start.png"
    source.write_bytes(png_bytes(color=(9, 9, 9)))
    body = rerun.payload(RECORD, overrides=Overrides(denoise=0.45), img2img=True)
    async with make(fake) as a1111:
        result = await a1111.generate(IMG2IMG, body, init_images=[source])
    sent = next(s for s in fake.seen if s.route == "generate")
    assert sent.path == "/sdapi/v1/img2img"
    assert base64.b64decode(sent.json()["init_images"][0]) == source.read_bytes()
    assert sent.json()["denoising_strength"] == 0.45
    assert "init_images" not in result.raw["parameters"]        # no base64 blobs in the record


@pytest.mark.parametrize("model, kwargs, match", [
    (IMG2IMG, {}, "img2img needs at least one init image"),
    (TXT2IMG, {"init_images": [b"x"]}, "txt2img takes no init images"),
    ("inpaint", {}, "unknown model 'inpaint'"),
    (TXT2IMG, {"mask": b"x"}, "unexpected inputs \\['mask'\\]"),
])
async def test_wrong_inputs_are_refused_before_sending(fake: FakeA1111, model: str, kwargs: dict, match: str) -> None:
    async with make(fake) as a1111:
        with pytest.raises(ProviderRequestError, match=match):
            await a1111.generate(model, {"prompt": "x"}, **kwargs)
    assert fake.seen == []


async def test_a_failed_run_carries_the_exception_text(fake: FakeA1111) -> None:
    oom = {"error": "OutOfMemoryError", "detail": "", "body": "",
           "errors": "CUDA out of memory. Tried to allocate 2.00 GiB"}
    fake.fail("generate", *[Fault(500, oom)] * 3)
    async with make(fake) as a1111:
        with pytest.raises(ProviderTransientError, match="HTTP 500 OutOfMemoryError: CUDA out of memory"):
            await a1111.generate(TXT2IMG, {"prompt": "x"})
    assert fake.count("generate") == 3           # 5xx is retried like every provider's


async def test_an_unknown_sampler_is_a_request_error_not_retried(fake: FakeA1111) -> None:
    async with make(fake) as a1111:
        with pytest.raises(ProviderRequestError, match="HTTP 404: Sampler not found"):
            await a1111.generate(TXT2IMG, {"prompt": "x", "sampler_name": "Heun++"})
    assert fake.count("generate") == 1


async def test_a_validation_error_names_the_field(fake: FakeA1111) -> None:
    async with make(fake) as a1111:
        with pytest.raises(ProviderRequestError, match="value is not a valid integer") as info:
            await a1111.generate(TXT2IMG, {"prompt": "x", "steps": "many"})
    assert info.value.status == 422


async def test_a_busy_server_answers_when_its_queue_reaches_us(fake: FakeA1111) -> None:
    # A1111 runs one job at a time; a request queued behind another just answers later.
    fake.delays["generate"] = 0.3
    async with make(fake, timeout_s=2.0) as a1111:
        result = await a1111.generate(TXT2IMG, {"prompt": "x", "seed": 5})
    assert result.outputs[0].filename == "txt2img-5" and fake.count("generate") == 1


async def test_a_slow_generation_times_out_without_a_second_run(fake: FakeA1111) -> None:
    fake.delays["generate"] = 0.6
    async with make(fake, timeout_s=0.15) as a1111:
        with pytest.raises(ProviderTimeout, match="providers.a1111.timeout_s"):
            await a1111.generate(TXT2IMG, {"prompt": "x"})
    # The request may still be generating: re-sending it would start a second run.
    assert fake.count("generate") == 1


async def test_circuit_opens_and_closes(fake: FakeA1111) -> None:
    clock = Clock()
    fake.fail("generate", Fault(503), Fault(503))
    async with make(fake, clock=clock, max_retries=0, failure_threshold=2, cooldown_s=5) as a1111:
        for _ in range(2):
            with pytest.raises(ProviderTransientError):
                await a1111.generate(TXT2IMG, {"prompt": "x"})
        with pytest.raises(ProviderUnavailable):
            await a1111.generate(TXT2IMG, {"prompt": "x"})
        clock.advance(5)
        await a1111.generate(TXT2IMG, {"prompt": "x"})
        assert a1111.breaker.state is CircuitState.CLOSED


@pytest.mark.parametrize("body, match", [
    ({"images": ["%%%"], "parameters": {}, "info": "{}"}, "not valid base64"),
    ({"images": [base64.b64encode(b"x").decode()], "parameters": {}, "info": "Seed: 1"}, "info is not JSON"),
    ({"images": [base64.b64encode(b"x").decode()], "parameters": {}}, "info is missing"),
    ({"parameters": {}, "info": "{}"}, "no images list"),
    ({"images": [], "parameters": {}, "info": "{}"}, "no images"),
    ("<html>Gateway</html>", "not JSON"),
])
async def test_malformed_answers(fake: FakeA1111, body: Any, match: str) -> None:
    fake.fail("generate", Fault(200, body))
    async with make(fake) as a1111:
        with pytest.raises(ProviderMalformedResponse, match=match):
            await a1111.generate(TXT2IMG, {"prompt": "x"})


async def test_a_malformed_model_list_is_reported(fake: FakeA1111) -> None:
    fake.fail("sd_models", Fault(200, {"models": []}))
    async with make(fake) as a1111:
        with pytest.raises(ProviderMalformedResponse, match="not a list of checkpoints"):
            await a1111.generate(TXT2IMG, rerun.payload(RECORD))


async def test_the_job_api_points_to_generate(fake: FakeA1111) -> None:
    async with make(fake) as a1111:
        with pytest.raises(ProviderRequestError, match="synchronously; call generate"):
            await a1111.submit(TXT2IMG, {"prompt": "x"})


def test_capabilities_are_declared() -> None:
    assert {Capability.GENERATE, Capability.SYNCHRONOUS, Capability.A1111_PAYLOAD, Capability.LOCAL} \
        <= A1111Provider.CAPABILITIES
    assert not A1111Provider.REQUIRES_KEY
