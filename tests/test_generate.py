"""Generator against the fake fal/BFL/OpenAI services and a real catalog: record before send,
delivery with the embedded record, budgets and pausing, failures, recreate."""
from __future__ import annotations

import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from alice.daemon.catalog import requests as catalog_requests
from alice.daemon.catalog import spend
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.generation.generator import GenerateError, Generator, RequestNotFound
from alice.daemon.provider_host import ProviderHost
from alice.pipeline.ffmpeg import ffmpeg_exe
from alice.pipeline.identity import identify
from alice.pipeline.inspect import inspect_file
from alice.providers.errors import BudgetExceeded
from tests.fakes.bfl import FakeBfl
from tests.fakes.fal import FakeFal
from tests.fakes.hedra import FakeHedra
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import png_bytes
from tests.generate_env import make_config, make_generator, provider_config

FLUX = "fal-ai/flux/dev"
PARAMS = {"image_size": "square_hd", "seed": 1234, "num_inference_steps": 28}   # $0.025 per image


@pytest.fixture
def fal():
    with FakeFal() as server:
        yield server


@pytest.fixture
def gen(tmp_path: Path, catalog: Catalog, fal: FakeFal):
    g = make_generator(tmp_path, catalog, fal=fal)
    yield g
    g.close()


def events(catalog: Catalog) -> list[tuple[str, dict]]:
    with catalog.session() as s:
        return [(k, d) for k, d in s.execute(text("SELECT kind, data FROM events ORDER BY id"))]


def set_budget(catalog: Catalog, project: str, usd: str | None) -> str | None:
    with catalog.session() as s:
        _, change = spend.set_budget(s, project, None if usd is None else Decimal(usd))
    return change


def test_outputs_land_in_the_project_inbox_stamped_with_the_record(gen: Generator, fal: FakeFal,
                                                                   tmp_path: Path) -> None:
    rid = gen.submit("fal", FLUX, "a red fox in snow", dict(PARAMS, num_images=2), project="foxes", wait=True)
    status = gen.status(rid)
    assert status["state"] == "done", status
    assert status["provider_request_id"] in fal.jobs
    assert status["estimate_usd"] == status["cost_usd"] == "0.0500"
    paths = [Path(o["path"]) for o in status["outputs"]]
    assert [p.parent for p in paths] == [tmp_path / "inbox" / "foxes"] * 2
    assert paths[0] != paths[1] and all(p.is_file() for p in paths)

    info = inspect_file(paths[0])
    assert info.tool == "fal" and info.ai
    assert info.generation.prompt == "a red fox in snow"
    assert info.generation.seed == 1234 and info.generation.steps == 28 and info.generation.model == FLUX
    assert info.raw["request_id"] == status["provider_request_id"]
    # The record changes metadata only: the content id is that of the bytes fal sent.
    raw = tmp_path / "raw.png"
    raw.write_bytes(png_bytes())
    assert status["outputs"][0]["content_id"] == identify(raw, "png", "image").content_id
    assert identify(paths[0], "png", "image").content_id == status["outputs"][0]["content_id"]
    assert status["outputs"][0]["embedded"] is True
    # Nothing half-made is left: no temp names in the inbox, no staging folder.
    assert sorted(p.name for p in paths[0].parent.iterdir()) == sorted(p.name for p in paths)
    assert not (tmp_path / "data" / "generations" / str(rid)).exists()
    kinds = [k for k, _ in events(gen.catalog)]
    assert kinds == ["generation.recorded", "generation.submitted", "generation.done"]


def test_the_request_is_recorded_before_anything_is_sent(gen: Generator, fal: FakeFal) -> None:
    fal.delays["submit"] = 1.0
    rid = gen.submit("fal", FLUX, "slow", PARAMS, project="p")
    deadline = time.monotonic() + 5
    while fal.count("submit") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fal.count("submit") == 1
    # The service has the request in hand and has not answered: the catalog already holds it.
    assert gen.status(rid)["state"] == "recorded"
    assert gen.wait(rid)["state"] == "done"


