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

import dataclasses
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from alice.daemon import config as config_mod
from alice.daemon.config import Config, ConfigError

# The exit codes are defined with the exception tree (daemon/errors.py); commands import them from here.
from alice.daemon.errors import EXIT_CATALOG, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL  # noqa: F401

if TYPE_CHECKING:
    from alice.daemon.app import App
    from alice.daemon.quality.assess import Rescorer


class CliContext:
    def __init__(self, config_path: Path | None):
        self.config_path = config_path
        self._config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = config_mod.load(self.config_path)
            except ConfigError as exc:
                fail(f"configuration error: {exc}", EXIT_CONFIG)
        return self._config

    def app(self, application_name: str = "alice", pool_size: int = 5, serve_metrics: bool = False) -> App:
        """The process's services (daemon/app.py), built lazily; close it when done."""
        from alice.daemon.app import App

        return App(self.config(), application_name=application_name, pool_size=pool_size,
                   serve_metrics=serve_metrics)

    def catalog(self, application_name: str = "alice", pool_size: int = 5):
        from alice.daemon.catalog.engine import Catalog
        from alice.daemon.catalog.errors import CatalogError

        cfg = self.config()
        try:
            return Catalog.open(cfg.database.url or None, cfg.data_dir, application_name=application_name,
                                pool_size=pool_size)
        except CatalogError as exc:
            fail(f"catalog unavailable: {exc}", EXIT_CATALOG)


def fail(message: str, code: int) -> None:
    from alice.daemon.cli.wording import for_terminal

    click.echo(f"alice: {for_terminal(message)}", err=True)
    sys.exit(code)


def emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


pass_ctx = click.make_pass_decorator(CliContext)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of text.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


# -- init -------------------------------------------------------------------------------
@main.command()
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


# -- organize ---------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--move", "mode", flag_value="move", help="Remove each source once it is safely filed.")
@click.option("--copy", "mode", flag_value="copy", help="Leave sources in the inbox (the default).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Files worked on at once (default 0: one per core, like `alice run`).")
@click.option("--pixels", type=click.Choice(["now", "later"]), default="now", show_default=True,
              help="Decode pixels (perceptual hash, quality) once everything is filed, or leave that "
                   "to a running `alice run`.")
