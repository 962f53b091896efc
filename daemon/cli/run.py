"""`alice run` (the daemon), and `alice retry` and `alice events` beside it."""
from __future__ import annotations

import dataclasses
import sys

import click

from alice.daemon.cli.context import EXIT_CONFIG, CliContext, emit, fail, json_option, open_app, pass_ctx


@click.command()
@click.option("--workers", type=int, default=None, help="Worker processes (default: config 'workers', 0 = cores).")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show what the embedded PostgreSQL and the schema migrations say as they start.")
@pass_ctx
def run(ctx: CliContext, workers: int | None, verbose: bool) -> None:
    """Watch the inboxes and file every new file as it arrives (the service).

    \b
    Runs until SIGTERM or Ctrl-C, then finishes or hands back the files in
    flight and exits 0 (130 after Ctrl-C). Under systemd (see `alice service install`) it reports
    READY, pings the watchdog and logs JSON lines to the journal. Several
    `alice run` processes, on one machine or several sharing one PostgreSQL
    server and file system, share the work; no file is filed twice. Each
    also files with processes of its own, which die with it (config
    'filing_processes': auto = one per core beyond the first, 0 = none).
    """
    from alice.daemon.api.socket_folder import UnsafeSocket, check_folder
    from alice.daemon.ops.logs import configure_logging

    cfg = ctx.config()
    if workers is not None:
        cfg = dataclasses.replace(cfg, workers=max(0, workers))
    try:
        check_folder(cfg.socket.parent, create=True)
    except (UnsafeSocket, OSError) as exc:
        fail(f"refusing to start: {exc}", EXIT_CONFIG)
    configure_logging(cfg.log.level, cfg.log.json, verbose=verbose)
    from alice.daemon.ops.lineage import owner_name
    from alice.daemon.ops.metrics import MetricsServerError
    from alice.daemon.ops.presence import APP_PREFIX

    worker = owner_name()      # host:pid:start, so a daemon started later can tell this one died
    # Filing threads a session each (a content the catalog knows) and the filer's link as many
    # (catalog/filing_link.py); the committer, the watcher, the loop, the socket and the pixel
    # stage one each.
    from alice.daemon.ingest.runner import FILING_THREADS

    app = ctx.app(application_name=APP_PREFIX + worker, pool_size=FILING_THREADS * 2 + 5, serve_metrics=True)
    try:
        open_app(app)
        try:
            daemon = app.daemon(worker)
        except MetricsServerError as exc:
            fail(str(exc), EXIT_CONFIG)
        code = daemon.run_forever()
    finally:
        app.close()
    sys.exit(code)


# -- retry ------------------------------------------------------------------------------
@click.command()
@click.argument("job_ids", nargs=-1, type=int)
@json_option
@pass_ctx
def retry(ctx: CliContext, job_ids: tuple[int, ...], as_json: bool) -> None:
    """Requeue failed jobs (all of them, or the JOB_IDS given) for a running daemon."""
    from alice.daemon.ingest import queue

    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            n = queue.retry_failed(s, list(job_ids) if job_ids else None)
    finally:
        catalog.close()
    if as_json:
        emit({"requeued": n})
    else:
        click.echo(f"Requeued {n} failed job(s).")


# -- events -----------------------------------------------------------------------------
@click.command()
@click.option("--follow/--no-follow", "-f", default=True, help="Keep following new events (default) or print and exit.")
@click.option("--since", type=int, default=None, help="Start after this event id (default: the last 20 events).")
@json_option
@pass_ctx
def events(ctx: CliContext, follow: bool, since: int | None, as_json: bool) -> None:
    """Print catalog events (organized, duplicate, quarantined, failed, ...) as they happen."""
    from alice.daemon.catalog.events import follow_events

    catalog = ctx.catalog()
    try:
        for ev in follow_events(catalog, since=since, follow=follow):
            if as_json:
                emit(ev)
            else:
                click.echo(f"{ev['at']}  #{ev['id']:<6} {ev['kind']:<12} {ev.get('path') or ''}")
    except KeyboardInterrupt:
        pass
    finally:
        catalog.close()
