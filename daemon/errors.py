"""One exception tree for what alice refuses or cannot do, and how each is reported.

Every class says, once, the exit code an `alice` command ends with and the
JSON-RPC error code the socket answers with, so the CLI, the socket server
and the generation methods cannot drift apart. Exceptions from pipeline/ and
providers/ (which must not import daemon/) are placed in `_FOREIGN`, the only
table left.

When each is raised:
  InvalidRequest      the arguments cannot be used as given (exit 2, -32602)
  NotFound            no such asset, project or request (exit 2, -32001)
  Conflict            the request contradicts the current state: name taken,
                      file changed (exit 1, -32004)
  MoveFailed          a Conflict: a file could not be placed or moved
  Unavailable         a service alice needs (the catalog) is down; retry (exit 3, -32003)
  Refused             a project's budget refused the request; nothing was sent (exit 1, -32010)
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, ClassVar

from alice.pipeline.plan import PlanError
from alice.providers.errors import BudgetExceeded

# Exit codes of every `alice` command.
EXIT_OK, EXIT_PARTIAL, EXIT_CONFIG, EXIT_CATALOG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# JSON-RPC 2.0 codes, then the application codes (the -32000..-32099 range it leaves to servers).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
NOT_FOUND = -32001              # no such asset / project / request
OUTSIDE_ROOTS = -32002          # a path outside the inboxes, the organized tree and the data dir
CATALOG_UNAVAILABLE = -32003    # PostgreSQL is down; retry later
CONFLICT = -32004               # the request contradicts the current state (name taken, file changed)
NOT_AVAILABLE = -32005          # this daemon does not offer the feature (e.g. no scan hook)
BUSY = -32006                   # too many connections or requests; retry later
BUDGET_EXCEEDED = -32010        # refused by the project's budget (or the project is paused); nothing was sent


class AliceError(Exception):
    """Base of the tree: an unexpected failure unless a subclass says otherwise."""
    exit_code: ClassVar[int] = EXIT_PARTIAL
    rpc_code: ClassVar[int] = INTERNAL_ERROR

    def describe(self) -> str:
        """The message a socket client sees."""
        return str(self)


class InvalidRequest(AliceError, ValueError):
    exit_code = EXIT_CONFIG
    rpc_code = INVALID_PARAMS


class NotFound(AliceError, LookupError):
    exit_code = EXIT_CONFIG
    rpc_code = NOT_FOUND


class Conflict(AliceError):
    exit_code = EXIT_PARTIAL
    rpc_code = CONFLICT


class MoveFailed(Conflict):
    """A file could not be placed or moved; nothing was changed."""

    def describe(self) -> str:
        return f"the file could not be moved: {self}"


class Unavailable(AliceError):
    exit_code = EXIT_CATALOG
    rpc_code = CATALOG_UNAVAILABLE

    def describe(self) -> str:
        return f"{self} alice retries by itself; try again in a moment"


@dataclass(frozen=True)
class Report:
    exit_code: int
    rpc_code: int
    message: str
    data: Any = None


# Exceptions alice's core cannot subclass (pure layers), most specific first:
# (type, exit code, JSON-RPC code, message template).
_FOREIGN: tuple[tuple[type[BaseException], int, int, str], ...] = (
    (BudgetExceeded, EXIT_PARTIAL, BUDGET_EXCEEDED, "{0.message}"),
    (PlanError, EXIT_PARTIAL, CONFLICT, "the file could not be moved: {0}"),
    (ValueError, EXIT_CONFIG, INVALID_PARAMS, "{0}"),
)


def report(exc: BaseException) -> Report:
    """How `exc` is reported: its exit code, JSON-RPC code, message and data."""
    data = {"request_id": getattr(exc, "request_id", None)} if isinstance(exc, BudgetExceeded) else None
    if isinstance(exc, AliceError):
        return Report(exc.exit_code, exc.rpc_code, exc.describe(), data)
    # Only the catalog raises sqlalchemy's errors, so when sqlalchemy is not loaded `exc` is none of
    # them; looking it up here keeps a CLI command that never opens the catalog from importing it.
    data_error = getattr(sys.modules.get("sqlalchemy.exc"), "DataError", None)
    if data_error is not None and isinstance(exc, data_error):
        # A value the catalog cannot hold (a number past bigint, NUL in text) came from the caller.
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return Report(EXIT_CONFIG, INVALID_PARAMS, f"a value in the request cannot be stored or compared: {first}",
                      data)
    for kind, exit_code, rpc_code, template in _FOREIGN:
        if isinstance(exc, kind):
            return Report(exit_code, rpc_code, template.format(exc), data)
    return Report(EXIT_PARTIAL, INTERNAL_ERROR,
                  f"internal error ({type(exc).__name__}); the daemon log has the details")


def exit_code(exc: BaseException) -> int:
    """The exit code an `alice` command ends with for `exc`."""
    return report(exc).exit_code