@json_option
@pass_ctx
def organize(ctx: CliContext, paths: tuple[Path, ...], dry_run: bool, mode: str | None, jobs: int,
             pixels: str, as_json: bool) -> None:
    """File every file in the inboxes once (or just PATHS inside an inbox).

    \b
    Each file lands at <organized>/<layout>/<name> (default layout
    {date}/{project}/{tool}) with a <name>.yaml sidecar beside it; the project
    is the first folder under the inbox. Files that cannot be read go to
    <organized>/.quarantine/ with a .reason.txt. Running it twice changes
    nothing the second time. Files are filed first (searchable at once) and
    their pixels decoded after (perceptual hash, quality): see --pixels.

    \b
    With --json: one object per file on stdout, in the order they finish:
      {"path", "status": organized|duplicate|unchanged|quarantined|failed|planned,
       "dest", "content_id", "tool", "ai", "project", "reason", "elapsed_ms"}
    """
    import time as _time

    from alice.daemon.ingest.filing import (
        FAILED,
        QUARANTINED,
        REFUSED,
        Organizer,
        Refusal,
        Result,
        Source,
        inbox_files,
        startup_sweep,
    )
    from alice.daemon.ingest.line import FilingLine

    cfg = ctx.config()
    for inbox in [] if paths else cfg.inboxes:
        if not inbox.is_dir():
            click.echo(f"alice: inbox {inbox} does not exist, so nothing is read from it: create it "
                       f"(mkdir -p {inbox}) or correct 'inboxes' in {cfg.source}", err=True)
    found = list(inbox_files(cfg, paths or None))
    refusals = [x for x in found if isinstance(x, Refusal)]
    sources = [x for x in found if not isinstance(x, Refusal)]
    counts: Counter[str] = Counter()
    for r in refusals:
        # Said before anything is read, on stdout with --json like every other outcome.
        counts[REFUSED] += 1
        if as_json:
            emit(r.result().to_json())
        else:
            click.echo(f"refused: {r.result().path}: {r.reason}", err=True)
    if any(r.explicit for r in refusals):
        fail("nothing was filed: fix or leave out the refused path(s) above", EXIT_CONFIG)
    jobs = jobs or cfg.worker_count
    # A dry run predicts file by file in order (a later copy of the same bytes is the duplicate
    # it will be), so it runs one at a time; filing is half waiting (fsync, catalog): two threads a core.
    threads = 1 if dry_run else max(2, jobs * 2)
    inflight = threads * 2
    # Each file placed and waiting for its group's commit holds a content-lock connection.
    app = ctx.app(pool_size=inflight + threads + 2)
    # A dry run reads the catalog too: only it knows which files are filed already.
    catalog = _open(app).catalog
    if not dry_run:
        startup_sweep(cfg, catalog)
    quality = app.quality
    rescore = None if dry_run else _rescorer(app)
    organizer = Organizer(cfg, catalog, mode=mode, dry_run=dry_run, quality=quality, rescore=rescore,
                          pixels_now=False)
    line = FilingLine(organizer, threads)
    started = _time.perf_counter()

    def emit_result(src: Source, result: Result) -> None:
        counts[str(result.status)] += 1
        if not result.elapsed_ms:
            result.elapsed_ms = round((_time.perf_counter() - started) * 1000, 2)
        if as_json:
            emit(result.to_json())
        elif dry_run:
            click.echo(_would(result))
        elif result.status in (FAILED, QUARANTINED, "not-media"):
            click.echo(f"\n{result.status}: {result.path}: {result.reason}", err=True)
        bar_step()

    try:
        with _progress(sources, as_json, "Organizing") as bar:
            bar_step = (lambda: bar.update(1)) if hasattr(bar, "update") else (lambda: None)
            line.run(sources, emit_result, inflight=inflight)
        if not dry_run and pixels == "now":
            filled = _pixel_stage(cfg, catalog, quality, rescore, jobs)
            if filled and not as_json:
                click.echo(f"Pixels: {filled} file(s) got their perceptual hash"
                           f"{' and quality' if quality is not None else ''}.")
    except KeyboardInterrupt:
        click.echo("\ninterrupted: what was filed is consistent; run again to finish.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        line.shutdown()
        app.close()
    if not as_json:
        _summary(counts, len(found), dry_run)
    sys.exit(EXIT_PARTIAL if counts[FAILED] else EXIT_OK)


def _would(result: Any) -> str:
    """One line of a dry run: what the real run will do with this file."""
    if result.status == "planned":
        return f"would file        {result.path}\n             ->  {result.dest}"
    if result.status == "duplicate":
        return f"would skip        {result.path}  (duplicate of {result.dest})"
    if result.status == "unchanged":
        return f"unchanged         {result.path}  ({result.reason}: {result.dest})"
    if result.status == "quarantined":
        return f"would quarantine  {result.path}  ({result.reason})"
    return f"{result.status:17} {result.path}  ({result.reason})"


def _pixel_stage(cfg: Config, catalog: Any, quality: Any, rescore: Any, jobs: int) -> int:
    """The second stage for everything still waiting for it, in `jobs` threads: a one-shot
    command spares the seconds worker processes take to start, and the decoders release
    the GIL. The budgets (pipeline/pixels.py) bound each decode before it starts."""
    from concurrent.futures import ThreadPoolExecutor

    from alice.daemon.ingest.pixel_stage import PixelStage, pending

    if not pending(catalog, 1):
        return 0
    stage = PixelStage(catalog, quality, rescore)
    with ThreadPoolExecutor(jobs, thread_name_prefix="alice-pixels") as pool:
        return stage.run_all(pool, slots=jobs * 2)


def _summary(counts: Counter[str], total: int, dry_run: bool) -> None:
    if total == 0:
        click.echo("Nothing to do: the inboxes are empty.")
        return
    changed = counts["organized"] + counts["duplicate"] + counts["quarantined"] + counts["planned"]
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    click.echo(f"{total} files: " + ", ".join(parts) + ".")
    if not changed and not counts["failed"]:
        click.echo("Nothing changed: everything was already filed.")
    if dry_run:
        click.echo("Dry run: nothing was changed.")


class _NoBar:
    def __init__(self, items: list[Any]):
        self.items = items

    def __enter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __exit__(self, *exc: Any) -> None:
        return None


def _progress(items: list[Any], quiet: bool, label: str) -> Any:
    """A progress bar on stderr when a person is watching, nothing otherwise."""
    if quiet or not sys.stderr.isatty() or not items:
        return _NoBar(items)
    return click.progressbar(items, label=label, file=sys.stderr, show_pos=True, show_eta=True,
                             item_show_func=lambda s: s.path.name[:40] if s else "")


def _open(app: App) -> App:
    """`app` with its catalog open, or exit 3 naming why it is not."""
    from alice.daemon.catalog.errors import CatalogError

    try:
        _ = app.catalog          # opening it is the point: fail here, with exit 3, not mid-command
    except CatalogError as exc:
        fail(f"catalog unavailable: {exc}", EXIT_CATALOG)
    return app


def _rescorer(app: App) -> Rescorer | None:
    """The paid quality stages for filing (None unless quality is on and names one); provider
    log lines go to stderr, never into --json."""
    from alice.daemon.ops.logs import configure_logging
    from alice.providers.errors import ProviderConfigError

    quality = app.quality
    if quality is None or len(quality.stages) == 1:
        return None
    configure_logging(app.cfg.log.level, app.cfg.log.json)
    try:
        return app.rescorer()
    except ProviderConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)
    return None


# -- inspect ----------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--exif", "every_exif", is_flag=True,
              help="Also list every EXIF tag (camera, lens, exposure, GPS, ...), read with exifread.")
