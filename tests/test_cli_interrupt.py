"""Ctrl-C anywhere a command does not handle it ends alice with 130 and one line, as main's
docstring promises, not click's "Aborted!" and 1."""
from __future__ import annotations

import click
from click.testing import CliRunner

from alice.daemon.cli import main as cli


@click.command()
def interrupted_early() -> None:
    raise KeyboardInterrupt


def test_an_unhandled_ctrl_c_exits_130(monkeypatch) -> None:
    monkeypatch.setitem(cli.COMMANDS, "boom", "tests.test_cli_interrupt:interrupted_early")
    result = CliRunner().invoke(cli.main, ["boom"])
    assert result.exit_code == 130
    assert "interrupted" in result.output and "Aborted" not in result.output
