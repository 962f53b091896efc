"""`alice lineage ASSET`: what an asset was made from, and what was made from it.

Asks the running daemon (assets.lineage) and, when none runs, reads the catalog
itself (lineage only reads).
"""
from __future__ import annotations

import sys
from typing import Any

import click

from alice.daemon.cli.context import EXIT_CONFIG, EXIT_OK, CliContext, emit, fail, json_option, pass_ctx


def _lineage(ctx: CliContext, asset: str, depth: int) -> dict[str, Any]:
    from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient

    ref: int | str = int(asset) if asset.isdigit() else asset
    try:
        with RpcClient(ctx.config().socket) as client:
            return client.call("assets.lineage", {"asset": ref, "depth": depth})
    except RpcCallError as exc:
        fail(exc.message, EXIT_CONFIG)
    except DaemonNotRunning:
        pass
    from alice.daemon.catalog import curation
    from alice.daemon.catalog import lineage as lineage_mod

    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            try:
                return lineage_mod.tree(s, curation.resolve_asset(s, ref), depth)
            except (curation.NotFound, lineage_mod.LineageError) as exc:
                fail(str(exc), EXIT_CONFIG)
    finally:
        catalog.close()
    raise AssertionError("unreachable")


def _line(node: dict[str, Any]) -> str:
    seed = f"  seed {node['seed']}" if node.get("seed") is not None else ""
    prompt = (node.get("prompt") or "").replace("\n", " ")
    prompt = f"  {prompt[:60]}{'…' if len(prompt) > 60 else ''}" if prompt else ""
    return f"#{node['id']} {node.get('tool') or '-'} {node['project']}{seed}{prompt}"


def _print(nodes: list[dict[str, Any]], key: str, indent: int, arrow: str) -> None:
    for node in nodes:
        again = "  (shown above)" if node.get("seen") else ""
        click.echo(f"{'  ' * indent}{arrow} {node['kind'].replace('_', ' ')}: {_line(node)}{again}")
        _print(node.get(key) or [], key, indent + 1, arrow)


@click.command()
@click.argument("asset")
@click.option("--depth", type=click.IntRange(1, 20), default=20, show_default=True,
              help="How many generations to walk up and down.")
@json_option
@pass_ctx
def lineage(ctx: CliContext, asset: str, depth: int, as_json: bool) -> None:
    """Show what ASSET was made from (up) and what was made from it (down).

    \b
    ASSET is an asset id or a content id (b3:...). Edges: recreated_from and
    varied_from (`alice recreate --provider`, `alice vary`), reference (a
    request's input files), graph_input (a graph's or img2img's input image).
    With --json: {"asset", "parents": [{..., "kind", "parents": [...]}],
                  "children": [{..., "kind", "children": [...]}], "truncated"}.
    """
    tree = _lineage(ctx, asset, depth)
    if as_json:
        emit(tree)
        sys.exit(EXIT_OK)
    if tree["parents"]:
        click.echo("made from:")
        _print(tree["parents"], "parents", 1, "^")
    click.secho(_line(tree["asset"]), bold=True)
    click.echo(f"  {tree['asset'].get('path') or '(no file present)'}")
    if tree["children"]:
        click.echo("made from it:")
        _print(tree["children"], "children", 1, "v")
    if not tree["parents"] and not tree["children"]:
        click.echo("  no known parents or children")
    if tree.get("truncated"):
        click.echo("(more: the tree was cut at 500 assets)")
    sys.exit(EXIT_OK)
