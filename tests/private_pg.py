"""A PostgreSQL cluster of the test's own, which the test may stop and start.

Built from pgserver's binaries (a dependency already). PostgreSQL refuses to
run as root, so as root the cluster runs as pgserver's system user, which
pgserver creates the first time it is used as root.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

import pgserver
from pgserver.utils import ensure_user_exists

BIN = Path(pgserver.__file__).parent / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivatePostgres:
    def __init__(self, root: Path):
        self.root = root
        self.data = root / "pgdata"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "pgserver"
            ensure_user_exists(self.user)

    def _run(self, *args: str) -> None:
        cmd = [str(BIN / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = self.root / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:1])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}\n{tail}")

    def init(self) -> PrivatePostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user:
            pw = pwd.getpwnam(self.user)
            for p in (self.root, *self.root.parents):
                if p == Path("/"):
                    break
                os.chmod(p, os.stat(p).st_mode | 0o111)   # let the server user traverse to its data
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"),
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
