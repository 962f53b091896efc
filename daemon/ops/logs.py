"""Logging for the daemon: structlog in front, the stdlib `logging` machinery behind.

Every line, whether it comes from alice's structlog loggers or from a library
using plain `logging` (watchdog, alembic, httpx...), goes through one
ProcessorFormatter on one stderr handler, so all of them share the format and
the job context:

  * JSON lines when stderr is not a terminal (under systemd the journal stores them),
  * readable aligned lines on a terminal.

`bind_job()` puts a correlation id in contextvars; every line logged inside the
block, on that thread or in asyncio tasks started from it, carries it.
"""
from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

CORRELATION_KEY = "correlation_id"
_HANDLER_NAME = "alice"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "warn": logging.WARNING, "error": logging.ERROR, "critical": logging.CRITICAL}


class LoggingConfigError(ValueError):
    """A log setting cannot be used; the message lists the valid values."""


def configure_logging(level: str = "info", json: bool | None = None, stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging to `stream` (default stderr) at `level`.

    `json`: True for JSON lines, False for readable lines, None to decide by
    whether `stream` is a terminal. Calling it again replaces the previous setup.
    """
    if not isinstance(level, str) or level.lower() not in _LEVELS:
        raise LoggingConfigError(f"log level {level!r} is not one of: {', '.join(sorted(_LEVELS))}")
    numeric = _LEVELS[level.lower()]
    out = stream if stream is not None else sys.stderr
    use_json = json if json is not None else not _is_terminal(out)

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.StackInfoRenderer(),
    ]
    if use_json:
        final: list[Any] = [structlog.processors.format_exc_info,
                            structlog.processors.JSONRenderer(default=str)]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=_is_terminal(out))]

    structlog.configure(
        # filter_by_level only here: foreign (stdlib) records are filtered by logging itself.
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: module-level loggers must follow a later reconfiguration.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    ))
    handler.name = _HANDLER_NAME
    root = logging.getLogger()
    # Replace the handler a previous call installed (found by name: the logging module's own
    # registry holds it, so alice keeps no state of its own here).
    for old in [h for h in root.handlers if h.name == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # watchdog logs every inotify event at debug; keep that out unless asked for explicitly.
    logging.getLogger("watchdog").setLevel(max(numeric, logging.INFO))


@contextmanager
def bind_job(correlation_id: str | None = None, **fields: Any) -> Iterator[str]:
    """Tag every log line inside the block with `correlation_id` (a new one if None)
    and `fields`; yields the id. Nested blocks override and then restore."""
    cid = correlation_id or uuid.uuid4().hex[:16]
    with structlog.contextvars.bound_contextvars(**{CORRELATION_KEY: cid}, **fields):
        yield cid


def current_correlation_id() -> str | None:
    """The id bound by the innermost bind_job(), e.g. to hand to a worker process."""
    return structlog.contextvars.get_contextvars().get(CORRELATION_KEY)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
