"""Class 9 of issue 11: the socket folder must be ours, and so must the process behind the socket.

A real second user, created by the test, plays the hostile local user: it owns
a world-writable socket folder, or serves a socket in a folder we trust, and
records every byte a client sends it. Nothing may reach it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from alice.daemon.api.client import RpcClient, UnsafeSocket
from alice.daemon.api.socket_folder import check_folder
from tests.organize_env import ALICE, AliceEnv
from tests.second_user import User, second_user

# The hostile server: accept connections, record what arrives, answer like alice would.
EVIL_SERVER = r"""
import json, os, socket, sys
path, record, uid, gid = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if sys.argv[5] == "bind-first":
    s.bind(path)                 # bound as root in a folder the victim trusts, then served as the other user
    os.chmod(path, 0o666)
    os.setgroups([]); os.setgid(gid); os.setuid(uid)
else:
    os.setgroups([]); os.setgid(gid); os.setuid(uid)
    s.bind(path)
    os.chmod(path, 0o666)
s.listen(8)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        data = c.recv(65536)
    except OSError:
        data = b""
    with open(record, "ab") as f:
        f.write(data)
    if data:
        c.sendall(json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"items": [], "total": 0}}).encode() + b"\n")
    c.close()
"""


@pytest.fixture
def other() -> User:
    with second_user() as u:
        yield u


@pytest.fixture
def base():
    # Under /tmp itself (sticky, root's), like /tmp/alice-<uid>: the other user must reach it.
    d = Path(tempfile.mkdtemp(prefix="alice-sock-", dir="/tmp"))
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def evil_server(path: Path, record: Path, user: User, how: str) -> subprocess.Popen:
    record.touch()
    os.chmod(record, 0o666)
    proc = subprocess.Popen([sys.executable, "-c", EVIL_SERVER, str(path), str(record), str(user.uid),
                             str(user.gid), how], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read()
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait(10)


def env_with_socket(tmp_path: Path, db_url: str, sock: Path) -> AliceEnv:
    env = AliceEnv(tmp_path, db_url)
    env.write_config(socket=str(sock))
    return env


def test_a_folder_made_by_another_user_is_refused_by_daemon_and_clients(tmp_path, db_url, other, base) -> None:
    folder = base / "alice"
    folder.mkdir()
    os.chown(folder, other.uid, other.gid)
    os.chmod(folder, 0o777)                       # what the attacker did in /tmp/alice-<uid>/alice
    sock, record = folder / "alice.sock", base / "received"
    server = evil_server(sock, record, other, "as-other")
    env = env_with_socket(tmp_path, db_url, sock)
    try:
        got = env.run("search", "secret project", check=False)
        assert got.returncode == 2, got
        assert "belongs to uid" in got.stderr and str(folder) in got.stderr and "XDG_RUNTIME_DIR" in got.stderr
        got = env.run("search", "--json", "secret", check=False)
        assert got.returncode == 2 and got.stdout == ""
        run = subprocess.run([str(ALICE), "run"], env=env.env(), capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
        assert run.returncode == 2, run
        assert "refusing to start" in run.stderr and str(folder) in run.stderr
        mcp = subprocess.run([str(ALICE), "mcp"], env=env.env(), capture_output=True, text=True, timeout=60,
                             input="")
        assert mcp.returncode == 2 and "refusing the socket" in mcp.stderr, mcp
        with pytest.raises(UnsafeSocket):
            RpcClient(sock).call("assets.search", {"text": "secret"})
    finally:
        stop(server)
    assert record.read_bytes() == b"", "a client sent something to the other user's server"


def test_a_folder_writable_by_others_is_refused_even_if_ours(base) -> None:
    folder = base / "mine"
    folder.mkdir(mode=0o700)
    os.chmod(folder, 0o733)
    with pytest.raises(UnsafeSocket, match="writable by others"):
        check_folder(folder)
    os.chmod(folder, 0o700)
    check_folder(folder)
    link = base / "link"
    link.symlink_to(folder)
    with pytest.raises(UnsafeSocket, match="symlink"):
        check_folder(link)


def test_a_parent_owned_by_another_user_is_refused(base, other) -> None:
    theirs = base / "theirs"
    theirs.mkdir()
    os.chown(theirs, other.uid, other.gid)
    mine = theirs / "alice"
    mine.mkdir(mode=0o700)
    with pytest.raises(UnsafeSocket, match="belongs to uid"):
        check_folder(mine)


def test_the_client_checks_the_daemons_uid_before_sending(tmp_path, db_url, other, base) -> None:
    folder = base / "trusted"
    folder.mkdir(mode=0o700)                      # ours and private: the folder check passes
    sock, record = folder / "alice.sock", base / "received"
    server = evil_server(sock, record, other, "bind-first")
    env = env_with_socket(tmp_path, db_url, sock)
    try:
        with pytest.raises(UnsafeSocket, match=f"uid {other.uid}"):
            RpcClient(sock).call("assets.search", {"text": "secret"})
        got = env.run("search", "secret", check=False)
        assert got.returncode == 2 and f"uid {other.uid}" in got.stderr, got
        time.sleep(0.3)
    finally:
        stop(server)
    assert record.read_bytes() == b"", "the client sent its request before checking who answers"


def test_the_daemon_makes_its_own_folder_private(tmp_path, db_url, base) -> None:
    sock = base / "fresh" / "alice" / "alice.sock"
    check_folder(sock.parent, create=True)
    assert oct(sock.parent.stat().st_mode & 0o777) == "0o700"
    assert sock.parent.stat().st_uid == os.getuid()
