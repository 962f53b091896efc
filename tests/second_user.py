"""A real second local user for the socket and permission tests (root only; removed afterwards)."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int

    def become(self) -> None:
        """A preexec_fn: drop to this user (the child runs as them from here on)."""
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)


@contextmanager
def second_user() -> Iterator[User]:
    """Create a throwaway user with useradd and delete it afterwards; skip the test when that is not possible."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create a second local user")
    name = f"alicet{uuid.uuid4().hex[:8]}"
    got = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                         capture_output=True, text=True)
    if got.returncode != 0:
        pytest.skip(f"useradd failed: {got.stderr.strip()}")
    try:
        pw = pwd.getpwnam(name)
        yield User(name, pw.pw_uid, pw.pw_gid)
    finally:
        subprocess.run(["userdel", name], capture_output=True)
