"""`alice init` tells the user a command their shell can actually run."""
from __future__ import annotations

import json
import os
import re
import subprocess

from tests.organize_env import ALICE, AliceEnv


def _init(env: AliceEnv, path: str, *more: str) -> subprocess.CompletedProcess:
    return env.run("init", "--inbox", str(env.inbox), "--organized", str(env.organized),
                   "--data-dir", str(env.root / "data"), "--database-url", env.db_url, *more, PATH=path)


def test_init_names_the_venv_alice_when_it_is_not_on_path(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    bare_path = "/usr/bin:/bin"                 # a fresh shell: the venv is not activated
    out = _init(env, bare_path).stdout
    said = re.search(r"then run `([^`]+) organize`", out)
    assert said, out
    command = said.group(1)
    assert command != "alice" and command.endswith("/alice") and os.path.isabs(command.strip("'")), out
    assert f"source {ALICE.parent / 'activate'}" in out, out
    # What it says can be typed into that shell as is.
    typed = subprocess.run(["sh", "-c", f"{command} --version"], env={"PATH": bare_path, "HOME": str(tmp_path)},
                           capture_output=True, text=True, timeout=60)
    assert typed.returncode == 0 and "alice" in typed.stdout, typed.stderr
    assert json.loads(_init(env, bare_path, "--json").stdout)["alice"] == command


def test_init_says_plain_alice_when_the_shell_finds_this_one(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    out = _init(env, f"{ALICE.parent}:/usr/bin:/bin").stdout
    assert "then run `alice organize`" in out and "activate" not in out, out
