"""Keeping API keys out of logs, reprs and exception messages.

A key lives in a `Secret` (whose repr is a mask) until the moment a request is
sent; any text that came from outside (an error body can echo the key back)
passes through `Redactor.redact` before it is logged or raised.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
# Shorter "secrets" would mask ordinary words in messages; no real key is this short.
_MIN_SECRET_LEN = 6


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a secret must be a non-empty string")
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("Secret is not picklable: it would write the key out")


class Redactor:
    """Replaces every known secret in text (and in nested log fields) with a mask."""

    def __init__(self, secrets: Iterable[Secret | str | None] = ()) -> None:
        values = set()
        for s in secrets:
            raw = s.reveal() if isinstance(s, Secret) else s
            if raw and len(raw) >= _MIN_SECRET_LEN:
                values.add(raw)
        # Longest first, so a key that contains another key is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        for value in self._values:
            raw = value.encode()
            if raw in data:
                data = data.replace(raw, MASK.encode())
        return data

    def redact_value(self, value: Any) -> Any:
        """Redacts strings inside dicts/lists/tuples; other values pass unchanged."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact_value(v) for v in value)
        if isinstance(value, BaseException):
            return self.redact(f"{type(value).__name__}: {value}")
        return value

    def processor(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        """A structlog processor: put it first in the chain to mask keys in every event."""
        return {k: self.redact_value(v) for k, v in event_dict.items()}
