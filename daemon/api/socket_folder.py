"""Whose socket is it? The folder check and the peer check every side of the socket makes.

With XDG_RUNTIME_DIR unset the socket lives under /tmp, where any local user
can create `/tmp/alice-<uid>/` first, with mode 0777, and later put their own
server on our socket path. So the daemon and every client (CLI, `alice mcp`)
use a socket folder only if it, and each folder above it up to a root-owned
one, is owned by this user (or root) and cannot be renamed or filled by
anyone else; and a client checks with SO_PEERCRED that the process answering
runs as this user before it sends a byte.
"""
from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path


class UnsafeSocket(ConnectionError):
    """The socket's folder, or the process behind the socket, is not this user's; the message says the fix."""


def _fix(folder: Path) -> str:
    return (f"remove it (`rm -rf {folder}` as its owner or root), or set XDG_RUNTIME_DIR to a folder only you "
            "can write (e.g. /run/user/$(id -u)), or set 'socket' in the configuration to a path inside one")


def check_folder(folder: Path, *, create: bool = False) -> None:
    """Raise UnsafeSocket unless `folder` (made with mode 0700 when create and missing) is ours alone.

    The folder must be a real directory (not a symlink), owned by this user and not
    writable by group or other. Each folder above it must be owned by this user or
    root, and if others may write to it, be sticky and root's (like /tmp), so nobody
    else can rename our folder away and put theirs in its place.
    """
    folder = Path(os.path.abspath(folder))
    uid = os.getuid()
    if create:
        _make(folder, uid)
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return          # nothing there yet: nobody's server can be in it
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeSocket(f"the socket folder {folder} is {'a symlink' if stat.S_ISLNK(st.st_mode) else 'not a folder'}; "
                           + _fix(folder))
    if st.st_uid != uid:
        raise UnsafeSocket(f"the socket folder {folder} belongs to uid {st.st_uid}, not to you (uid {uid}); "
                           + _fix(folder))
    if st.st_mode & 0o022:
        raise UnsafeSocket(f"the socket folder {folder} is writable by others (mode {stat.S_IMODE(st.st_mode):o}); "
                           f"run `chmod 700 {folder}`, or " + _fix(folder))
    for parent in folder.parents:
        pst = os.stat(parent)
        if pst.st_uid not in (uid, 0):
            raise UnsafeSocket(f"{parent}, above the socket folder {folder}, belongs to uid {pst.st_uid}; "
                               + _fix(parent))
        if pst.st_mode & 0o022 and not (pst.st_uid == 0 and pst.st_mode & stat.S_ISVTX):
            raise UnsafeSocket(f"{parent}, above the socket folder {folder}, is writable by others "
                               f"(mode {stat.S_IMODE(pst.st_mode):o}); " + _fix(parent))


def _make(folder: Path, uid: int) -> None:
    missing = []
    p = folder
    while not os.path.lexists(p):
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass                # someone else was faster: the checks below decide whether it is ours
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return
    # Tighten our own folder (an older alice made it 0755); never someone else's.
    if stat.S_ISDIR(st.st_mode) and st.st_uid == uid and stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(folder, 0o700)


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process on the other end of a connected Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def check_peer(sock: socket.socket, path: Path) -> None:
    """Raise UnsafeSocket unless the server behind `sock` runs as this user."""
    uid = peer_uid(sock)
    if uid != os.getuid():
        raise UnsafeSocket(f"the process serving {path} runs as uid {uid}, not as you (uid {os.getuid()}); "
                           "nothing was sent to it. " + _fix(path.parent))
