"""`alice assess` and `alice rate`: star ratings, computed and personal.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from alice.daemon.cli.context import CliContext, emit, fail, json_option, pass_ctx, resolve_asset
from alice.daemon.errors import EXIT_CATALOG, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL

if TYPE_CHECKING:
    from alice.daemon.app import App
    from alice.daemon.provider_host import ProviderHost


def _quality(ctx: CliContext, stages_text: str | None) -> Any:
    from alice.daemon.quality.assess import AssessError, stages_for
    from alice.pipeline.quality.config import QualityConfigError
    from alice.pipeline.quality.stages import StageNameError, parse_stage_list

    cfg = ctx.config()
    try:
        return stages_for(cfg.quality, parse_stage_list(stages_text) if stages_text else None)
    except (QualityConfigError, StageNameError, AssessError) as exc:
        fail(f"--stages / quality: {exc}", EXIT_CONFIG)


def _providers_for(ctx: CliContext, app: App, qcfg: Any) -> ProviderHost | None:
    """The app's providers when a paid stage is asked for, else None (no network, no catalog)."""
    if len(qcfg.stages) == 1:
        return None
    from alice.daemon.ops.logs import configure_logging
    from alice.providers.errors import ProviderConfigError

    configure_logging(app.cfg.log.level, app.cfg.log.json)      # provider log lines to stderr, never into --json
    try:
        return app.providers
    except ProviderConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)
    return None


def _print(report: dict[str, Any]) -> None:
    stars = report.get("stars")
    head = f"{report.get('score') if report.get('score') is not None else '-':>6}  {stars or '-'}*  {report['path']}"
    if report.get("status") == "moved":
        head += f"  (moved from {report['from']})"
    click.echo(head)
    for name, result in (report.get("stages") or {}).items():
        if result.get("error") == report.get("error"):
            continue                    # said once, below
        if result.get("error"):
            click.echo(f"    {name:24} error: {result['error']}")
        elif result.get("skipped"):
            click.echo(f"    {name:24} skipped ({result['skipped']}): {result.get('reason', '')}")
        else:
            extra = f"  defects: {', '.join(result['defects'])}" if result.get("defects") else ""
            cached = "  (cached)" if result.get("cached") else ""
            click.echo(f"    {name:24} {result.get('score')}{cached}{extra}")
    if report.get("error"):
        click.echo(f"    error: {report['error']}")


def assessable(paths: tuple[Path, ...]) -> Any:
    """The files to score: those named, and the media in the folders named. Walking a folder
    skips what alice itself keeps there: sidecars (<file>.yaml beside <file>), the
    quarantine and its .reason.txt notes."""
    from alice.pipeline.inspect import iter_paths
    from alice.pipeline.sidecar import sidecar_path

    for given in paths:
        if not given.is_dir():
            yield given
            continue
        for path in iter_paths([given]):       # hidden folders (.quarantine) are not entered
            owner = path.with_name(path.name.rsplit(".", 1)[0])
            if path.name.endswith(".yaml") and sidecar_path(owner) == path and owner.is_file():
                continue
            if path.name.endswith(".reason.txt") and path.with_name(path.name[:-len(".reason.txt")]).is_file():
                continue
            yield path


def _failed(report: dict[str, Any]) -> bool:
    return bool(report.get("error")) or any(r.get("error") for r in (report.get("stages") or {}).values())


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--stages", "stages_text", metavar="LIST",
              help="Comma-separated cascade, e.g. technical,aesthetic:fal,vision:anthropic "
                   "(default: quality.stages in the config).")
@click.option("--project", help="With --apply: the project to re-assess. With PATHS: whose budget pays "
                                "for paid stages (default: the file's project if catalogued, else default_project).")
@click.option("--apply", "apply_", is_flag=True,
              help="Re-assess the organized files of --project, record the new stars and move files "
                   "to their new star folders.")
