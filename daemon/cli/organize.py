"""`alice organize`: every file in the inboxes filed once, through the same filing line as `alice run`."""
from __future__ import annotations

import sys
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from alice.daemon.cli.context import CliContext, emit, fail, json_option, open_app, pass_ctx, progress, rescorer
from alice.daemon.errors import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL

if TYPE_CHECKING:
    from concurrent.futures import Executor


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--move", "mode", flag_value="move", help="Remove each source once it is safely filed.")
@click.option("--copy", "mode", flag_value="copy", help="Leave sources in the inbox (the default).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Cores to file on (default 0: one per core, like `alice run`). Beyond the first, "
                   "helper processes file shares of 48 files or more (at most filing_processes).")
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

    from alice.daemon.ingest.fanout import Helpers, helper_count
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
    from alice.daemon.ingest.line import FILING_THREADS, FilingLine

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
    # Helpers file shares of the files on the other cores (ingest/fanout.py); forked first,
    # before this process has a thread or a connection to share by mistake.
    n = 0 if dry_run else helper_count(cfg, jobs, len(sources))
    own, *shares = [sources[i::n + 1] for i in range(n + 1)]
    helpers = Helpers(cfg, shares, mode=mode, threads=FILING_THREADS) if n else None
    # A dry run predicts file by file in order (a later copy of the same bytes is the duplicate
    # it will be), so it runs one at a time; filing is half waiting (fsync, catalog): two threads
    # a core, or a filing line's threads in each process when helpers file beside this one.
    threads = 1 if dry_run else FILING_THREADS if n else max(2, jobs * 2)
    inflight = threads * 2
    workers = _pixel_workers(jobs) if pixels == "now" and not dry_run else None
    # A session per thread (a content the catalog knows), the filer's link (catalog/filing_link.py),
    # the group's commit.
    app = ctx.app(pool_size=threads + 6)
    # A dry run reads the catalog too: only it knows which files are filed already.
    catalog = open_app(app).catalog
    if not dry_run:
        startup_sweep(cfg, catalog)
    quality = app.quality
    rescore = None if dry_run else rescorer(app)
    organizer = Organizer(cfg, catalog, mode=mode, dry_run=dry_run, quality=quality, rescore=rescore,
                          pixels_now=False)
    line = FilingLine(organizer, threads)
    started = _time.perf_counter()

    lock = threading.Lock()        # helpers' results come from a thread each

    def emit_result(src: Source, result: Result) -> None:
        with lock:
            _emit_result(src, result)

    def _emit_result(src: Source, result: Result) -> None:
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
        with progress(sources, as_json, "Organizing") as bar:
            bar_step = (lambda: bar.update(1)) if hasattr(bar, "update") else (lambda: None)
            if helpers is not None:
                helpers.start(catalog.engine.url.render_as_string(hide_password=False), emit_result)
            line.run(own, emit_result, inflight=inflight)
            if helpers is not None:
                helpers.wait()
        if workers is not None:
            filled = _pixel_stage(catalog, quality, rescore, workers, jobs)
            if filled and not as_json:
                click.echo(f"Pixels: {filled} file(s) got their perceptual hash"
                           f"{' and quality' if quality is not None else ''}.")
    except KeyboardInterrupt:
        click.echo("\ninterrupted: what was filed is consistent; run again to finish.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if helpers is not None:
            helpers.stop()
        line.shutdown()
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)
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


def _pixel_workers(jobs: int) -> Executor:
    """Worker processes for the second stage (a decode is CPU-bound: threads would share one
    core), forked at once from a process that has imported the decoders, so they start in
    milliseconds rather than the seconds a spawned interpreter takes. They die with this
    process and leave Ctrl-C to it (ops/lineage.die_with_parent)."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    from alice.daemon.ingest import pixel_stage  # noqa: F401  (imported before the fork)
    from alice.daemon.ops.lineage import die_with_parent

    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=die_with_parent, initargs=(os.getpid(),))
    pool.submit(int).result()   # a fork pool starts every worker at its first task: now, not later
    return pool


def _pixel_stage(catalog: Any, quality: Any, rescore: Any, workers: Executor, jobs: int) -> int:
    """The second stage for everything still waiting for it. The budgets (pipeline/pixels.py)
    bound each decode before it starts."""
    from alice.daemon.ingest.pixel_stage import PixelStage, pending

    if not pending(catalog, 1):
        return 0
    return PixelStage(catalog, quality, rescore).run_all(workers, slots=jobs * 3, batch=jobs)


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
