"""ComfyUI provider against its local fake: object_info check, /prompt, /history
polling through queued -> running -> done | error, /view outputs, input uploads."""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from alice.daemon.generation.deliver import stage_output
from alice.providers.capabilities import Capability
from alice.providers.circuit import CircuitState
from alice.providers.comfyui import WORKFLOW, ComfyUiProvider
from alice.providers.errors import (
    ProviderJobFailed,
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from alice.providers.results import JobState
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.harness import Clock, provider_for
from tests.fakes.server import Fault, png_bytes

pytestmark = pytest.mark.anyio

GRAPH: dict[str, Any] = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 42, "steps": 20, "cfg": 7.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
        "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "alice", "images": ["8", 0]}},
}


def graph(**changes: Any) -> dict[str, Any]:
    g = copy.deepcopy(GRAPH)
    for node_id, node in changes.items():
        g[node_id] = node
    return g


@pytest.fixture
def fake():
    with FakeComfyUI() as server:
        yield server


def make(fake: FakeComfyUI, **overrides: Any) -> ComfyUiProvider:
    overrides.setdefault("api_key", None)          # a local ComfyUI has no key
    return provider_for(ComfyUiProvider, "comfyui", fake, **overrides)


async def test_runs_a_graph_through_the_queue_and_serves_its_outputs(fake: FakeComfyUI, tmp_path: Path) -> None:
    seen_estimates = []
    async with make(fake, budget_check=seen_estimates.append) as comfy:
        assert not comfy.settings.has_key and comfy.can_send
        result = await comfy.generate(WORKFLOW, {"graph": GRAPH})
    assert result.status is JobState.COMPLETED and result.cost_usd == Decimal("0")
    # No cost, but the budget still sees (and can count or refuse) every request.
    assert [e.usd for e in seen_estimates] == [Decimal("0")]
    posted = next(s for s in fake.seen if s.route == "prompt").json()
    assert posted["prompt"] == GRAPH and posted["client_id"] == comfy.client_id
    assert fake.count("object_info") == 1
    # queued (history empty, then /queue), running (the same), done, then the result read.
    assert fake.count("history") == 4 and fake.count("queue") == 2
    assert all("authorization" not in s.headers for s in fake.seen)

    [output] = result.outputs
    assert output.filename == "alice_00001_.png" and output.media_type == "image/png"
    assert output.url.startswith(f"{fake.url}/view?") and "type=output" in output.url
    async with make(fake) as comfy:
        path = await stage_output(output, tmp_path, provider=comfy)
    with Image.open(path) as img:
        assert json.loads(img.text["prompt"]) == GRAPH      # what SaveImage embeds
    assert result.raw["status"]["status_str"] == "success" and "prompt" not in result.raw


async def test_status_reports_queue_position_then_running(fake: FakeComfyUI) -> None:
    async with make(fake) as comfy:
        job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
        first, second, third = [await comfy.status(job) for _ in range(3)]
    assert (first.state, first.detail) == (JobState.QUEUED, "queue position 1 of 1")
    assert second.state is JobState.RUNNING and third.state is JobState.COMPLETED
    assert job.request_id in fake.prompts and job.urls["history"].endswith(job.request_id)


async def test_an_execution_error_fails_the_job_naming_the_node(fake: FakeComfyUI) -> None:
    fake.steps = ["queued", "running", "error"]
    async with make(fake) as comfy:
        with pytest.raises(ProviderJobFailed, match=r"node 3 \(KSampler\) raised torch.OutOfMemoryError: "
                                                    r"CUDA out of memory") as info:
            await comfy.generate(WORKFLOW, {"graph": GRAPH})
    assert info.value.raw["status"]["status_str"] == "error"


