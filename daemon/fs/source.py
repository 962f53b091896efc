"""Opening an inbox file safely: one descriptor that is surely the regular file that was queued.

Between the moment a file is queued and the moment its job runs, anyone who
can write to the inbox can put something else at that name: a symbolic link
(to /etc/passwd), a FIFO (a read blocks forever), a character device
(/dev/zero never ends). `open_source` never follows the link (O_NOFOLLOW),
never blocks on the open (O_NONBLOCK), looks at the node before opening it
(opening some devices has effects), and checks with fstat on the descriptor
it will read from that it is a regular file, and, when the caller knows it,
the same device and inode that were queued.

    fd = open_source(path, expect=(job.dev, job.ino))   # SourceRefused: skip or re-plan, with the reason
    try:
        ... read from fd (os.pread, os.fdopen(fd, "rb", closefd=False)) ...
    finally:
        os.close(fd)
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class SourceRefused(OSError):
    """The node at the source path is not the regular file alice expects; `reason` says what it is."""

    def __init__(self, path: Path | str, reason: str, *, swapped: bool = False):
        super().__init__(errno.EINVAL, reason, os.fsdecode(path))
        self.reason = reason
        self.swapped = swapped          # a regular file, but another one than was queued: plan it again


def identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


def describe(mode: int) -> str:
    """What a node that is not a regular file is, in words for a refusal."""
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def check_node(path: Path | str, expect: tuple[int, int] | None = None) -> os.stat_result:
    """lstat the path and refuse anything but the expected regular file, without opening it."""
    st = os.lstat(path)
    _check(path, st, expect)
    return st


def open_source(path: Path | str, expect: tuple[int, int] | None = None) -> int:
    """A read-only descriptor on the regular file at path; SourceRefused if it is anything else.

    FileNotFoundError if nothing is there any more. The descriptor is in
    non-blocking mode, which changes nothing for a regular file.
    """
    check_node(path, expect)            # a device is refused before open() could touch it
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:    # swapped for a link since the lstat
            raise SourceRefused(path, "it is a symbolic link now; alice never follows links in the inboxes") \
                from None
        raise
    try:
        _check(path, os.fstat(fd), expect)
    except BaseException:
        os.close(fd)
        raise
    return fd


def fd_path(fd: int) -> Path | None:
    """A name that opens the very file behind `fd`, for readers that take a path (ffmpeg,
    a stream over a huge file): /proc/<pid>/fd/<fd>, which names the descriptor's inode
    whatever is put at the file's own name meanwhile, and works for a child process
    (ffmpeg) too. None where there is no /proc (the caller falls back to the path)."""
    proc = Path(f"/proc/{os.getpid()}/fd/{fd}")
    return proc if os.path.exists(proc) else None


def _check(path: Path | str, st: os.stat_result, expect: tuple[int, int] | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        what = describe(st.st_mode)
        raise SourceRefused(path, f"it is {what}, not a regular file; alice only files regular files"
                            + (" and never follows links in the inboxes" if stat.S_ISLNK(st.st_mode) else ""))
    if expect is not None and identity(st) != tuple(expect):
        raise SourceRefused(path, "another file was put in its place after it was queued (device and inode "
                            "differ); it is planned again as a new file", swapped=True)
