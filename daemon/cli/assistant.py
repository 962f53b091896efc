"""`alice search` and `alice mcp`: the assistant interface on the command line.

`alice search` asks the running daemon over its socket; when no daemon runs it
reads the catalog itself (search only reads). `alice mcp` is the MCP server an
assistant (Claude Desktop, Claude Code) starts; it needs the daemon running.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from alice.daemon.catalog.page import MAX_LIMIT
from alice.daemon.cli.context import EXIT_CONFIG, EXIT_OK, CliContext, emit, fail, pass_ctx


def parse_range(text: str, kind: type = int) -> tuple[Any, Any]:
    """'4..' -> (4, None), '..2' -> (None, 2), '3' -> (3, 3), '2..4' -> (2, 4)."""
    lo, sep, hi = text.partition("..")
    try:
        if not sep:
            value = kind(text)
            return value, value
        return (kind(lo) if lo.strip() else None), (kind(hi) if hi.strip() else None)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a range; write 4.. (at least), ..2 (at most), 3 (exactly) "
                                 "or 2..4") from None


def search_params(text: tuple[str, ...], **o: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if text:
        params["text"] = " ".join(text)
    for key in ("tool", "project"):
        if o[key]:
            params[key] = list(o[key])
    for key, name in (("tag", "tags_all"), ("any_tag", "tags_any"), ("not_tag", "tags_none")):
        if o[key]:
            params[name] = list(o[key])
    for key in ("ai", "media", "model", "lora", "seed", "since", "until", "content_id", "child_of", "parent_of", "sort",
                "cursor"):
        if o.get(key) is not None:
            params[key] = o[key]
    for key, kind in (("stars", int), ("width", int), ("height", int), ("aspect", float)):
        if o[key]:
            lo, hi = parse_range(o[key], kind)
            if lo is not None:
                params[f"{key}_min"] = lo
            if hi is not None:
                params[f"{key}_max"] = hi
    if o["asc"]:
        params["order"] = "asc"
    params["limit"] = o["limit"]
    return params


def run_search(ctx: Any, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The page of results, and where it came from ("daemon" or "catalog")."""
    from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient, UnsafeSocket, daemon_socket
    from alice.daemon.cli.wording import search_message

    cfg = ctx.config()
    try:
        with RpcClient(daemon_socket(cfg)) as client:
            return client.call("assets.search", params), "daemon"
    except RpcCallError as exc:
        fail(search_message(exc.message), EXIT_CONFIG)
    except UnsafeSocket as exc:
        fail(f"refusing the socket: {exc}", EXIT_CONFIG)
    except DaemonNotRunning:
        pass
    from alice.daemon.catalog.search import SearchError, SearchQuery, search

    try:
        query = SearchQuery.from_params(params)
    except (SearchError, TypeError) as exc:
        fail(search_message(str(exc)), EXIT_CONFIG)
    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            return search(s, query).to_json(), "catalog"
    except SearchError as exc:          # a cursor from another search
        fail(search_message(str(exc)), EXIT_CONFIG)
    finally:
        catalog.close()
    raise AssertionError("unreachable")


def print_page(page: dict[str, Any]) -> None:
    for item in page["items"]:
        stars = "*" * (item.get("stars") or 0)
        click.secho(f"#{item['id']:<8} {item['created_at'][:10]}  {stars:5}  {item.get('tool') or '-':12} "
                    f"{item['project']}", bold=True)
        click.echo(f"  {item.get('path') or '(no file present)'}")
        if item.get("prompt"):
            prompt = item["prompt"].replace("\n", " ")
            click.echo(f"  {prompt[:150]}{'…' if len(prompt) > 150 else ''}")
    total = page.get("total")
    about = "" if page.get("total_exact") else "about "
    shown = len(page["items"])
    click.echo(f"\n{shown} shown of {about}{total:,} match(es)." if total is not None else f"\n{shown} shown.")
    if page.get("next_cursor"):
        click.echo(f"More: add --cursor {page['next_cursor']}")


@click.command()
@click.argument("text", nargs=-1)
@click.option("--tool", multiple=True, help="Tool slug (midjourney, comfyui, a1111, ...); repeat for any of several. "
              "Matches an asset if any of its files carries that tool's record.")