async def test_missing_node_types_are_named_before_anything_is_queued(fake: FakeComfyUI) -> None:
    g = graph(**{"10": {"class_type": "FaceDetailer", "inputs": {"image": ["8", 0]}},
                 "11": {"class_type": "ImpactWildcardProcessor", "inputs": {}}})
    async with make(fake) as comfy:
        with pytest.raises(ProviderRequestError, match="has no node types FaceDetailer, "
                                                       "ImpactWildcardProcessor; install the custom nodes"):
            await comfy.submit(WORKFLOW, {"graph": g})
    assert fake.count("prompt") == 0
    assert fake.count("object_info") == 2        # the cached list is re-read once before giving up


async def test_nodes_installed_since_the_last_look_are_found(fake: FakeComfyUI) -> None:
    async with make(fake) as comfy:
        await comfy.submit(WORKFLOW, {"graph": GRAPH})
        await comfy.submit(WORKFLOW, {"graph": GRAPH})
        assert fake.count("object_info") == 1            # cached between submits
        fake.node_types.add("FaceDetailer")
        job = await comfy.submit(WORKFLOW, {"graph": graph(**{"10": {"class_type": "FaceDetailer", "inputs": {}}})})
    assert fake.count("object_info") == 2 and job.request_id in fake.prompts


async def test_a_rejected_graph_names_the_node_errors(fake: FakeComfyUI) -> None:
    g = graph()
    g["3"]["inputs"]["sampler_name"] = "eulr"
    g["4"]["inputs"]["ckpt_name"] = "missing.safetensors"
    async with make(fake) as comfy:
        with pytest.raises(ProviderRequestError) as info:
            await comfy.submit(WORKFLOW, {"graph": g})
    message = str(info.value)
    assert info.value.status == 400 and "Prompt outputs failed validation" in message
    assert "node 3 (KSampler): Value not in list: sampler_name: 'eulr'" in message
    assert "node 4 (CheckpointLoaderSimple): Value not in list: ckpt_name: 'missing.safetensors'" in message
    assert fake.count("prompt") == 1                       # a refusal is not retried


async def test_input_images_are_uploaded_and_the_loader_pointed_at_them(fake: FakeComfyUI, tmp_path: Path) -> None:
    g = graph(**{"10": {"class_type": "LoadImage", "inputs": {"image": "my cat.png"}},
                 "11": {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}}})
    g["3"]["inputs"]["latent_image"] = ["11", 0]
    source = tmp_path / "cat.png"
    source.write_bytes(png_bytes(color=(1, 2, 3)))
    fake.fail("upload", Fault(503))                       # content-named, so the upload may be retried
    async with make(fake) as comfy:
        result = await comfy.generate(WORKFLOW, {"graph": g}, images={"my cat.png": source})
    [upload] = fake.uploads
    assert upload["filename"].startswith("alice-") and upload["filename"].endswith(".png")
    assert upload["type"] == "input" and upload["overwrite"] == "true"
    posted = next(s for s in fake.seen if s.route == "prompt").json()["prompt"]
    assert posted["10"]["inputs"]["image"] == upload["filename"]
    assert g["10"]["inputs"]["image"] == "my cat.png"      # the caller's graph is left alone
    assert fake.inputs[upload["filename"]] == source.read_bytes() and result.outputs
    async with make(fake) as comfy:                       # same bytes, same name: nothing piles up
        assert await comfy.upload_image(source.read_bytes()) == upload["filename"]


async def test_input_files_a_graph_names_can_be_fetched_for_lineage(fake: FakeComfyUI, tmp_path: Path) -> None:
    fake.inputs["refs/dog.png"] = png_bytes(color=(4, 5, 6))
    async with make(fake) as comfy:
        item = comfy.input_file("refs/dog.png")
        for bad in ("../secrets.png", "refs/../../x.png", "/etc/passwd", "refs/"):
            with pytest.raises(ProviderRequestError, match="not a file name"):
                comfy.input_file(bad)
        with pytest.raises(ProviderRequestError, match="folder must be"):
            comfy.file_url("a.png", folder="models")
    assert item.filename == "dog.png" and "subfolder=refs" in item.url and "type=input" in item.url
    assert (await stage_output(item, tmp_path)).read_bytes() == fake.inputs["refs/dog.png"]


