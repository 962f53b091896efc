"""The systemd user unit: rendering, installing, removing, reporting.

alice only writes the unit file; enabling and starting it is one command the
user runs (and sees), so nothing changes in their session behind their back.

UNIT_TEMPLATE is the single source of the unit text; systemd/alice.service in
the repository is this template verbatim (a test keeps them equal), for people
who install units by hand.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

UNIT_NAME = "alice.service"
ENABLE_COMMAND = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
LOGS_COMMAND = f"journalctl --user -u {UNIT_NAME} -f"

UNIT_TEMPLATE = """\
# AliceMultiverse: `alice run` as a systemd user service.
# Written by `alice service install`, which fills in ExecStart and the environment for this install.
[Unit]
Description=AliceMultiverse: files the images and videos your AI tools make
Documentation=man:systemd.service(5)
# Give up after 5 failed starts in 5 minutes instead of looping forever.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
# alice sends READY=1 once the catalog and the inbox watchers are up,
# WATCHDOG=1 while healthy, and STOPPING=1 when it starts draining.
Type=notify
NotifyAccess=main
ExecStart=@EXEC_START@
@ENVIRONMENT@
# JSON lines on stderr; the journal keeps them.
Environment=PYTHONUNBUFFERED=1
WatchdogSec=30
Restart=on-failure
RestartSec=5
# SIGTERM starts a graceful drain: files in flight finish or go back to the queue.
KillSignal=SIGTERM
# mixed: SIGTERM reaches alice alone, so the embedded PostgreSQL (a child) keeps
# serving the drain; whatever is left gets SIGKILL after TimeoutStopSec.
KillMode=mixed
TimeoutStopSec=60

[Install]
WantedBy=default.target
"""


class ServiceError(Exception):
    """The unit cannot be written or removed; the message says what to do."""


def unit_dir() -> Path:
    """~/.config/systemd/user, honouring $XDG_CONFIG_HOME."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def unit_path() -> Path:
    return unit_dir() / UNIT_NAME


def default_exec_start() -> list[str]:
    """The `alice` console script of this very installation (the interpreter's bin dir) + `run`.

    The interpreter path is deliberately not resolved: in a virtualenv, bin/python
    is a symlink and resolving it would escape the venv.
    """
    bindir = Path(sys.executable).absolute().parent
    script = bindir / "alice"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "run"]
    if sys.executable:
        return [str(Path(sys.executable).absolute()), "-m", "alice.daemon.cli", "run"]
    raise ServiceError("cannot find the `alice` program of this installation: reinstall alicemultiverse "
                       "(pip install alicemultiverse) so that the `alice` command exists, then retry")


def _escape_specifiers(text: str) -> str:
    # systemd expands %x specifiers everywhere in ExecStart= and Environment=.
    return text.replace("%", "%%")