def test_an_estimate_over_what_is_left_is_refused_before_any_http(gen: Generator, fal: FakeFal) -> None:
    set_budget(gen.catalog, "tight", "0.05")
    with pytest.raises(BudgetExceeded) as err:
        gen.submit("fal", FLUX, "too many", dict(PARAMS, num_images=4), project="tight")
    message = str(err.value)
    assert "'tight'" in message and "$0.1000" in message and "$0.0500" in message
    assert "alice projects set-budget tight" in message
    assert fal.seen == []
    with gen.catalog.session() as s:
        state, error = s.execute(text("SELECT state, error FROM generation_requests")).one()
    assert state == "refused" and "$0.1000" in error
    assert [k for k, _ in events(gen.catalog)] == ["generation.refused"]


def test_spending_that_reaches_the_budget_pauses_until_it_is_raised(gen: Generator, fal: FakeFal) -> None:
    set_budget(gen.catalog, "p", "0.05")
    assert gen.wait(gen.submit("fal", FLUX, "two", dict(PARAMS, num_images=2), project="p"))["state"] == "done"
    with gen.catalog.session() as s:
        proj = spend.project_spend(s, "p")
    assert proj.paused_at is not None and proj.spent == Decimal("0.05") and proj.remaining == 0
    paused = [d for k, d in events(gen.catalog) if k == "project.paused"]
    assert paused == [{"project": "p", "budget_usd": "0.0500", "spent_usd": "0.0500"}]

    sent = len(fal.seen)
    with pytest.raises(BudgetExceeded, match="'p' is paused.*set-budget p"):
        gen.submit("fal", FLUX, "one more", PARAMS, project="p")
    assert len(fal.seen) == sent

    assert set_budget(gen.catalog, "p", "0.04") is None          # still under what was spent: stays paused
    assert set_budget(gen.catalog, "p", "1.00") == "resumed"
    assert gen.wait(gen.submit("fal", FLUX, "one more", PARAMS, project="p"))["state"] == "done"


def test_requests_in_flight_hold_their_estimate(gen: Generator, fal: FakeFal) -> None:
    set_budget(gen.catalog, "p", "0.05")
    fal.delays["submit"] = 0.5
    first = gen.submit("fal", FLUX, "a", dict(PARAMS, num_images=1), project="p")
    second = gen.submit("fal", FLUX, "b", dict(PARAMS, num_images=1), project="p")
    with pytest.raises(BudgetExceeded, match=r"\$0.0500 is held by requests still running"):
        gen.submit("fal", FLUX, "c", dict(PARAMS, num_images=1), project="p")
    assert gen.wait(first)["state"] == gen.wait(second)["state"] == "done"