async def test_outputs_in_a_subfolder_are_served_from_it(fake: FakeComfyUI, tmp_path: Path) -> None:
    async with make(fake) as comfy:
        job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
        fake.outputs[("output", "2026-12-04", "x_00001_.png")] = b"\x89PNG in a subfolder"
        entry = {"outputs": {"9": {"images": [{"filename": "x_00001_.png", "subfolder": "2026-12-04",
                                               "type": "output"}]}},
                 "status": {"status_str": "success", "completed": True, "messages": []}}
        fake.fail("history", Fault(200, {job.request_id: entry}))
        result = await comfy.result(job)
    assert (await stage_output(result.outputs[0], tmp_path)).read_bytes() == b"\x89PNG in a subfolder"


async def test_an_input_image_no_loader_uses_is_refused(fake: FakeComfyUI) -> None:
    g = graph(**{"10": {"class_type": "LoadImage", "inputs": {"image": "cat.png"}}})
    async with make(fake) as comfy:
        with pytest.raises(ProviderRequestError, match="images \\['dog.png'\\] are not loaded by any node "
                                                       "of the graph \\(its loaders name: \\['cat.png'\\]\\)"):
            await comfy.submit(WORKFLOW, {"graph": g}, images={"dog.png": b"\x89PNG"})
    assert fake.uploads == [] and fake.count("prompt") == 0


async def test_a_graph_naming_an_absent_input_is_rejected_by_the_server(fake: FakeComfyUI) -> None:
    g = graph(**{"10": {"class_type": "LoadImage", "inputs": {"image": "gone.png"}}})
    async with make(fake) as comfy:
        with pytest.raises(ProviderRequestError, match="node 10 \\(LoadImage\\).*Invalid image file: gone.png"):
            await comfy.submit(WORKFLOW, {"graph": g})


async def test_a_prompt_the_server_forgot_fails_instead_of_hanging(fake: FakeComfyUI) -> None:
    async with make(fake) as comfy:
        job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
        fake.prompts.clear()                          # ComfyUI restarted
        status = await comfy.status(job)
    assert status.state is JobState.FAILED and "no longer knows prompt" in (status.detail or "")


async def test_a_prompt_that_stays_queued_times_out(fake: FakeComfyUI) -> None:
    fake.steps = ["queued"]
    clock = Clock()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    async with make(fake, clock=clock, sleep=sleep, poll_interval_s=1.0, poll_timeout_s=5.0) as comfy:
        with pytest.raises(ProviderTimeout, match="still queued after 5s"):
            await comfy.generate(WORKFLOW, {"graph": GRAPH})


async def test_preview_only_graphs_return_the_previews(fake: FakeComfyUI) -> None:
    g = graph(**{"9": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}}})
    async with make(fake) as comfy:
        result = await comfy.generate(WORKFLOW, {"graph": g})
    assert len(result.outputs) == 1 and "type=temp" in result.outputs[0].url


async def test_5xx_on_queueing_is_retried(fake: FakeComfyUI) -> None:
    fake.fail("prompt", Fault(500), Fault(502))
    async with make(fake) as comfy:
        job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
    assert fake.count("prompt") == 3 and job.request_id in fake.prompts


async def test_circuit_opens_when_comfyui_is_down_and_closes_when_back(fake: FakeComfyUI) -> None:
    clock = Clock()
    fake.fail("object_info", Fault(503), Fault(503))
    async with make(fake, clock=clock, max_retries=0, failure_threshold=2, cooldown_s=5) as comfy:
        for _ in range(2):
            with pytest.raises(ProviderTransientError):
                await comfy.submit(WORKFLOW, {"graph": GRAPH})
        with pytest.raises(ProviderUnavailable):
            await comfy.submit(WORKFLOW, {"graph": GRAPH})
        assert comfy.health()["healthy"] is False
        clock.advance(5)
        await comfy.submit(WORKFLOW, {"graph": GRAPH})
        assert comfy.breaker.state is CircuitState.CLOSED and comfy.health()["healthy"] is True


