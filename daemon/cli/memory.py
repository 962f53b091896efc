"""`alice project note/context`, `alice board ...` and `alice models`: what outlives a chat, on the command line.

These read and write the catalog directly (no daemon needed), through the
same catalog modules the socket methods use (daemon/catalog/notes.py,
boards.py, models_seen.py), so the command line and an assistant see one memory.
Importing this module adds the commands to the `alice` group (main.py imports it last).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from alice.daemon.cli.main import EXIT_CONFIG, CliContext, emit, fail, json_option, main, pass_ctx


@contextmanager
def _session(ctx: CliContext) -> Iterator[Session]:
    """A catalog session; catalog errors about names (not found, bad input) exit 2 with their message."""
    from alice.daemon.catalog import curation

    catalog = ctx.catalog()
    try:
        with catalog.session() as s:
            yield s
    except (curation.NotFound, curation.CurationError) as exc:
        fail(str(exc), EXIT_CONFIG)
    finally:
        catalog.close()


def _run(ctx: CliContext, work: Callable[[Session], Any]) -> Any:
    with _session(ctx) as s:
        return work(s)


# -- project note / context ----------------------------------------------------------------
@main.group()
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
    from alice.daemon.catalog import notes, store

    given = [(k, v) for k, v in (("brief", brief), ("style", style), ("decision", decision)) if v is not None]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --brief, --style, --decision")
    kind, text = given[0]

    def write(s: Session) -> dict[str, Any]:
        out = notes.add_note(s, name, kind, text, author)
        store.append_event(s, "project_noted", None, None,
                           {"project": out["project"], "kind": kind, "note_id": out["id"], "author": author})
        return out

    out = _run(ctx, write)
    emit(out) if as_json else click.echo(f"{out['project']}: {kind} noted ({out['at'][:10]})")


@project.command("context")
@click.argument("name")
@json_option
@pass_ctx
def project_context(ctx: CliContext, name: str, as_json: bool) -> None:
    """Project NAME's brief, style notes, decisions (newest first) and counts."""
    from alice.daemon.catalog import notes

    out = _run(ctx, lambda s: notes.context(s, int(name) if name.isdigit() else name))
    emit(out) if as_json else click.echo(notes.context_text(out))
