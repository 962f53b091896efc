"""Named points where a crash test may SIGKILL this process.

"Is anything lost?" can only be answered by killing alice between every two
effects, not just where a timer happens to land. With ALICE_CRASH_AT=N set,
the N-th checkpoint this process reaches sends it SIGKILL: a real, uncatchable
kill, no cleanup handlers. Unset (always, outside tests) a checkpoint costs
one environment lookup.
"""
from __future__ import annotations

import itertools
import os
import signal

# The one count of checkpoints reached in this process: a crash test names the N-th effect
# of the whole process, whichever module reaches it.
_reached = itertools.count(1)


def checkpoint(name: str) -> None:
    target = os.environ.get("ALICE_CRASH_AT")
    if not target:
        return
    reached = next(_reached)
    if reached == int(target):
        os.write(2, f"alice: crash test: SIGKILL at checkpoint {reached} ({name})\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
