"""A process's providers, built once, and the one event loop every call to them runs on.

A provider's httpx client keeps its connections bound to the loop that opened
them, and its circuit breaker only protects the service if every caller shares
it. So a process (the daemon, `alice assess`, `alice generate`) builds one
ProviderHost: paid quality stages, the generator and `alice providers` all use
its providers, and all their coroutines run on its one loop thread, which also
closes the clients at the end.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from alice.providers.base import Provider
from alice.providers.config import ProvidersConfig
from alice.providers.metrics import ProviderMetrics
from alice.providers.registry import build_providers

T = TypeVar("T")

CLOSE_TIMEOUT_S = 30.0


class ProviderHost(Mapping[str, Provider]):
    """Read-only mapping of provider name -> Provider, plus the loop their calls run on."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def build(cls, settings: ProvidersConfig | Mapping[str, Any] | None, *, metrics: ProviderMetrics | None = None,
              env: Mapping[str, str] | None = None) -> ProviderHost:
        """Providers from the config's `providers:` section. Raises ProviderConfigError."""
        return cls(build_providers(settings, env=env, metrics=metrics))

    # -- the mapping ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Provider:
        return self._providers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    # -- the loop ------------------------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop thread, started on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the provider host is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="alice-providers", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule `coro` on the loop; thread-safe."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for its result (from any thread but the loop's own)."""
        return self.submit(coro).result(timeout)

    def close(self) -> None:
        """Close every provider's HTTP client on the loop it used, then stop the loop. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None:
            return

        async def close_all() -> None:
            for provider in self._providers.values():
                await provider.aclose()

        try:
            asyncio.run_coroutine_threadsafe(close_all(), loop).result(CLOSE_TIMEOUT_S)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(CLOSE_TIMEOUT_S)
            if thread is None or not thread.is_alive():
                loop.close()