def test_concurrent_submits_cannot_overspend(gen: Generator, fal: FakeFal) -> None:
    set_budget(gen.catalog, "p", "0.05")
    outcomes: list[object] = []
    barrier = threading.Barrier(4)

    def go(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(gen.submit("fal", FLUX, f"n{i}", dict(PARAMS, num_images=1), project="p"))
        except BudgetExceeded as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    admitted = [o for o in outcomes if isinstance(o, int)]
    assert len(admitted) == 2 and len(outcomes) == 4
    for rid in admitted:
        gen.wait(rid)


def test_a_failed_job_is_recorded_with_the_services_reason_and_frees_its_reservation(
        gen: Generator, fal: FakeFal) -> None:
    fal.job_error = "GPU on fire"
    set_budget(gen.catalog, "p", "0.05")
    status = gen.wait(gen.submit("fal", FLUX, "x", PARAMS, project="p"))
    assert status["state"] == "failed" and "GPU on fire" in status["error"] and status["outputs"] == []
    assert [k for k, _ in events(gen.catalog)][-1] == "generation.failed"
    with gen.catalog.session() as s:
        proj = spend.project_spend(s, "p")
    assert proj.remaining == Decimal("0.05") and proj.paused_at is None


def test_unknown_provider_model_and_bad_params_are_clear_errors(gen: Generator, fal: FakeFal,
                                                                tmp_path: Path) -> None:
    with pytest.raises(GenerateError, match="unknown or disabled provider 'bfl'"):
        gen.submit("bfl", "flux-dev", "x", {}, project="p")
    with pytest.raises(GenerateError, match="unknown model 'nope'"):
        gen.submit("fal", "nope", "x", {}, project="p")
    rater = make_generator(tmp_path / "o", gen.catalog, openai=fal)     # any URL: nothing gets sent
    with pytest.raises(GenerateError, match="gpt-4o-mini is a vision model, not one that generates"):
        rater.submit("openai", "gpt-4o-mini", "x", {}, project="p")
    with pytest.raises(GenerateError, match="params must be a mapping"):
        gen.submit("fal", FLUX, "x", ["seed", 1], project="p")      # type: ignore[arg-type]
    with pytest.raises(GenerateError, match="not a file"):
        gen.submit("fal", FLUX, "x", {}, ["/nonexistent/ref.png"], project="p")
    with pytest.raises(RequestNotFound):
        gen.status(999)
    assert fal.seen == []


def test_a_provider_without_a_key_is_refused_before_recording(tmp_path: Path, catalog: Catalog,
                                                              fal: FakeFal) -> None:
    section = provider_config(fal=fal)
    del section["fal"]["api_key"]
    cfg = make_config(tmp_path, section)
    g = Generator(cfg, catalog, ProviderHost.build(section, env={}))
    with pytest.raises(GenerateError, match="no API key for fal.*FAL_KEY"):
        g.submit("fal", FLUX, "x", PARAMS, project="p")
    with catalog.session() as s:
        assert s.execute(text("SELECT count(*) FROM generation_requests")).scalar_one() == 0
    assert fal.seen == []


def test_references_are_sent_inline_but_recorded_as_content_ids(gen: Generator, fal: FakeFal,
                                                                tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    ref.write_bytes(png_bytes(8, 8, (1, 2, 3)))
    rid = gen.submit("fal", "fal-ai/flux-pro/kontext", "make it blue", {"seed": 5}, [ref], project="p", wait=True)
    status = gen.status(rid)
    assert status["state"] == "done"
    cid = identify(ref, "png", "image").content_id
    assert status["references"] == [cid] and status["params"] == {"seed": 5}
    body = next(s for s in fal.seen if s.route == "submit").json()
    assert body["image_url"].startswith("data:image/png;base64,") and body["prompt"] == "make it blue"
    record = inspect_file(Path(status["outputs"][0]["path"])).raw
    assert record["references"] == [cid] and "image_url" not in record["params"]


def test_recreate_resubmits_the_recorded_request(gen: Generator, fal: FakeFal) -> None:
    first = gen.submit("fal", FLUX, "a lighthouse", PARAMS, project="sea", wait=True)
    out = gen.status(first)["outputs"][0]
    by_content = gen.recreate(out["content_id"], wait=True)
    by_file = gen.recreate(out["path"], wait=True)
    by_id = gen.recreate(first, wait=True)
    for rid in (by_content, by_file, by_id):
        again = gen.status(rid)
        assert again["recreated_from"] == first and again["state"] == "done"
        assert (again["provider"], again["model"], again["prompt"], again["params"], again["project"]) == \
            ("fal", FLUX, "a lighthouse", PARAMS, "sea")
    bodies = [s.json() for s in fal.seen if s.route == "submit"]
    assert len(bodies) == 4 and all(b == bodies[0] for b in bodies)


def test_recreate_of_a_file_alice_did_not_make_says_so(gen: Generator, tmp_path: Path) -> None:
    other = tmp_path / "other.png"
    other.write_bytes(png_bytes(4, 4))
    with pytest.raises(RequestNotFound, match="not made through alice"):
        gen.recreate(other)


def test_bfl_and_synchronous_openai_deliver_too(tmp_path: Path, catalog: Catalog) -> None:
    with FakeBfl() as bfl, FakeOpenAI() as openai:
        g = make_generator(tmp_path, catalog, bfl=bfl, openai=openai)
        try:
            b = g.status(g.submit("bfl", "flux-pro-1.1", "a cat", {"seed": 3}, project="cats", wait=True))
            o = g.status(g.submit("openai", "gpt-image-1", "a dog", {"n": 2}, project="dogs", wait=True))
        finally:
            g.close()
    assert b["state"] == "done" and inspect_file(Path(b["outputs"][0]["path"])).tool == "bfl"
    assert o["state"] == "done" and len(o["outputs"]) == 2 and o["provider_request_id"].startswith("openai-")
    assert inspect_file(Path(o["outputs"][1]["path"])).generation.prompt == "a dog"


def test_a_request_left_running_is_finished_by_another_generator(tmp_path: Path, catalog: Catalog,
                                                                  fal: FakeFal) -> None:
    first = make_generator(tmp_path, catalog, fal=fal)
    fal.delays["status"] = 0.3
    rid = first.submit("fal", FLUX, "patience", PARAMS, project="p")
    assert first.wait_submitted(rid, timeout=10)["state"] in ("submitted", "running")
    first.close()                                   # e.g. `alice generate --no-wait` exits, or Ctrl-C
    assert gen_state(catalog, rid) in ("submitted", "running")
    fal.delays["status"] = 0.0

    second = make_generator(tmp_path, catalog, fal=fal)
    try:
        with pytest.raises(GenerateError, match="only a submitted or running request"):
            second.resume(_refused_request(second))
        status = second.wait(second.resume(rid))
    finally:
        second.close()
    assert status["state"] == "done" and len(status["outputs"]) == 1
    assert fal.count("submit") == 1                 # polled again, never sent twice


def gen_state(catalog: Catalog, rid: int) -> str:
    with catalog.session() as s:
        return s.execute(text("SELECT state FROM generation_requests WHERE id = :id"), {"id": rid}).scalar_one()


def _refused_request(gen: Generator) -> int:
    set_budget(gen.catalog, "broke", "0")
    with pytest.raises(BudgetExceeded) as err:
        gen.submit("fal", FLUX, "x", PARAMS, project="broke")
    return err.value.request_id


def test_abandoning_a_stuck_request_frees_its_reservation(gen: Generator, fal: FakeFal) -> None:
    set_budget(gen.catalog, "p", "0.03")
    with gen.catalog.session() as s:       # what a crash between recording and sending leaves behind
        stuck = s.execute(text("INSERT INTO generation_requests (project_id, provider, model, state, estimate_usd) "
                               "SELECT id, 'fal', :m, 'recorded', 0.025 FROM projects WHERE name = 'p' RETURNING id"),
                          {"m": FLUX}).scalar_one()
    with pytest.raises(BudgetExceeded, match="held by requests still running"):
        gen.submit("fal", FLUX, "x", PARAMS, project="p")
    assert gen.abandon(stuck)["state"] == "failed"
    with pytest.raises(GenerateError, match="already failed"):
        gen.abandon(stuck)
    assert gen.wait(gen.submit("fal", FLUX, "x", PARAMS, project="p"))["state"] == "done"


def test_hedra_uploads_both_references_and_records_them(tmp_path: Path, catalog: Catalog) -> None:
    portrait, voice = tmp_path / "face.png", tmp_path / "voice.wav"
    portrait.write_bytes(png_bytes(32, 32))
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3",
                    str(voice)], check=True, timeout=60)
    with FakeHedra() as hedra:
        g = make_generator(tmp_path, catalog, hedra=hedra)
        try:
            status = g.wait(g.submit("hedra", "character-3", "hello there", {"duration_s": 4},
                                     [portrait, voice], project="talk"))
        finally:
            g.close()
        uploads = [s for s in hedra.seen if s.route == "upload"]
    assert status["state"] == "done", status
    assert status["estimate_usd"] == "0.2000"                   # 4 s x $0.05
    assert status["references"] == [identify(portrait, "png", "image").content_id,
                                    identify(voice, "wav", "audio").content_id]
    assert len(uploads) == 2 and portrait.read_bytes() in uploads[0].body
    # The fake's "video" is not a real MP4: it is delivered all the same, the record kept in the catalog.
    assert status["outputs"][0]["embedded"] is False and Path(status["outputs"][0]["path"]).is_file()


