"""Every way a provider call can fail, as types a caller can act on.

Messages are built from already-redacted text (see redaction.py): an exception
string ends up in logs, tracebacks and the CLI, so it must never hold a key.
"""
from __future__ import annotations

from typing import Any


class ProviderError(Exception):
    """Base for every provider failure. `provider` names the service."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.message = message


class ProviderConfigError(ProviderError):
    """The config for a provider is unusable (bad URL, wrong type, unknown key)."""


class ProviderAuthError(ProviderError):
    """The service rejected the API key (401/403), or no key is configured."""


class ProviderRequestError(ProviderError):
    """The service refused the request (4xx other than 401/403/429); not retried."""

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(provider, message)
        self.status = status


class ProviderTransientError(ProviderError):
    """Connect errors, timeouts, 429 or 5xx that outlasted every retry."""

    def __init__(self, provider: str, message: str, *, status: int | None = None) -> None:
        super().__init__(provider, message)
        self.status = status


class ProviderTimeout(ProviderTransientError):
    """A request or a whole job took longer than the configured timeout."""


class ProviderUnavailable(ProviderError):
    """The circuit breaker is open: recent calls failed, so this one was not sent."""

    def __init__(self, provider: str, message: str, *, retry_in_s: float) -> None:
        super().__init__(provider, message)
        self.retry_in_s = retry_in_s


class ProviderMalformedResponse(ProviderError):
    """The service answered, but not in the documented shape."""


class ProviderJobFailed(ProviderError):
    """The service accepted the job and later reported it failed or moderated."""

    def __init__(self, provider: str, message: str, *, request_id: str, raw: Any = None) -> None:
        super().__init__(provider, message)
        self.request_id = request_id
        self.raw = raw


class BudgetExceeded(ProviderError):
    """The budget hook refused a request's cost estimate; nothing was sent."""


class DownloadError(ProviderError):
    """An output file could not be fetched or stored in full."""
