"""The `alice` group is one explicit table of commands, loaded only for the command that runs."""
from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from alice.daemon.cli.main import COMMANDS, main
from tests.corpus_paths import CORPUS


def test_every_command_in_the_table_loads_under_its_name() -> None:
    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert isinstance(command, click.Command), name
        assert command.name == name, f"{COMMANDS[name]} is called {command.name!r}, listed as {name!r}"
    assert main.list_commands(ctx) == sorted(COMMANDS)
    assert main.get_command(ctx, "no-such-command") is None


def test_nothing_registers_itself_on_import() -> None:
    # Importing every command module must not add anything to the group: the table is the only list.
    code = ("import importlib\nfrom alice.daemon.cli.main import COMMANDS, main\n"
            "for where in COMMANDS.values(): importlib.import_module(where.partition(':')[0])\n"
            "print(len(main.commands))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"


def test_inspect_starts_without_the_catalog_libraries() -> None:
    # `alice inspect` needs no catalog: SQLAlchemy, psycopg and alembic stay unloaded (start-up time).
    sample = next(p for p in sorted(CORPUS.iterdir()) if p.suffix == ".png")
    code = ("import sys\nfrom alice.daemon.cli.main import main\n"
            f"try:\n    main(['inspect', '--json', {str(sample)!r}])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sqlalchemy', 'psycopg', 'alembic', 'structlog', 'httpx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_unknown_command_says_what_there_is() -> None:
    result = CliRunner().invoke(main, ["organise"])
    assert result.exit_code == 2
    assert "No such command 'organise'. Did you mean 'organize'?" in result.output


def test_inspect_reads_a_big_folder_in_workers_with_the_same_output_in_the_same_order(tmp_path) -> None:
    import shutil

    for copy in range(2):
        for f in sorted(CORPUS.iterdir()):
            shutil.copy(f, tmp_path / f"{copy}-{f.name}")
    alice = [sys.executable, "-m", "alice.daemon.cli", "inspect", "--json"]
    serial = subprocess.run([*alice, "-j1", str(tmp_path)], capture_output=True, text=True)
    forked = subprocess.run([*alice, "-j2", str(tmp_path)], capture_output=True, text=True)
    assert serial.returncode == forked.returncode
    assert forked.stdout == serial.stdout
    assert len(forked.stdout.splitlines()) == 2 * len(list(CORPUS.iterdir()))
