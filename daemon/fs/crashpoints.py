"""Named points where a crash test may SIGKILL this process.

"Is anything lost?" can only be answered by killing alice between every two
effects, not just where a timer happens to land. With ALICE_CRASH_AT=N set,
the N-th checkpoint this process reaches sends it SIGKILL: a real, uncatchable
kill, no cleanup handlers. Unset (always, outside tests) a checkpoint costs
one cached call.
"""
from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable, Mapping


def _sigkill(message: str) -> None:
    os.write(2, message.encode())
    os.kill(os.getpid(), signal.SIGKILL)


class CrashPoints:
    """The count of checkpoints reached, and the one (if any) that kills the process."""

    def __init__(self, target: int | None, kill: Callable[[str], None] = _sigkill) -> None:
        self.target = target
        self._kill = kill
        self._reached = 0
        self._lock = threading.Lock()     # filing threads reach checkpoints concurrently

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CrashPoints:
        target = environ.get("ALICE_CRASH_AT")
        try:
            return cls(int(target) if target else None)
        except ValueError:
            raise ValueError(f"ALICE_CRASH_AT must be a checkpoint number, got {target!r}") from None

    def reach(self, name: str) -> None:
        if self.target is None:
            return
        with self._lock:
            self._reached += 1
            reached = self._reached
        if reached == self.target:
            self._kill(f"alice: crash test: SIGKILL at checkpoint {reached} ({name})\n")


@functools.cache
def _process_points() -> CrashPoints:
    # Built once, on the first checkpoint, from the environment the process started with:
    # a crash test names the N-th effect of the whole process, whichever module reaches it.
    return CrashPoints.from_environ(os.environ)


def checkpoint(name: str) -> None:
    _process_points().reach(name)