def test_an_output_that_cannot_be_delivered_stays_in_data_dir_and_says_where(gen: Generator, fal: FakeFal,
                                                                            tmp_path: Path) -> None:
    (tmp_path / "inbox" / "blocked").write_text("a file where the project folder should be")
    status = gen.wait(gen.submit("fal", FLUX, "x", PARAMS, project="blocked"))
    assert status["state"] == "failed" and status["cost_usd"] == "0.0250"      # the provider did the work
    staging = tmp_path / "data" / "generations" / str(status["id"])
    assert f"fal-{status['id']}-1.png in {staging}" in status["error"]
    assert inspect_file(staging / f"fal-{status['id']}-1.png").tool is None     # the bytes as fal sent them


def test_a_catalog_outage_mid_request_is_waited_out(gen: Generator, fal: FakeFal, monkeypatch) -> None:
    real_session = gen.catalog.session
    outages = {"left": 2}
    waited: list[float | None] = []

    def flaky_session():
        # The first two writes after the request is sent find the catalog gone.
        if fal.count("submit") and outages["left"]:
            outages["left"] -= 1
            raise CatalogUnavailable("lost the connection to the catalog (test)")
        return real_session()

    monkeypatch.setattr(gen.catalog, "session", flaky_session)
    monkeypatch.setattr(gen.catalog, "wait_available", lambda timeout=None, **_: waited.append(timeout) or True)
    status = gen.wait(gen.submit("fal", FLUX, "x", PARAMS, project="p"))
    assert status["state"] == "done" and status["provider_request_id"] in fal.jobs
    assert len(waited) == 2 and outages["left"] == 0 and fal.count("submit") == 1


