"""Finding the processes a test's alice left behind (workers, resource trackers, daemons)."""
from __future__ import annotations

import os
import time
from pathlib import Path

NUL = b"\x00"


def processes_of(config: Path) -> list[int]:
    """Pids of live processes started with ALICE_CONFIG=config (alice, its workers, their helpers)."""
    needle = b"ALICE_CONFIG=" + os.fsencode(config) + b"\x00"
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read() + b"\x00"
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in env and state != b"Z":
            found.append(int(entry))
    return found


def children_of(pid: int) -> list[int]:
    """Pids of the live children of pid (a daemon's workers, filing processes, resource tracker)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    if int(f.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def assert_none_left(config: Path, timeout: float = 10.0) -> None:
    """Wait up to timeout for every process of this test's alice to be gone; fail naming the rest."""
    end = time.monotonic() + timeout
    while (left := processes_of(config)) and time.monotonic() < end:
        time.sleep(0.2)
    if left:
        names = []
        for pid in left:
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(NUL, b" ")[:200]
                names.append(f"{pid}: {cmd!r}")
            except OSError:
                pass
        raise AssertionError("alice processes left behind:\n" + "\n".join(names))
