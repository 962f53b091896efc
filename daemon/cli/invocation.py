"""How the person at the terminal can run this very `alice` again.

Right after `pip install -e .` into a venv, `alice` exists only as
`.venv/bin/alice`: the venv is not activated, so a hint that says "run `alice
organize`" names a command the shell cannot find. The hint must name what
the user can actually type.
"""
from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def this_alice() -> Path | None:
    """The `alice` console script of this installation (beside the interpreter), if there is one.
    The interpreter path is not resolved: in a venv bin/python is a symlink out of it."""
    script = Path(sys.executable).absolute().parent / "alice"
    return script if script.is_file() and os.access(script, os.X_OK) else None


def alice_command(path_env: str | None = None) -> str:
    """`alice` when the shell finds this installation's alice by that name, else its full path."""
    script = this_alice()
    if script is None:
        return f"{shlex.quote(sys.executable)} -m alice.daemon.cli"
    found = shutil.which("alice", path=path_env if path_env is not None else os.environ.get("PATH", ""))
    if found is not None and Path(found).absolute() == script:
        return "alice"
    return shlex.quote(str(script))


def activation_hint() -> str | None:
    """How to put `alice` on PATH for this shell, when it is not there already (None otherwise)."""
    script = this_alice()
    if script is None or alice_command() == "alice":
        return None
    activate = script.parent / "activate"
    if activate.is_file():
        return f"or first run `source {shlex.quote(str(activate))}`, after which plain `alice` works"
    return f"or add {shlex.quote(str(script.parent))} to PATH"
