"""Errors on the command line name commands and options, never socket methods or params."""
from __future__ import annotations

import pytest

from alice.daemon.cli.wording import for_terminal, search_message
from tests.daemon_env import DaemonProc
from tests.organize_env import AliceEnv

SOCKET_WORDS = ("rpc.discover", "assets.", "projects.list", "projects.get", "stars_min", "tags_all")


@pytest.mark.parametrize("message, expected", [
    ("no asset with id 7; assets.search lists the ones there are", "`alice search` lists the ones there are"),
    ("no project 'x'; projects.list shows the ones there are", "`alice projects` shows"),
    ("invalid params for assets.tag: tags: [] is too short; rpc.discover shows the schema of assets.tag",
     "alice tag: tags: [] is too short; `alice tag --help` lists what it takes"),
])
def test_socket_names_become_commands(message: str, expected: str):
    said = for_terminal(message)
    assert expected in said and not any(w in said for w in SOCKET_WORDS), said


def test_search_fields_become_options():
    said = search_message("'stars_min' (4) is above 'stars_max' (2): nothing can match")
    assert said == "--stars (4) is above --stars (2): nothing can match"


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1)
    return e


def test_cli_errors_from_the_catalog_and_from_the_daemon(env: AliceEnv):
    rated = env.run("rate", "999", "3", check=False)
    assert rated.returncode == 2 and "`alice search`" in rated.stderr, rated.stderr
    offline = env.run("search", "--stars", "9", check=False)           # no daemon: the catalog answers
    assert offline.returncode == 2 and "--stars" in offline.stderr, offline.stderr
    d = DaemonProc(env)
    try:
        d.wait_ready()
        online = env.run("search", "--stars", "9", check=False)        # the daemon answers over the socket
        cursor = env.run("search", "--cursor", "nonsense", check=False)
    finally:
        d.terminate()
    assert online.returncode == 2 and "--stars" in online.stderr and "alice search" in online.stderr, online.stderr
    assert cursor.returncode == 2 and "--cursor" in cursor.stderr, cursor.stderr
    for proc in (rated, offline, online, cursor):
        assert not any(w in proc.stderr for w in SOCKET_WORDS), proc.stderr
