"""configure_logging/bind_job: captured output, JSON and console, stdlib lines included."""
from __future__ import annotations

import io
import json
import logging
import threading

import pytest
import structlog

from alice.daemon.ops.logs import LoggingConfigError, bind_job, configure_logging, current_correlation_id


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    for h in handlers:
        if h not in root.handlers:
            root.addHandler(h)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def lines(buf: io.StringIO) -> list[dict]:
    return [json.loads(ln) for ln in buf.getvalue().splitlines() if ln.strip()]


def test_json_lines_carry_the_job_id_for_structlog_and_stdlib():
    buf = io.StringIO()
    configure_logging("info", json=True, stream=buf)
    slog = structlog.get_logger("alice.test")
    stdlog = logging.getLogger("some.library")

    slog.info("before job")
    with bind_job("job-42", path="/in/a.png") as cid:
        assert cid == "job-42" and current_correlation_id() == "job-42"
        slog.info("sniffed", tool="comfyui")
        stdlog.warning("library says %s", "hello")
        try:
            raise ValueError("bad chunk")
        except ValueError:
            slog.exception("stage failed")
    slog.info("after job")

    before, sniffed, lib, failed, after = lines(buf)
    assert "correlation_id" not in before and "correlation_id" not in after
    for rec in (sniffed, lib, failed):
        assert rec["correlation_id"] == "job-42" and rec["path"] == "/in/a.png"
    assert sniffed["event"] == "sniffed" and sniffed["tool"] == "comfyui" and sniffed["level"] == "info"
    assert lib["event"] == "library says hello" and lib["logger"] == "some.library" and lib["level"] == "warning"
    assert "ValueError: bad chunk" in failed["exception"]
    assert sniffed["timestamp"].endswith("Z")


def test_nested_and_generated_ids():
    buf = io.StringIO()
    configure_logging("debug", json=True, stream=buf)
    log = structlog.get_logger("alice.test")
    with bind_job() as outer:
        assert len(outer) == 16
        with bind_job("inner"):
            log.debug("in inner")
        log.debug("back in outer")
    inner_line, outer_line = lines(buf)
    assert inner_line["correlation_id"] == "inner" and outer_line["correlation_id"] == outer


def test_jobs_on_two_threads_do_not_mix():
    buf = io.StringIO()
    configure_logging("info", json=True, stream=buf)
    log = structlog.get_logger("alice.test")
    barrier = threading.Barrier(2)

    def job(cid: str) -> None:
        with bind_job(cid):
            barrier.wait()
            log.info("working", me=cid)
            barrier.wait()
            logging.getLogger("lib").info("stdlib working %s", cid)

    threads = [threading.Thread(target=job, args=(c,)) for c in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    recs = lines(buf)
    assert len(recs) == 4
    for rec in recs:
        assert rec["correlation_id"] in ("a", "b")
        assert rec.get("me", rec["event"][-1]) == rec["correlation_id"]


def test_level_filters_both_sources():
    buf = io.StringIO()
    configure_logging("warning", json=True, stream=buf)
    structlog.get_logger("x").info("hidden")
    logging.getLogger("y").info("hidden too")
    structlog.get_logger("x").warning("shown")
    assert [r["event"] for r in lines(buf)] == ["shown"]


def test_console_format_is_readable_not_json():
    buf = io.StringIO()
    configure_logging("info", json=False, stream=buf)
    with bind_job("job-7"):
        structlog.get_logger("alice.test").info("filed", dest="/out/x.png")
        logging.getLogger("lib").info("plain %d", 3)
    first, second = buf.getvalue().splitlines()
    assert "filed" in first and "correlation_id=job-7" in first and "dest=/out/x.png" in first
    assert "plain 3" in second and "correlation_id=job-7" in second
    assert not first.lstrip().startswith("{")


def test_auto_mode_uses_json_when_not_a_terminal():
    buf = io.StringIO()  # not a TTY, like journald's stderr pipe
    configure_logging(stream=buf)
    structlog.get_logger("alice").info("auto")
    assert lines(buf)[0]["event"] == "auto"


def test_reconfiguring_does_not_duplicate_lines():
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", json=True, stream=first)
    configure_logging("info", json=True, stream=second)
    structlog.get_logger("alice").info("once")
    assert first.getvalue() == "" and len(lines(second)) == 1


@pytest.mark.parametrize("bad", ["verbose", "", 10, None])
def test_bad_level_is_a_clear_error(bad):
    with pytest.raises(LoggingConfigError, match="not one of"):
        configure_logging(bad)
