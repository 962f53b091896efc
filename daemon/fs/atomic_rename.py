"""Renaming a file into place without ever replacing what is already there.

os.rename replaces an existing target; os.link refuses to, but a new link is
only an IN_CREATE to inotify, with no close event, so the watcher waits its
long fallback before trusting it. Linux's renameat2(RENAME_NOREPLACE) is both:
atomic, refusing an existing target, and seen as a file moved in (ready at
once). Where it is missing (old kernel or libc, a file system without it)
`rename_no_replace` raises NoReplaceUnsupported and the caller links instead.
"""
from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path
from typing import Any

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}

_renameat2: Any
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2     # glibc >= 2.28
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    _renameat2.restype = ctypes.c_int
except (AttributeError, OSError):
    _renameat2 = None


class NoReplaceUnsupported(OSError):
    """This system or file system cannot rename without replacing."""


def rename_no_replace(src: Path, dst: Path) -> None:
    """Rename src to dst; FileExistsError if dst exists (nothing changes then)."""
    if _renameat2 is None:
        raise NoReplaceUnsupported(errno.ENOSYS, "renameat2 is not available", str(dst))
    if _renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        return
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        raise NoReplaceUnsupported(err, os.strerror(err), str(dst))
    raise OSError(err, os.strerror(err), str(dst))      # EEXIST becomes FileExistsError
