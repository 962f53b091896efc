"""Clients find the daemon's socket the way the daemon chose it, whatever their environment."""
from __future__ import annotations

import os
from pathlib import Path

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from alice.daemon import config
from tests.daemon_env import DaemonProc
from tests.organize_env import ALICE, AliceEnv


def test_default_socket_without_xdg_runtime_dir_is_the_users_run_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(config, "RUN_USER", tmp_path / "run-user")
    assert config.default_socket_path() == Path(f"/tmp/alice-{os.getuid()}/alice/alice.sock")
    mine = tmp_path / "run-user" / str(os.getuid())
    mine.mkdir(parents=True)
    # What a daemon under systemd gets (XDG_RUNTIME_DIR=/run/user/UID) and a bare client computes agree.
    assert config.default_socket_path() == mine / "alice" / "alice.sock"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(mine))
    assert config.default_socket_path() == mine / "alice" / "alice.sock"


def test_mcp_without_xdg_runtime_dir_reaches_a_running_daemon(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(workers=1)
    d = DaemonProc(env)              # runs with XDG_RUNTIME_DIR=<tmp>/run
    try:
        d.wait_ready()
        bare = {k: v for k, v in env.env().items() if k != "XDG_RUNTIME_DIR"}
        params = StdioServerParameters(command=str(ALICE), args=["mcp"], env=bare)

        async def session():
            async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
                await s.initialize()
                return await s.call_tool("daemon_status", {})

        result = anyio.run(session)
        searched = env.run("search", "--json", XDG_RUNTIME_DIR="")
    finally:
        d.terminate()
    assert not result.is_error, result.content[0].text
    assert result.structured_content["socket"].startswith(str(tmp_path / "run"))
    assert '"source": "daemon"' in searched.stdout, searched.stdout
