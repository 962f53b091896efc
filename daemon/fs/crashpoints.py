"""Named points where a crash test may SIGKILL this process.

"Is anything lost?" can only be answered by killing alice between every two
effects, not just where a timer happens to land. With ALICE_CRASH_AT=N set,
the N-th checkpoint this process reaches sends it SIGKILL: a real, uncatchable
kill, no cleanup handlers. Unset (always, outside tests) a checkpoint costs
one global lookup.
"""
from __future__ import annotations

import os
import signal

_target = int(os.environ.get("ALICE_CRASH_AT", "0") or 0)
_reached = 0


def checkpoint(name: str) -> None:
    global _reached
    if not _target:
        return
    _reached += 1
    if _reached == _target:
        os.write(2, f"alice: crash test: SIGKILL at checkpoint {_reached} ({name})\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
