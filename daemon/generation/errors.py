"""What can stop a generation request before it is sent, or a lookup of one."""
from __future__ import annotations


class GenerateError(Exception):
    """A generation request cannot be made as asked; the message says what to change."""


class RequestNotFound(GenerateError):
    """No generation request with that id (or none that made that asset)."""
