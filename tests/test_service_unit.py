"""The systemd user unit: render, install into a tmp XDG_CONFIG_HOME, status, uninstall."""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alice.daemon.ops import service
from alice.daemon.ops.service import ServiceError, install, render_unit, service_status, uninstall

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    # Never ask the real user manager about the real unit from a test.
    monkeypatch.setattr(service, "_systemctl_state", lambda: (None, None, None))
    return tmp_path / "cfg"


def parse(text: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(strict=False, interpolation=None, comment_prefixes=("#",))
    cp.optionxform = str  # keep key case
    cp.read_string(text)
    return cp


def test_rendered_unit_has_the_service_contract(tmp_path):
    unit = parse(render_unit(["/opt/alice/bin/alice", "run"], tmp_path / "config.yaml"))
    s = unit["Service"]
    assert s["Type"] == "notify" and s["NotifyAccess"] == "main"
    assert s["ExecStart"] == "/opt/alice/bin/alice run"
    assert s["WatchdogSec"] == "30" and s["Restart"] == "on-failure" and s["RestartSec"] == "5"
    assert s["TimeoutStopSec"] == "60" and s["KillSignal"] == "SIGTERM"
    assert unit["Install"]["WantedBy"] == "default.target"
    assert f"Environment=ALICE_CONFIG={tmp_path / 'config.yaml'}" in render_unit(["/a", "run"], tmp_path / "config.yaml")
    assert "@" not in render_unit(["/a", "run"], None).split("[Unit]", 1)[1]


def test_paths_with_spaces_percent_and_dollar_are_quoted():
    text = render_unit(["/home/me/My Tools%/bin/alice", "run"], Path("/home/me/$cfg/alice.yaml"))
    assert 'ExecStart="/home/me/My Tools%%/bin/alice" run' in text
    assert "Environment=ALICE_CONFIG=/home/me/$$cfg/alice.yaml" in text


def test_relative_program_and_line_breaks_are_refused():
    with pytest.raises(ServiceError, match="absolute"):
        render_unit(["alice", "run"], None)
    with pytest.raises(ServiceError, match="line break"):
        render_unit(["/bin/alice", "run\nExecStartPre=/bin/rm"], None)


def test_default_exec_start_is_this_installs_console_script():
    argv = service.default_exec_start()
    assert argv[-1] == "run"
    assert Path(argv[0]).is_absolute()
    assert Path(argv[0]).parent == Path(sys.executable).absolute().parent


def test_install_status_uninstall_round_trip(xdg):
    assert service_status()["installed"] is False
    assert service_status()["hint"] == "alice service install"

    info = install(config_path=Path("/srv/alice/config.yaml"))
    path = xdg / "systemd" / "user" / "alice.service"
    assert info["unit_path"] == str(path) and info["changed"] and path.is_file()
    assert "systemctl --user daemon-reload && systemctl --user enable --now alice.service" in info["message"]
    assert info["command"] == "systemctl --user daemon-reload && systemctl --user enable --now alice.service"
    assert parse(path.read_text())["Service"]["ExecStart"] == " ".join(service.default_exec_start())

    st = service_status()
    assert st["installed"] and st["up_to_date"] and not st["enabled"]
    assert st["hint"] == service.ENABLE_COMMAND
    assert st["logs"] == "journalctl --user -u alice.service -f"

    assert install(config_path=Path("/srv/alice/config.yaml"))["changed"] is False

    # what `systemctl --user enable` does, so uninstall must undo it
    wants = path.parent / "default.target.wants"
    wants.mkdir()
    (wants / "alice.service").symlink_to(path)
    assert service_status()["enabled"] is True

    out = uninstall()
    assert not path.exists() and not (wants / "alice.service").is_symlink()
    assert str(path) in out["removed"] and "daemon-reload" in out["command"]
    assert uninstall()["removed"] == []


def test_status_flags_a_unit_for_another_install(xdg):
    install(exec_start=["/some/other/venv/bin/alice", "run"])
    st = service_status()
    assert st["installed"] and not st["up_to_date"]
    assert st["hint"].startswith("alice service install")


def test_install_into_unwritable_dir_raises_actionable_error(xdg):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    (xdg / "systemd").mkdir(parents=True)
    (xdg / "systemd" / "user").mkdir(mode=0o500)
    with pytest.raises(ServiceError, match="writable"):
        install()


def test_repo_unit_file_is_the_template():
    assert (REPO / "systemd" / "alice.service").read_text() == service.UNIT_TEMPLATE


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_rendered_unit_passes_systemd_analyze_verify(tmp_path):
    unit = tmp_path / "alice.service"
    unit.write_text(render_unit(service.default_exec_start(), tmp_path / "config.yaml"))
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    if "Failed to initialize manager" in proc.stderr or "Failed to lookup" in proc.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr
    complaints = [ln for ln in proc.stderr.splitlines() if "alice.service" in ln]
    assert complaints == [], complaints


def test_status_without_a_user_bus_says_so_and_what_to_run(tmp_path):
    """A real `alice service status` where no systemd user manager can be reached."""
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALICE_", "DBUS_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_RUNTIME_DIR=str(runtime), DBUS_SESSION_BUS_ADDRESS=f"unix:path={runtime}/no-bus")
    alice = Path(sys.executable).parent / "alice"
    proc = subprocess.run([str(alice), "service", "status"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "None" not in proc.stdout, proc.stdout
    assert ("no systemd user session" in proc.stdout or "systemctl is not installed" in proc.stdout), proc.stdout
    assert "`alice run`" in proc.stdout and "loginctl enable-linger" in proc.stdout, proc.stdout
    data = json.loads(subprocess.run([str(alice), "service", "status", "--json"], env=env, capture_output=True,
                                     text=True, timeout=60).stdout)
    assert data["active"] is None and data["systemd"] != "user session" and "alice run" in data["hint"]
