"""`alice tag`, `untag`, `similar`, `move` and `rebuild`: curating assets from the command line.

Tags, a person's stars and project moves are written to the catalog and to the
sidecars beside the filed files (daemon/ingest/curate.py, relocate.py), which
is what lets `alice rebuild` bring them back into an empty catalog.
"""
from __future__ import annotations

import sys
from typing import Any

import click

from alice.daemon.cli.context import (
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PARTIAL,
    emit,
    fail,
    json_option,
    pass_ctx,
    resolve_asset,
)

ASSET_HELP = "ASSET is a content id (b3:...), an asset id (`alice search` shows both) or the path of a filed file."


def tag_command(ctx: Any, asset: str, tags: tuple[str, ...], as_json: bool, remove: bool) -> None:
    from alice.daemon.catalog.curation import CurationError
    from alice.daemon.ingest import curate

    catalog = ctx.catalog()
    try:
        asset_id = resolve_asset(catalog, asset)
        try:
            asset_id, after = (curate.untag if remove else curate.tag)(catalog, asset_id, list(tags))
        except CurationError as exc:
            fail(str(exc), EXIT_CONFIG)
    finally:
        catalog.close()
    if as_json:
        emit({"asset_id": asset_id, "tags": after})
    else:
        click.echo(f"#{asset_id}: {', '.join(after) if after else '(no tags)'}")


@click.command(epilog=ASSET_HELP)
@click.argument("asset")
@click.argument("tags", nargs=-1, required=True)
@json_option
@pass_ctx
def tag(ctx: Any, asset: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Add TAGS to ASSET (lower-cased; tags it has are kept).

    \b
    Examples:
      alice tag b3:4f2a... final client-x
      alice tag ~/AI-Organized/2025-03-14/cyberpunk/comfyui/fox.png keeper
      alice search --tag final            find them again

    \b
    The tags go into the catalog and into the sidecar beside each filed
    copy, so `alice rebuild` keeps them. With --json: {"asset_id", "tags"}.
    """
    tag_command(ctx, asset, tags, as_json, remove=False)

@click.command(epilog=ASSET_HELP)
@click.argument("asset")
@click.argument("tags", nargs=-1, required=True)
@json_option
@pass_ctx
def untag(ctx: Any, asset: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Remove TAGS from ASSET (tags it does not have are ignored).

    \b
    Example:
      alice untag 42 draft
    The sidecars follow. With --json: {"asset_id", "tags"} (the tags left).
    """
    tag_command(ctx, asset, tags, as_json, remove=True)

@click.command(epilog=ASSET_HELP)
@click.argument("asset")
@click.option("--max-distance", type=click.IntRange(0, 32), default=6, show_default=True,
              help="Differing bits of 64: 0-4 near-identical, 5-10 variants.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@json_option
@pass_ctx
def similar(ctx: Any, asset: str, max_distance: int, limit: int, as_json: bool) -> None:
    """Near-duplicates and variants of ASSET, nearest first (by perceptual hash).

    \b
    Examples:
      alice similar 42                   upscales, crops, re-encodes of #42
      alice similar b3:4f2a... --max-distance 10 --json
    With --json: one line per asset (as `alice search --json`, plus
    "distance"), then {"summary": {"asset_id", "phash", "shown"}}.
    """
    from alice.daemon.api.methods import Hooks, RpcContext, _similar
    from alice.daemon.api.paths import PathGuard

    cfg = ctx.config()
    catalog = ctx.catalog()
    try:
        asset_id = resolve_asset(catalog, asset)
        rpc = RpcContext(cfg=cfg, catalog=catalog, hooks=Hooks(), guard=PathGuard(cfg.roots()))
        found = _similar(rpc, asset_id, max_distance, limit)
    finally:
        catalog.close()
    if as_json:
        for item in found["items"]:
            emit(item)
        emit({"summary": {"asset_id": asset_id, "phash": found.get("phash"), "shown": len(found["items"])}})
    elif found.get("note"):
        click.echo(f"#{asset_id}: {found['note']}")
    else:
        for item in found["items"]:
            click.echo(f"d={item['distance']:<3} #{item['id']:<8} {item['project']:16} "
                       f"{item.get('path') or '(no file present)'}")
        click.echo(f"{len(found['items'])} within distance {max_distance} of #{asset_id}.")
    sys.exit(EXIT_OK)

@click.command(epilog=ASSET_HELP)
@click.argument("asset")
@click.argument("project")
@json_option
@pass_ctx
def move(ctx: Any, asset: str, project: str, as_json: bool) -> None:
    """Put ASSET in PROJECT (created if new); its file and sidecar move to that project's folder.

    \b
    Example:
      alice move 42 client-x
    The move is crash-safe: a verified copy first, then the sidecar, then
    the catalog, then the old file goes. With --json:
      {"asset_id", "project", "relocation": {"old_path", "new_path", "moved"}}
    """
    from alice.daemon.catalog import curation
    from alice.daemon.ingest.relocate import RelocateError, relocate

    cfg = ctx.config()
    try:
        name = curation.check_project_name(project)
    except curation.CurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    catalog = ctx.catalog()
    try:
        asset_id = resolve_asset(catalog, asset)
        try:
            moved = relocate(cfg, catalog, asset_id, lambda s: curation.set_project(s, asset_id, name),
                             "moved", {"project": name})
        except RelocateError as exc:
            fail(str(exc), EXIT_PARTIAL)
    finally:
        catalog.close()
    if as_json:
        emit({"asset_id": asset_id, "project": name, "relocation": moved.to_json()})
    else:
        where = f"moved to {moved.new_path}" if moved.moved else (moved.old_path or "no file on disk")
        click.echo(f"#{asset_id} is in project {name} ({where})")

@click.command()
@json_option
@pass_ctx
def rebuild(ctx: Any, as_json: bool) -> None:
    """Fill the catalog from the organized tree's sidecars (after losing the database, or on a new one).

    \b
    Every <file>.yaml beside a filed file is read back: the asset, where
    the file is, its project, tags and your own stars. Running it on a
    catalog that knows the files already changes nothing. The quarantine
    is not read. Point database.url at an empty database (or remove the
    embedded one in data_dir) first to start from scratch.
    With --json: one object per file
      {"path", "status": recorded|skipped, "content_id", "project", "tags",
       "user_stars", "reason"}
    """
    from collections import Counter

    from alice.daemon.ingest.rebuild import rebuild as run_rebuild

    cfg = ctx.config()
    catalog = ctx.catalog()
    counts: Counter[str] = Counter()
    try:
        for item in run_rebuild(catalog, cfg.organized):
            counts[item.status] += 1
            if as_json:
                emit(item.to_json())
            elif item.status == "skipped":
                click.echo(f"skipped: {item.path}: {item.reason}", err=True)
    finally:
        catalog.close()
    if not as_json:
        click.echo(f"{counts['recorded']} file(s) recorded from their sidecars, {counts['skipped']} skipped.")
    sys.exit(EXIT_PARTIAL if counts["skipped"] else EXIT_OK)
