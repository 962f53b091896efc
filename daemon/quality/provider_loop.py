"""One event loop for provider calls made from synchronous code (assess, filing threads).

A provider's httpx client keeps connections bound to the loop that opened
them, so every call goes through one long-lived loop in a daemon thread, and
the clients are closed on that same loop.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from alice.providers.base import Provider

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the shared loop and wait for its result (thread-safe)."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="alice-provider-loop", daemon=True).start()
        loop = _loop
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def close_providers(providers: Mapping[str, Provider]) -> None:
    """Close the providers' HTTP clients on the loop they were used on."""
    async def close_all() -> None:
        for p in providers.values():
            await p.aclose()

    run(close_all())