@json_option
def inspect(paths: tuple[Path, ...], every_exif: bool, as_json: bool) -> None:
    """Show which AI tool made each file and with what settings. Needs no catalog.

    \b
    Folders are walked. Reads metadata only; never changes a file.
    With --json: one object per file, one per line:
      {"path", "format", "media", "ai", "tool", "evidence": [...],
       "generation": {"prompt", "negative_prompt", "seed", "steps", "cfg", "sampler",
                      "scheduler", "model", "model_hash", "width", "height", "loras",
                      "created_at"},
       "error",  (+ "exif": {"Image Make": ..., "GPS GPSLatitude": ...} with --exif)
       "alice": {"provider", "model", "request_id", "references", "graph" | "params",
                 "rerun": {"kind", "of", "from", "overrides"}, "parents": [...]}}
    (`alice` only for files alice generated: what ran, and what it was varied from.)
    """
    from alice.pipeline.inspect import inspect_file, iter_paths

    errors = 0
    for path in iter_paths(paths):
        info = inspect_file(path)
        data = info.to_json()
        if every_exif:
            from alice.pipeline.exif_tags import every_exif_tag

            data["exif"] = every_exif_tag(path)
        errors += bool(data.get("error"))
        if as_json:
            emit(data)
            continue
        _print_inspection(data)
    sys.exit(EXIT_PARTIAL if errors else EXIT_OK)


def _print_inspection(d: dict[str, Any]) -> None:
    tool = d.get("tool") or ("AI, tool unknown" if d.get("ai") else "no AI marker")
    click.secho(d["path"], bold=True)
    click.echo(f"  {d.get('format')} {d.get('media')}  ->  {tool}")
    if d.get("error"):
        click.secho(f"  error: {d['error']}", fg="red")
    gen = d.get("generation") or {}
    for key, value in gen.items():
        if value not in (None, [], ""):
            text = str(value)
            click.echo(f"  {key:16} {text if len(text) < 300 else text[:297] + '...'}")
    for ev in d.get("evidence") or []:
        click.echo(f"  evidence         {ev}")
    made = d.get("alice")
    if made:
        click.echo(f"  made by alice    {made['provider']} {made.get('model') or ''}  request {made.get('request_id')}")
        if made.get("graph"):
            kinds = sorted({str(n.get("class_type")) for n in made["graph"].values() if isinstance(n, dict)})
            click.echo(f"  graph            {len(made['graph'])} nodes: {', '.join(kinds)[:240]}")
        rerun = made.get("rerun") or {}
        if rerun:
            changed = ", ".join(f"{k}={v!r}" for k, v in (rerun.get("overrides") or {}).items()) or "nothing changed"
            click.echo(f"  {rerun.get('kind', '').replace('_', ' '):16} {rerun.get('of')} ({changed})")
        for parent in made.get("parents") or []:
            click.echo(f"  parent           {parent.get('content_id')} ({parent.get('kind')})")
    if "exif" in d:
        click.echo("  exif" + ("" if d["exif"] else "             (none)"))
        for key, value in d["exif"].items():
            click.echo(f"    {key:34} {value}")


# -- status -----------------------------------------------------------------------------
@main.command()
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
    from alice.daemon.cli.status import show_status

    show_status(ctx, as_json)


# -- run (the daemon) -------------------------------------------------------------------
@main.command()
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
    server and file system, share the work; no file is filed twice.
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
    # Files placed and waiting for their group's commit each hold a content-lock connection
    # (2 x FILING_THREADS), filing threads a session each; the watcher and the loop one each.
    from alice.daemon.ingest.runner import FILING_THREADS

    app = ctx.app(application_name=APP_PREFIX + worker, pool_size=FILING_THREADS * 3 + 4, serve_metrics=True)
    try:
        _open(app)
        try:
            daemon = app.daemon(worker)
        except MetricsServerError as exc:
            fail(str(exc), EXIT_CONFIG)
        code = daemon.run_forever()
    finally:
        app.close()
    sys.exit(code)


# -- retry ------------------------------------------------------------------------------
@main.command()
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
@main.command()
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


# -- service ----------------------------------------------------------------------------
@main.group()
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


# -- generate, recreate, generations, projects, providers: daemon/cli/generate.py adds them to `main`
import alice.daemon.cli.generate  # noqa: E402,F401  (last: it needs the names above)

# -- search, mcp (daemon/cli/assistant.py) -----------------------------------------------
from alice.daemon.cli.assistant import register_assistant_commands  # noqa: E402  (needs the names above)

register_assistant_commands(main)

# -- lineage, project/board/models (daemon/cli/memory.py), assess and rate (daemon/cli/quality.py)
import alice.daemon.cli.lineage  # noqa: E402,F401  (needs the names above)
import alice.daemon.cli.memory  # noqa: E402,F401  (needs the names above)
import alice.daemon.cli.quality  # noqa: E402,F401  (needs the names above)

# -- tag, untag, similar, move, rebuild (daemon/cli/curate.py) ---------------------------
from alice.daemon.cli.curate import register_curation_commands  # noqa: E402  (needs the names above)

register_curation_commands(main)


if __name__ == "__main__":  # pragma: no cover
    main()
