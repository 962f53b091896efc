"""`alice inspect`: which AI tool made a file, and with what settings. Needs no catalog, so it
imports none: start-up is most of the time on a small folder."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from alice.daemon.cli.context import EXIT_OK, EXIT_PARTIAL, emit, json_option


@click.command()
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
