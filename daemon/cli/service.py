"""`alice service`: alice as a systemd user service."""
from __future__ import annotations

import click

from alice.daemon.cli.context import CliContext, emit, json_option, pass_ctx


@click.group()
def service() -> None:
    """Install alice as a systemd user service (alice run, restarted on failure)."""


@service.command("install")
@json_option
@pass_ctx
def service_install(ctx: CliContext, as_json: bool) -> None:
    """Write ~/.config/systemd/user/alice.service for this installation."""
    from alice.daemon.ops import service as svc

    cfg = ctx.config()
    info = svc.install(config_path=cfg.source)
    emit(info) if as_json else click.echo(info["message"])


@service.command("uninstall")
@json_option
def service_uninstall(as_json: bool) -> None:
    """Remove the unit file (stop the service first: systemctl --user disable --now alice)."""
    from alice.daemon.ops import service as svc

    info = svc.uninstall()
    emit(info) if as_json else click.echo(info["message"])


@service.command("status")
@json_option
def service_status(as_json: bool) -> None:
    """Whether the unit is installed, and what systemd says about it."""
    from alice.daemon.ops import service as svc

    info = svc.service_status()
    if as_json:
        emit(info)
        return
    click.echo(f"unit:    {info['unit_path']} ({'installed' if info['installed'] else 'not installed'}"
               f"{', enabled' if info['enabled'] else ''}"
               f"{', runs another alice' if info['installed'] and not info['up_to_date'] else ''})")
    if info["active"] is not None:
        click.echo(f"state:   {info['active']} ({info['sub_state']})")
    else:
        click.echo(f"systemd: {info['systemd']}")
    if info["hint"]:
        click.echo(f"next:    {info['hint']}")
    click.echo(f"logs:    {info['logs']}")
