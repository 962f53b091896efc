"""Which process is which on this host, so crashes leave nothing behind and cost seconds.

A lease owner is named host:pid:start, start being the process's start time
in clock ticks since boot (/proc/<pid>/stat, field 22). A pid alone is reused
by the kernel; the pair is not. A daemon starting on a host can therefore tell
for sure that the owner of a running job is dead and take the job at once,
instead of waiting out the lease.

Analysis workers ask the kernel to kill them when their parent dies
(PR_SET_PDEATHSIG), so a SIGKILLed `alice run` leaves no worker, and with
them gone no multiprocessing resource tracker either (it exits when the last
process holding its pipe does).
"""
from __future__ import annotations

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1


def _stat(pid: int) -> list[bytes] | None:
    """/proc/<pid>/stat from field 3 (the state) on; None if the process does not exist (or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return data[data.rindex(b")") + 2:].split()


def _running_stat(pid: int) -> list[bytes] | None:
    """_stat of a process that runs; None for one that does not exist or is a zombie. A zombie
    is dead: it only waits for its parent, or init, to reap it, and a filing process whose
    daemon was SIGKILLed stays one until init gets to it, which may take seconds."""
    fields = _stat(pid)
    return None if fields is None or fields[0] in (b"Z", b"X") else fields


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot; None if it does not exist (or no /proc)."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def running(pid: int) -> bool:
    """Whether process `pid` of this host runs: it exists and is not a zombie."""
    return _running_stat(pid) is not None


def _host() -> str:
    # Imported here: `alice inspect` forks its workers through die_with_parent and needs no socket (~2 ms).
    import socket

    return socket.gethostname()


def owner_name(pid: int | None = None) -> str:
    """host:pid:start for this process (or pid)."""
    pid = pid or os.getpid()
    return f"{_host()}:{pid}:{start_time(pid) or 0}"


def owner_is_dead(owner: str, host: str | None = None) -> bool:
    """True only when `owner` names a process of this host that surely no longer runs."""
    host = host or _host()
    parts = owner.split(":")
    if len(parts) < 2 or parts[0] != host or not parts[1].isdigit():
        return False                    # another machine's, or not ours to judge
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    fields = _running_stat(pid)
    if fields is None:
        return True
    started = int(fields[19])
    if len(parts) >= 3 and parts[2].isdigit() and int(parts[2]) != 0:
        return int(parts[2]) != started     # the pid was reused by another process
    return False                            # an old-style host:pid owner that is alive


def die_with_parent(parent_pid: int) -> None:
    """A process-pool initializer: be killed when the parent dies; exit if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass                            # not Linux: the parent's watch below still helps at start
    if os.getppid() != parent_pid:      # the parent died before prctl took effect
        os._exit(1)
    # Ctrl-C in a terminal reaches the whole group: the parent decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