@json_option
@pass_ctx
def assess(ctx: CliContext, paths: tuple[Path, ...], stages_text: str | None, project: str | None,
           apply_: bool, as_json: bool) -> None:
    """Score files through the quality cascade (0-100 and 1-5 stars).

    \b
    alice assess PATH...                 score any files; never changes them
    alice assess --project P --apply     re-score P's organized files, update the
                                         catalog and sidecars, re-file by stars

    \b
    Stages run cheapest first; each runs only if the one before scored at
    least its gate (quality.gates). `technical` is local and free and needs no
    catalog. Paid stages (vision[:anthropic|openai][@model], aesthetic[:fal])
    need the catalog: their answers are cached by content (never paid for
    twice) and charged to the project's budget; a refused or failing stage ends
    the cascade and the file keeps the stars of the stages before it. A
    person's rating (`alice rate`) always decides the folder.

    \b
    With --json: one object per file, one per line:
      {"path", "content_id", "score", "stars", "stages": {name: {...measures}},
       "cost_usd", "error"}  (+ "status", "from", "computed_stars", "user_stars" with --apply)
    """
    from alice.daemon.catalog.errors import CatalogError
    from alice.daemon.quality.assess import AssessError, Target, run_cascade

    if apply_ and (paths or not project):
        fail("--apply re-assesses a project's organized files: give --project P and no PATHS", EXIT_CONFIG)
    if not apply_ and not paths:
        fail("give the files to assess (or --project P --apply)", EXIT_CONFIG)
    cfg = ctx.config()
    qcfg = _quality(ctx, stages_text)
    app = ctx.app()
    providers = _providers_for(ctx, app, qcfg)
    try:
        catalog = app.catalog if (providers is not None or apply_) else None
    except CatalogError as exc:
        fail(f"catalog unavailable: {exc}", EXIT_CATALOG)
    failed = 0
    try:
        if apply_:
            from alice.daemon.quality.reassess import reassess_project

            assert catalog is not None and project is not None     # --apply opened it, and needs --project
            reports: Any = reassess_project(cfg, catalog, qcfg, providers, project)
        else:
            def one(path: Path) -> dict[str, Any]:
                try:
                    return run_cascade(Target(path, project=project, fallback_project=cfg.default_project),
                                       qcfg, providers, catalog)
                except AssessError as exc:
                    return {"path": str(path), "content_id": None, "score": None, "stars": None, "stages": {},
                            "cost_usd": "0", "error": str(exc)}

            reports = (one(path) for path in assessable(paths))
        for report in reports:
            failed += _failed(report)
            emit(report) if as_json else _print(report)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: every file re-filed so far is consistent; run again to finish.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        app.close()
    sys.exit(EXIT_PARTIAL if failed else EXIT_OK)


@click.command()
@click.argument("asset")
@click.argument("stars", type=click.IntRange(0, 5))
@json_option
@pass_ctx
def rate(ctx: CliContext, asset: str, stars: int, as_json: bool) -> None:
    """Give ASSET your own star rating (1-5; 0 clears it). It wins over the computed one.

    ASSET is a content id (b3:...), an asset id, or the path of a filed file.
    When the layout sorts by {stars}, the file moves to its new star folder
    (crash-safely). Re-assessing never overwrites your rating.
    """
    from alice.daemon.catalog import curation, store
    from alice.daemon.ingest.relocate import RelocateError, relocate
    from alice.pipeline.quality.cascade import effective_stars

    cfg = ctx.config()
    catalog = ctx.catalog()
    try:
        asset_id = resolve_asset(catalog, asset)
        value = stars or None
        try:
            moved = relocate(cfg, catalog, asset_id, lambda s: curation.set_user_stars(s, asset_id, value),
                             "rated", {"stars": value})
        except RelocateError as exc:
            fail(str(exc), EXIT_PARTIAL)
        with catalog.session() as s:
            row = store.asset_by_id(s, asset_id)
    finally:
        catalog.close()
    assert row is not None
    out = {"asset_id": asset_id, "content_id": row.content_id, "stars": effective_stars(row.stars, row.user_stars),
           "user_stars": row.user_stars, "computed_stars": row.stars,
           "path": moved.new_path or moved.old_path, "moved": moved.moved}
    if as_json:
        emit(out)
    else:
        where = f"moved to {out['path']}" if moved.moved else (out["path"] or "not filed")
        click.echo(f"{row.content_id}: {out['stars'] or 'unrated'} star(s) ({where})")
