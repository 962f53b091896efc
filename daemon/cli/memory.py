"""`alice project note/context`, `alice board ...` and `alice models`: what outlives a chat, on the command line.

These read and write the catalog directly (no daemon needed), through the
same catalog modules the socket methods use (daemon/catalog/notes.py,
boards.py, models_seen.py), so the command line and an assistant see one memory.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from alice.daemon.cli.context import EXIT_CONFIG, CliContext, emit, fail, json_option, pass_ctx


@contextmanager
def _session(ctx: CliContext) -> Iterator[Session]:
    """A catalog session; what the request got wrong (not found, bad input, a name taken) exits
    with its message and the exit code the error tree gives it."""
    from alice.daemon import errors

    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            yield s
    except (errors.NotFound, errors.InvalidRequest, errors.Conflict) as exc:
        fail(exc.describe(), errors.exit_code(exc))
    finally:
        catalog.close()


def _run(ctx: CliContext, work: Callable[[Session], Any]) -> Any:
    with _session(ctx) as s:
        return work(s)


# -- project note / context ----------------------------------------------------------------
@click.group()
def project() -> None:
    """A project's memory: its brief, style notes and dated decisions.

    \b
      alice project note cyberpunk --brief "Album cover series for the Neon EP"
      alice project note cyberpunk --style "warm palette, film grain"
      alice project note cyberpunk --decision "reject anything with text in it"
      alice project context cyberpunk
    Assistants read the same through projects.context (MCP: projects_context,
    or the resource alice://projects/<name>/context) and write with projects.note.
    """


@project.command("note")
@click.argument("name")
@click.option("--brief", "brief", help="What the project is (replaces the current brief; earlier ones are kept).")
@click.option("--style", "style", help="A style note.")
@click.option("--decision", "decision", help="A decision, dated today.")
@click.option("--by", "author", type=click.Choice(["user", "assistant"]), default="user", show_default=True)
@json_option
@pass_ctx
def project_note(ctx: CliContext, name: str, brief: str | None, style: str | None, decision: str | None,
                 author: str, as_json: bool) -> None:
    """Add a brief, style note or decision to project NAME (created if new). One of the three per call."""
    from alice.daemon.catalog import notes

    given = [(k, v) for k, v in (("brief", brief), ("style", style), ("decision", decision)) if v is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --brief, --style, --decision")
    kind, text = given[0]

    out = _run(ctx, lambda s: notes.add_note(s, name, kind, text, author))
    emit(out) if as_json else click.echo(f"{out['project']}: {kind} noted ({out['at'][:10]})")


@project.command("context")
@click.argument("name")
@json_option
@pass_ctx
def project_context(ctx: CliContext, name: str, as_json: bool) -> None:
    """Project NAME's brief, style notes, decisions (newest first) and counts."""
    from alice.daemon.catalog import notes

    out = _run(ctx, lambda s: notes.context(s, name))      # by name: a project may well be called "2025"
    emit(out) if as_json else click.echo(notes.context_text(out))


# -- board ---------------------------------------------------------------------------------
def _asset_ref(s: Session, ref: str) -> int:
    """An asset id from an id, asset:<id>, a content id or the path of a file (daemon/catalog/asset_ref.py)."""
    from alice.daemon.catalog.asset_ref import find_asset

    return find_asset(s, ref)


@click.group()
def board() -> None:
    """Boards: named, ordered sets of assets with a note per item.

    \b
      alice board add picks 12 15 b3:4f2a... --note "warm light, keep"
      alice board show picks
      alice board export picks ~/Desktop/picks --copy
    Assistants use the same boards through boards.* (MCP: boards_add, ...).
    """


@board.command("add")
@click.argument("name")
@click.argument("assets", nargs=-1, required=True)
@click.option("--note", help="A note for these items (why they were picked).")
@json_option
@pass_ctx
def board_add(ctx: CliContext, name: str, assets: tuple[str, ...], note: str | None, as_json: bool) -> None:
    """Add ASSETS (ids, content ids or filed paths) to the end of board NAME (created if new)."""
    from alice.daemon.catalog import boards

    out = _run(ctx, lambda s: boards.add(s, name, [_asset_ref(s, a) for a in assets], note))
    if as_json:
        emit(out)
    else:
        kept = f", {len(out['already_there'])} already there" if out["already_there"] else ""
        click.echo(f"{out['board']}: added {len(out['added'])}{kept}; {out['items']} item(s)")


@board.command("remove")
@click.argument("name")
@click.argument("assets", nargs=-1, required=True)
@json_option
@pass_ctx
def board_remove(ctx: CliContext, name: str, assets: tuple[str, ...], as_json: bool) -> None:
    """Take ASSETS off board NAME (the assets stay in the catalog)."""
    from alice.daemon.catalog import boards

    out = _run(ctx, lambda s: boards.remove(s, name, [_asset_ref(s, a) for a in assets]))
    emit(out) if as_json else click.echo(f"{out['board']}: removed {len(out['removed'])}; {out['items']} item(s)")


@board.command("delete")
@click.argument("name")
@json_option
@pass_ctx
def board_delete(ctx: CliContext, name: str, as_json: bool) -> None:
    """Delete board NAME (its assets stay in the catalog)."""
    from alice.daemon.catalog import boards

    out = _run(ctx, lambda s: boards.delete_board(s, name))
    emit(out) if as_json else click.echo(f"{out['board']}: deleted ({out['items']} item(s) were on it)")


@board.command("list")
@json_option
@pass_ctx
def board_list(ctx: CliContext, as_json: bool) -> None:
    """Every board with its item count, most recently changed first."""
    from alice.daemon.catalog import boards

    rows = _run(ctx, boards.list_boards)
    if as_json:
        emit({"boards": rows})
        return
    if not rows:
        click.echo("No boards yet: alice board add NAME ASSET...")
    for b in rows:
        click.echo(f"{b['name']:<30} {b['items']:>5} item(s)  changed {b['updated_at'][:16]}")


@board.command("show")
@click.argument("name")
@json_option
@pass_ctx
def board_show(ctx: CliContext, name: str, as_json: bool) -> None:
    """Board NAME's items in order, with their notes."""
    from alice.daemon.catalog import boards

    out = _run(ctx, lambda s: boards.get(s, name))
    if as_json:
        emit(out)
        return
    click.secho(f"{out['name']}: {len(out['items'])} item(s)", bold=True)
    for item in out["items"]:
        click.echo(f"{item['position']:>4}. #{item['id']:<8} {item.get('tool') or '-':12} "
                   f"{item.get('path') or '(no file present)'}")
        if item["note"]:
            click.echo(f"        note: {item['note']}")


@board.command("export")
@click.argument("name")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--copy", "mode", flag_value="copy", help="Copy the files (verified against the catalog's hashes).")
@click.option("--link", "mode", flag_value="link", default=True, help="Symbolic links to the filed files (default).")
@json_option
@pass_ctx
def board_export(ctx: CliContext, name: str, dest: str, mode: str, as_json: bool) -> None:
    """Write board NAME into folder DEST (new or empty): its files in board order, their sidecars, board.yaml.

    Nothing is ever overwritten. Items whose file is not present are listed
    in board.yaml as missing. Exit code 1 if some file could not be exported.
    """
    from pathlib import Path

    from alice.daemon import errors
    from alice.daemon.board_export import BoardExportError, export_board
    from alice.daemon.cli.context import EXIT_PARTIAL

    catalog = ctx.catalog()
    try:
        out = export_board(catalog, name, Path(dest).expanduser(), mode).to_json()
    except BoardExportError as exc:
        fail(str(exc), EXIT_CONFIG)          # nothing was written: ask again with another folder
    except (errors.NotFound, errors.InvalidRequest) as exc:
        fail(exc.describe(), errors.exit_code(exc))
    finally:
        catalog.close()
    if as_json:
        emit(out)
    else:
        click.echo(f"{out['board']}: {out['exported']} file(s) {'copied' if mode == 'copy' else 'linked'} "
                   f"into {out['dest']}" + (f"; {len(out['missing'])} not present" if out["missing"] else ""))
        for f in out["failed"]:
            click.echo(f"  failed: {f['source']}: {f['error']}", err=True)
    if out["failed"]:
        raise SystemExit(EXIT_PARTIAL)


# -- models --------------------------------------------------------------------------------
@click.command("models")
@click.option("--kind", type=click.Choice(["checkpoint", "lora"]), help="Only checkpoints or only LoRAs.")
@click.option("--project", help="Only uses in this project.")
@click.option("--sort", type=click.Choice(["files", "last_used", "stars", "name"]), default="files",
              show_default=True)
@click.option("--limit", type=click.IntRange(1, 1000), default=200, show_default=True)
@json_option
@pass_ctx
def models(ctx: CliContext, kind: str | None, project: str | None, sort: str, limit: int, as_json: bool) -> None:
    """Every checkpoint and LoRA your files were made with: files, projects, average stars, first and last use.

    \b
    Then: alice search --model NAME   or   alice search --lora NAME
    """
    from alice.daemon.catalog.models_seen import models_seen

    rows = _run(ctx, lambda s: models_seen(s, kind, project, sort, limit))
    if as_json:
        emit({"models": rows})
        return
    if not rows:
        click.echo("No models seen yet (files without a generation record name none).")
    for r in rows:
        stars = f"{r['avg_stars']:.1f}*" if r["avg_stars"] is not None else "  -  "
        hash_ = f" [{r['hash']}]" if r["hash"] else ""
        projects = ", ".join(r["projects"][:3]) + (" ..." if len(r["projects"]) > 3 else "")
        click.echo(f"{r['kind']:<10} {r['name']}{hash_}")
        click.echo(f"           {r['files']:>5} file(s)  {stars}  {r['first_used'][:10]} .. {r['last_used'][:10]}"
                   f"  {projects}")