def _quote_arg(arg: str) -> str:
    if any(ch in arg for ch in "\n\r\0"):
        raise ServiceError(f"cannot put {arg!r} in a unit file: it contains a line break or NUL; "
                           "use a path without one")
    arg = _escape_specifiers(arg).replace("$", "$$")
    if arg and not any(ch in arg for ch in " \t\"'\\;"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_unit(exec_start: list[str], config_path: Path | None) -> str:
    """The unit text. `exec_start[0]` must be an absolute path (systemd requires it);
    `config_path` becomes Environment=ALICE_CONFIG=... so `alice run` reads that file."""
    if not exec_start or not Path(exec_start[0]).is_absolute():
        raise ServiceError(f"ExecStart needs an absolute program path, got {exec_start!r}")
    env_line = ""
    if config_path is not None:
        env_line = "Environment=" + _quote_arg(f"ALICE_CONFIG={Path(config_path).absolute()}")
    text = UNIT_TEMPLATE.replace("@EXEC_START@", " ".join(_quote_arg(a) for a in exec_start), 1)
    return text.replace("\n@ENVIRONMENT@\n", f"\n{env_line}\n" if env_line else "\n", 1)


def install(exec_start: list[str] | None = None, config_path: Path | None = None) -> dict[str, Any]:
    """Write the user unit atomically. Returns {"unit_path", "exec_start", "changed", "command", "message"};
    "message" tells the user the one command to run."""
    argv = exec_start or default_exec_start()
    text = render_unit(argv, config_path)
    path = unit_path()
    changed = not (path.is_file() and path.read_text(errors="replace") == text)
    if changed:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{UNIT_NAME}.tmp-{os.getpid()}")
            tmp.write_text(text)
            os.replace(tmp, path)
        except OSError as e:
            raise ServiceError(f"cannot write {path}: {e.strerror or e}. Check that {path.parent} "
                               "is writable by you") from e
    verb = "Wrote" if changed else "Already up to date:"
    message = (f"{verb} {path}\n"
               f"Start alice now and at every login with:\n  {ENABLE_COMMAND}\n"
               f"(To keep it running while you are logged out: loginctl enable-linger {_user()})")
    return {"unit_path": str(path), "exec_start": argv, "changed": changed,
            "command": ENABLE_COMMAND, "message": message}


def uninstall() -> dict[str, Any]:
    """Remove the unit file and its enablement links. Returns {"unit_path", "removed", "command", "message"}."""
    path = unit_path()
    removed: list[str] = []
    for link in _enablement_links():
        try:
            link.unlink()
            removed.append(str(link))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise ServiceError(f"cannot remove {link}: {e.strerror or e}") from e
    try:
        path.unlink()
        removed.insert(0, str(path))
    except FileNotFoundError:
        pass
    except OSError as e:
        raise ServiceError(f"cannot remove {path}: {e.strerror or e}") from e
    command = f"systemctl --user stop {UNIT_NAME}; systemctl --user daemon-reload"
    if removed:
        message = f"Removed {path}.\nStop a running alice and let systemd forget the unit with:\n  {command}"
    else:
        message = f"Nothing to remove: {path} does not exist."
    return {"unit_path": str(path), "removed": removed, "command": command if removed else "", "message": message}


def service_status() -> dict[str, Any]:
    """What is on disk and, when a user systemd is reachable, what it says.

    Keys: unit_path, installed, enabled, up_to_date (the unit runs this install's
    alice), exec_start (as written), active / sub_state (None when systemctl is
    unavailable), hint (the next command to run, or ""), logs (how to follow the journal).
    """
    path = unit_path()
    installed = path.is_file()
    text = path.read_text(errors="replace") if installed else ""
    written_exec = next((ln.split("=", 1)[1] for ln in text.splitlines() if ln.startswith("ExecStart=")), None)
    try:
        expected_exec = " ".join(_quote_arg(a) for a in default_exec_start())
    except ServiceError:
        expected_exec = None
    enabled = any(link.is_symlink() or link.exists() for link in _enablement_links())
    active, sub_state, no_session = _systemctl_state()
    if no_session:
        # Without a user manager, installing or enabling the unit does nothing until one exists.
        hint = ("run `alice run` in a terminal (or under tmux, screen or nohup) instead; "
                "to use the service, log in through a session that starts `systemd --user`, "
                f"or keep one running with `loginctl enable-linger {_user()}`")
    elif not installed:
        hint = "alice service install"
    elif written_exec != expected_exec:
        hint = "alice service install   (the unit runs a different alice than this one)"
    elif not enabled or active not in (None, "active", "activating", "reloading"):
        hint = ENABLE_COMMAND
    else:
        hint = ""
    return {"unit_path": str(path), "installed": installed, "enabled": enabled,
            "up_to_date": installed and written_exec == expected_exec, "exec_start": written_exec,
            "active": active, "sub_state": sub_state, "systemd": no_session or "user session",
            "hint": hint, "logs": LOGS_COMMAND}


def _enablement_links() -> list[Path]:
    return [unit_dir() / "default.target.wants" / UNIT_NAME]


def _systemctl_state() -> tuple[str | None, str | None, str | None]:
    """(ActiveState, SubState, None), or (None, None, why no user manager can be asked)."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None, None, "systemctl is not installed: this system does not run systemd"
    try:
        proc = subprocess.run([systemctl, "--user", "show", UNIT_NAME, "--property=ActiveState,SubState"],
                              capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, None, f"systemctl --user could not be run ({exc})"
    if proc.returncode != 0:
        # Over ssh without linger, in a container, under su: no user bus to talk to.
        said = (proc.stderr.strip().splitlines() or ["no answer"])[-1]
        return None, None, f"there is no systemd user session here (systemctl --user: {said})"
    props = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return props.get("ActiveState") or None, props.get("SubState") or None, None


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER", "$USER")