@click.option("--project", multiple=True, help="Project name; repeat for any of several.")
@click.option("--ai/--no-ai", default=None, help="Only AI-made (or only not AI-made) files.")
@click.option("--media", type=click.Choice(["image", "video", "audio", "other"]))
@click.option("--model", help="Exact model (checkpoint) name, as `alice models` lists it.")
@click.option("--lora", help="Uses this LoRA (exact name, as `alice models` lists it).")
@click.option("--seed", type=int)
@click.option("--stars", help="Stars: 4.. (at least 4), ..2, 3, 2..4; 0 means unrated.")
@click.option("--since", help="Created on or after this date (2025-01-01) or date-time.")
@click.option("--until", help="Created up to and including this date, or before this date-time.")
@click.option("--width", help="Width range in pixels, e.g. 1024.. .")
@click.option("--height", help="Height range in pixels.")
@click.option("--aspect", help="Width/height range, e.g. 1.3..1.8 for landscape.")
@click.option("--tag", multiple=True, help="Has this tag (repeat: has all of them).")
@click.option("--any-tag", multiple=True, help="Has at least one of these tags.")
@click.option("--not-tag", multiple=True, help="Does not have this tag.")
@click.option("--content-id", help="Exactly this content (b3:...).")
@click.option("--child-of", type=click.IntRange(1), help="Assets made from this asset id (recreated, varied, "
                                                         "or using it as an input).")
@click.option("--parent-of", type=click.IntRange(1), help="Assets this asset id was made from.")
@click.option("--sort", type=click.Choice(["date", "stars", "relevance"]), default=None,
              help="Default: date (newest first).")
@click.option("--asc", is_flag=True, help="Oldest / lowest first.")
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True)
@click.option("--cursor", help="Continue where a previous page ended (its next_cursor).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per result, then a summary line.")
@pass_ctx
def search(ctx: CliContext, text: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Find assets by prompt text and filters.

    \b
    Examples:
      alice search "cyberpunk portrait" --tool midjourney --stars 4.. --since 2025-01-01
      alice search --project client-x --tag final --json
      alice search '"neon lights" -rain' --sort relevance

    \b
    Text matches prompts, negative prompts, tags and file names ("quoted
    phrase", -exclude and 'or' work as in web search).
    With --json: one line per asset
      {"id", "content_id", "path", "tool", "ai", "media", "format", "project",
       "width", "height", "created_at", "stars", "user_stars", "prompt",
       "model", "seed", "tags"}
    then one summary line {"summary": {"shown", "total", "total_exact", "next_cursor"}}.
    A total above 5,000 (or slow to count) is an estimate: total_exact is false.
    """
    params = search_params(text, **options)
    page, source = run_search(ctx, params)
    if as_json:
        for item in page["items"]:
            emit(item)
        emit({"summary": {"shown": len(page["items"]), "total": page.get("total"),
                          "total_exact": page.get("total_exact"), "next_cursor": page.get("next_cursor"),
                          "source": source}})
    else:
        print_page(page)
    sys.exit(EXIT_OK)

@click.command()
@click.option("--socket", "socket_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The daemon's socket. Default: 'socket' from the configuration.")
@pass_ctx
def mcp(ctx: CliContext, socket_path: Path | None) -> None:
    """Serve alice's tools to an AI assistant over MCP (stdio).

    \b
    Claude Code:     claude mcp add alice -- alice mcp
    Claude Desktop:  add to claude_desktop_config.json
                     {"mcpServers": {"alice": {"command": "alice", "args": ["mcp"]}}}
    The tools call the running daemon (`alice run`); the README has details.
    """
    from alice.daemon.api.mcp import serve_stdio

    if socket_path is None:
        from alice.daemon.api.client import daemon_socket
        from alice.daemon.config import ConfigError, default_socket_path, load

        try:
            cfg = load(ctx.config_path)
            where: Any = lambda: daemon_socket(cfg)      # noqa: E731  (looked up on each call)
        except ConfigError as exc:
            click.echo(f"alice mcp: {exc}; using the default socket", err=True)
            where = default_socket_path()
    else:
        where = socket_path
    from alice.daemon.api.socket_folder import UnsafeSocket, check_folder

    try:
        check_folder((where() if callable(where) else where).parent)
    except UnsafeSocket as exc:
        click.echo(f"alice mcp: refusing the socket: {exc}", err=True)
        raise SystemExit(2) from None
    try:
        serve_stdio(where)
    except KeyboardInterrupt:
        pass