def test_a_request_another_process_is_finishing_is_not_taken_over(tmp_path: Path, catalog: Catalog,
                                                                   fal: FakeFal) -> None:
    first, second = (make_generator(tmp_path / n, catalog, fal=fal) for n in ("a", "b"))
    try:
        fal.delays["status"] = 0.2
        rid = first.submit("fal", FLUX, "mine", PARAMS, project="p")
        first.wait_submitted(rid, timeout=10)
        with pytest.raises(GenerateError, match="being finished by another alice process"):
            second.resume(rid)
        with pytest.raises(GenerateError, match="being finished by another alice process"):
            second.abandon(rid)
        assert second.resume_orphans() == []
        assert first.wait(rid)["state"] == "done"
    finally:
        first.close()
        second.close()
    assert fal.count("result") == 1


def test_the_orphan_sweep_finishes_what_a_departed_process_left(tmp_path: Path, catalog: Catalog,
                                                                fal: FakeFal) -> None:
    first = make_generator(tmp_path / "cli", catalog, fal=fal)
    fal.delays["status"] = 0.3
    rid = first.submit("fal", FLUX, "left behind", PARAMS, project="p")
    first.wait_submitted(rid, timeout=10)
    first.close()                                   # `alice generate --no-wait` exits: its lease is released
    fal.delays["status"] = 0.0
    daemon = make_generator(tmp_path / "daemon", catalog, fal=fal)
    try:
        daemon.start_orphan_sweeps(interval_s=0.05)
        deadline = time.monotonic() + 15
        while gen_state(catalog, rid) != "done" and time.monotonic() < deadline:
            time.sleep(0.05)
        status = daemon.status(rid)
    finally:
        daemon.close()
    assert status["state"] == "done" and len(status["outputs"]) == 1
    assert fal.count("submit") == 1


def test_only_sent_requests_with_a_lapsed_lease_are_orphans(catalog: Catalog) -> None:
    with catalog.session() as s:
        pid = s.execute(text("INSERT INTO projects (name) VALUES ('p') RETURNING id")).scalar_one()
        ids = {}
        for name, state, job, lease in [("crashed", "running", True, "now() - interval '1 s'"),
                                        ("never_leased", "submitted", True, "NULL"),
                                        ("alive", "running", True, "now() + interval '1 min'"),
                                        ("unsent", "recorded", False, "now() - interval '1 s'"),
                                        ("finished", "done", True, "NULL")]:
            ids[name] = s.execute(text(
                f"INSERT INTO generation_requests (project_id, provider, model, state, job, lease_until) "
                f"VALUES (:p, 'fal', 'm', :state, :job, {lease}) RETURNING id"),
                {"p": pid, "state": state, "job": '{"request_id": "x"}' if job else None}).scalar_one()
    with catalog.session() as s:
        claimed = catalog_requests.claim_orphans(s, 60)
    assert claimed == sorted([ids["crashed"], ids["never_leased"]])
    with catalog.session() as s:
        assert catalog_requests.claim_orphans(s, 60) == []                 # now leased to the claimer
