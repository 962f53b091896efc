"""What can stop a generation request before it is sent, or a lookup of one."""
from __future__ import annotations

from alice.daemon import errors


class GenerateError(errors.AliceError):
    """A generation request cannot be made as asked; the message says what to change."""
    exit_code = errors.EXIT_CONFIG
    rpc_code = errors.INVALID_PARAMS


class RequestNotFound(GenerateError, errors.NotFound):
    """No generation request with that id (or none that made that asset)."""
    rpc_code = errors.NOT_FOUND
