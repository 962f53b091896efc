"""`alice init`: the configuration, the folders and the catalog a new user needs."""
from __future__ import annotations

import json
from pathlib import Path

import click

from alice.daemon import config as config_mod
from alice.daemon.cli.context import EXIT_CONFIG, CliContext, emit, fail, json_option, pass_ctx
from alice.daemon.config import ConfigError


@click.command()
@click.option("--inbox", type=click.Path(file_okay=False, path_type=Path), default=Path("~/AI-Inbox"),
              show_default=True, help="Folder you drop files into.")
@click.option("--organized", type=click.Path(file_okay=False, path_type=Path), default=Path("~/AI-Organized"),
              show_default=True, help="Folder alice files them into.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where alice keeps its own data (embedded catalog). Default: ~/.local/share/alice.")
@click.option("--database-url", default="", help="Use this PostgreSQL server instead of the embedded one.")
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@json_option
@pass_ctx
def init(ctx: CliContext, inbox: Path, organized: Path, data_dir: Path | None, database_url: str,
         force: bool, as_json: bool) -> None:
    """Create the configuration, the folders and the catalog.

    Writes ~/.config/alice/config.yaml (or --config / $ALICE_CONFIG), makes the
    inbox and organized folders, starts the catalog and applies its schema.
    Running it again with an existing configuration keeps that file and only
    checks that everything is in place.
    """
    path = config_mod.config_path(ctx.config_path)
    data_dir = (data_dir or config_mod.xdg_data_home() / "alice").expanduser().absolute()
    inbox, organized = inbox.expanduser().absolute(), organized.expanduser().absolute()
    wrote = False
    if not path.exists() or force:
        text = config_mod.render_initial(inbox, organized, data_dir)
        if database_url:
            text = text.replace('  url: ""', f"  url: {json.dumps(database_url)}")
        try:
            config_mod.parse(__import__("yaml").safe_load(text), source=path)
        except ConfigError as exc:
            fail(f"cannot initialise: {exc}", EXIT_CONFIG)
        from alice.daemon.fs.fileops import write_text_atomic

        write_text_atomic(path, text)
        wrote = True
    cfg = ctx.config()
    for folder in [*cfg.inboxes, cfg.organized, cfg.data_dir]:
        folder.mkdir(parents=True, exist_ok=True)
    catalog = ctx.catalog()
    try:
        location = catalog.display_url
    finally:
        catalog.close()
    from alice.daemon.cli.invocation import alice_command

    summary = {"alice": alice_command(), "config": str(path), "config_written": wrote,
               "inboxes": [str(i) for i in cfg.inboxes], "organized": str(cfg.organized),
               "data_dir": str(cfg.data_dir), "catalog": location}
    if as_json:
        emit(summary)
        return
    click.echo(f"{'Wrote' if wrote else 'Kept existing'} configuration: {path}")
    for i in cfg.inboxes:
        click.echo(f"Inbox:     {i}   (one folder per project inside, e.g. {i / 'cyberpunk'})")
    click.echo(f"Organized: {cfg.organized}")
    click.echo(f"Catalog:   {location}")
    from alice.daemon.cli.invocation import activation_hint, alice_command

    alice = alice_command()
    click.echo(f"\nNext: drop files into the inbox, then run `{alice} organize` "
               f"(or `{alice} run` to keep watching).")
    hint = activation_hint()
    if hint:
        click.echo(f"(`alice` alone is not on your PATH yet; {hint}.)")