async def test_nothing_listening_is_a_transient_error_naming_the_host(fake: FakeComfyUI) -> None:
    url = fake.url
    fake.stop()
    async with make(fake_at(url), max_retries=1) as comfy:
        with pytest.raises(ProviderTransientError, match="could not reach 127.0.0.1"):
            await comfy.submit(WORKFLOW, {"graph": GRAPH})


def fake_at(url: str) -> Any:
    class _Stopped:
        api_key = "unused"
    stopped = _Stopped()
    stopped.url = url  # type: ignore[attr-defined]
    return stopped


async def test_slow_history_times_out(fake: FakeComfyUI) -> None:
    async with make(fake, timeout_s=0.15, max_retries=0) as comfy:
        job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
        fake.fail("history", Fault(200, {}, delay_s=0.6))
        with pytest.raises(ProviderTimeout):
            await comfy.status(job)


@pytest.mark.parametrize("route, body, match", [
    ("prompt", {"number": 1, "node_errors": {}}, "no prompt_id"),
    ("prompt", "Internal Server Error", "not JSON"),
    ("history", ["not", "an", "object"], "not a JSON object"),
    ("queue", {"queue_running": "busy", "queue_pending": []}, "are not lists"),
    ("object_info", ["KSampler"], "not a mapping of node class"),
])
async def test_malformed_answers(fake: FakeComfyUI, route: str, body: Any, match: str) -> None:
    async with make(fake) as comfy:
        if route in ("history", "queue"):
            job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
            fake.fail(route, Fault(200, body))
            call = comfy.status(job)
        else:
            fake.fail(route, Fault(200, body))
            call = comfy.submit(WORKFLOW, {"graph": GRAPH})
        with pytest.raises(ProviderMalformedResponse, match=match):
            await call


@pytest.mark.parametrize("entry, match", [
    ({"outputs": {}, "status": {"status_str": "success", "completed": True, "messages": []}}, "lists no output files"),
    ({"outputs": {"9": {"images": [{"filename": "../../etc/passwd", "subfolder": "", "type": "output"}]}},
      "status": {"status_str": "success", "completed": True, "messages": []}}, "bad output filename"),
    ({"outputs": ["9"], "status": {}}, "no outputs mapping"),
])
async def test_malformed_history_entries(fake: FakeComfyUI, entry: dict[str, Any], match: str) -> None:
    async with make(fake) as comfy:
        job = await comfy.submit(WORKFLOW, {"graph": GRAPH})
        fake.fail("history", Fault(200, {job.request_id: entry}))
        with pytest.raises(ProviderMalformedResponse, match=match):
            await comfy.result(job)


@pytest.mark.parametrize("params, match", [
    ({"graph": {}}, "non-empty mapping"),
    ({"graph": {"1": {"inputs": {}}}}, "node '1' of the graph has no class_type"),
    ({"graph": GRAPH, "seed": 1}, "unexpected params \\['seed'\\]"),
])
async def test_bad_graphs_are_refused_before_sending(fake: FakeComfyUI, params: dict[str, Any], match: str) -> None:
    async with make(fake) as comfy:
        with pytest.raises(ProviderRequestError, match=match):
            await comfy.submit(WORKFLOW, params)
    assert fake.seen == []


def test_capabilities_are_declared() -> None:
    assert {Capability.GENERATE, Capability.COMFYUI_GRAPH, Capability.INPUT_IMAGES, Capability.LOCAL} \
        <= ComfyUiProvider.CAPABILITIES
    assert Capability.SYNCHRONOUS not in ComfyUiProvider.CAPABILITIES and not ComfyUiProvider.REQUIRES_KEY
