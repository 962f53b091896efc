"""`alice`: the command line.

Every command takes --json, which prints machine-readable output (one JSON
object per line for per-file commands, one object otherwise) on stdout and
nothing else there; progress and human messages go to stderr.

Exit codes (the same for every command):
  0  success
  1  some files could not be processed (each one is reported)
  2  usage or configuration error (the message says which key and how to fix it)
  3  the catalog (PostgreSQL) is unavailable
  130 interrupted (Ctrl-C); whatever was filed is consistent and a re-run finishes the rest
"""
from __future__ import annotations

import importlib
from pathlib import Path

import click

from alice.daemon.cli.context import CliContext
from alice.daemon.errors import EXIT_INTERRUPTED

# Every command, where it lives. Modules are imported only for the command that runs (so
# `alice inspect` starts without the catalog's libraries), and nothing registers itself on import.
COMMANDS: dict[str, str] = {
    "init": "alice.daemon.cli.setup:init",
    "organize": "alice.daemon.cli.organize:organize",
    "inspect": "alice.daemon.cli.inspect:inspect",
    "status": "alice.daemon.cli.status:status",
    "run": "alice.daemon.cli.run:run",
    "retry": "alice.daemon.cli.run:retry",
    "events": "alice.daemon.cli.run:events",
    "service": "alice.daemon.cli.service:service",
    "search": "alice.daemon.cli.assistant:search",
    "mcp": "alice.daemon.cli.assistant:mcp",
    "generate": "alice.daemon.cli.generate:generate",
    "recreate": "alice.daemon.cli.generate:recreate",
    "vary": "alice.daemon.cli.generate:vary",
    "generations": "alice.daemon.cli.generate:generations",
    "projects": "alice.daemon.cli.generate:projects",
    "providers": "alice.daemon.cli.generate:providers",
    "lineage": "alice.daemon.cli.lineage:lineage",
    "project": "alice.daemon.cli.memory:project",
    "board": "alice.daemon.cli.memory:board",
    "models": "alice.daemon.cli.memory:models",
    "assess": "alice.daemon.cli.quality:assess",
    "rate": "alice.daemon.cli.quality:rate",
    "tag": "alice.daemon.cli.curate:tag",
    "untag": "alice.daemon.cli.curate:untag",
    "similar": "alice.daemon.cli.curate:similar",
    "move": "alice.daemon.cli.curate:move",
    "rebuild": "alice.daemon.cli.curate:rebuild",
}


class Commands(click.Group):
    """The `alice` group over the COMMANDS table (click's documented lazy-loading group)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, _, attr = where.partition(":")
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{where} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> object:
        # Ctrl-C where a command does not handle it (start-up, a catalog query): 130 as promised
        # above, where click would print "Aborted!" and exit 1.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ninterrupted.", err=True)
            ctx.exit(EXIT_INTERRUPTED)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                          list[str]]:
        if args and args[0] not in COMMANDS and not args[0].startswith("-"):
            import difflib  # only for a mistyped command: it costs every start-up 8 ms

            close = difflib.get_close_matches(args[0], COMMANDS, n=1)
            if close:
                ctx.fail(f"No such command {args[0]!r}. Did you mean {close[0]!r}?")
        return super().resolve_command(ctx, args)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Configuration file. Default: $ALICE_CONFIG, else ~/.config/alice/config.yaml.")
@click.version_option(package_name="alicemultiverse", prog_name="alice")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """alice files the images and videos your AI tools make.

    \b
    Drop files into an inbox folder; alice works out which AI tool made each
    one and with what prompt and settings, hashes it, files it into a dated
    project tree with a YAML sidecar, and indexes it in PostgreSQL.

    \b
    First steps:
      alice init                 create the config, folders and catalog
      alice run                  watch the inboxes, file new files as they arrive
      alice organize             file everything in the inboxes once
      alice inspect FILE         show which AI made a file, with what settings
      alice search "red fox"     find filed assets by prompt text and filters
      alice status               catalog, running daemons, queue, counts
      alice service install      run `alice run` as a systemd user service

    \b
    Every command has --help; every command that prints results has --json
    (machine-readable output on stdout). `alice run` logs JSON lines when its
    output is not a terminal; `alice mcp` speaks MCP on stdio.

    \b
    Exit codes: 0 ok, 1 some files failed, 2 usage/config error,
    3 catalog unavailable, 130 interrupted.
    """
    ctx.obj = CliContext(config_path)


if __name__ == "__main__":  # pragma: no cover
    main()
