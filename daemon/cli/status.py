"""`alice status`: the report, from the running daemon over its socket when there is one, else from the catalog."""
from __future__ import annotations

from typing import Any

import click

from alice.daemon.cli.context import CliContext, emit, json_option, pass_ctx


def gather(ctx: Any) -> tuple[dict[str, Any], str]:
    """The report and where it came from ("daemon" or "catalog")."""
    from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient, daemon_socket

    cfg = ctx.config()
    try:
        with RpcClient(daemon_socket(cfg), timeout=10.0) as client:
            return client.call("daemon.report"), "daemon"
    except (DaemonNotRunning, RpcCallError, OSError):
        pass          # no daemon, or an older one without daemon.report: read the catalog
    from alice.daemon.ops.status_report import report

    catalog = ctx.catalog()
    try:
        return report(cfg, catalog), "catalog"
    finally:
        catalog.close()


def show_status(ctx: Any, as_json: bool) -> None:
    info, source = gather(ctx)
    info["source"] = source
    if as_json:
        emit(info)
        return
    click.echo(f"Catalog:   {info['catalog']}{' (embedded)' if info['embedded'] else ''}")
    click.echo(f"Organized: {info['organized']}")
    if not info["daemons"]:
        click.echo("Daemons:   none running (start one with `alice run` or `systemctl --user start alice`)")
    for d in info["daemons"]:
        click.echo(f"Daemon:    {d['worker']} (connected since {d['connected_since'][:19]})")
    for d in info["local_daemons"]:
        for inbox, mode in (d.get("watchers") or {}).items():
            note = (d.get("watcher_notes") or {}).get(inbox)
            click.echo(f"  watching {inbox}: {mode}{f' ({note})' if note else ''}")
        for err in (d.get("last_errors") or [])[-5:]:
            click.echo(f"  error: {err.get('where')}: {err.get('error')}")
    click.echo("Queue:     " + ", ".join(f"{k} {v}" for k, v in info["queue"].items()))
    for job in info["failed_jobs"]:
        click.echo(f"  failed #{job['id']}: {job['path']}: {job['error']}  (alice retry {job['id']})")
    for job in info.get("not_media") or []:
        click.echo(f"  not media, left in the inbox: {job['path']}: {job['reason']}")
    files = info["files"]
    click.echo(f"\nAssets:    {info['assets']}   distinct contents; copies with the same pixels count once")
    click.echo(f"Files:     {files['organized']} in the organized tree, "
               f"{files['inbox_sources']} inbox files they were filed from, "
               f"{files['quarantined']} quarantined")
    for key, title in (("by_tool", "Assets by tool"), ("by_project", "Assets by project"),
                       ("by_media", "Assets by media")):
        click.echo(f"{title}:")
        for k, v in sorted(info[key].items(), key=lambda kv: (-kv[1], str(kv[0]))):
            click.echo(f"  {str(k):24} {v}")


@click.command()
@json_option
@pass_ctx
def status(ctx: CliContext, as_json: bool) -> None:
    """Catalog location, running daemons, queue, watchers, last errors, and counts.

    \b
    Counts: assets are distinct contents (the same pixels are one asset however
    many copies exist); files are the copies alice knows of, by place: in the
    organized tree, the inbox files they were filed from, the quarantine.
    Asks the running daemon when there is one (milliseconds), else reads the
    catalog itself. Daemons on this machine report their watcher mode per
    inbox (inotify or polling, and why) and their last errors; daemons on other
    machines that share the catalog are listed by their live connection.
    """
    show_status(ctx, as_json)
