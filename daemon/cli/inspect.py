"""`alice inspect`: which AI tool made a file, and with what settings.

It needs no catalog and imports none, since start-up is most of the time on a
small folder. A folder of many files is read by one forked worker per core
(daemon/cli/forked_map.py): the workers inherit the imported detectors, so they
start in milliseconds, take the next file whenever they are free, and the
results come back in the order of the walk.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from alice.daemon.cli.context import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, emit, json_option

# Below this many files per worker, forking costs more than it saves.
FILES_PER_WORKER = 12


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--exif", "every_exif", is_flag=True,
              help="Also list every EXIF tag (camera, lens, exposure, GPS, ...), read with exifread.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=0,
              help="Worker processes for many files (default 0: one per core; 1: none).")
@json_option
def inspect(paths: tuple[Path, ...], every_exif: bool, jobs: int, as_json: bool) -> None:
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
    from alice.pipeline.inspect import iter_paths

    files = list(iter_paths(paths))
    errors = 0
    try:
        for data in _inspected(files, every_exif, jobs or os.cpu_count() or 1):
            errors += bool(data.get("error"))
            if as_json:
                emit(data)
            else:
                click.echo(_inspection_text(data))
    except KeyboardInterrupt:
        click.echo("\ninterrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(EXIT_PARTIAL if errors else EXIT_OK)


def _inspect_one(path: Path, every_exif: bool = False) -> dict[str, Any]:
    from alice.pipeline.inspect import inspect_file

    data = inspect_file(path).to_json()
    if every_exif:
        from alice.pipeline.exif_tags import every_exif_tag

        data["exif"] = every_exif_tag(path)
    return data


def _inspect_exif(path: Path) -> dict[str, Any]:
    return _inspect_one(path, every_exif=True)


def _inspected(files: list[Path], every_exif: bool, jobs: int) -> Iterator[dict[str, Any]]:
    """Each file's inspection, in order; in forked workers when there are enough files for them."""
    read = _inspect_exif if every_exif else _inspect_one
    workers = min(jobs, len(files) // FILES_PER_WORKER)
    if workers < 2:
        yield from map(read, files)
        return
    from alice.daemon.cli.forked_map import forked_map
    from alice.pipeline.inspect import preload

    # fork, not spawn: the workers inherit the imports, which are most of a cold start; so
    # everything a file may need is imported once here rather than once in each worker.
    preload(files)
    yield from forked_map(read, files, workers)


def _inspection_text(d: dict[str, Any]) -> str:
    tool = d.get("tool") or ("AI, tool unknown" if d.get("ai") else "no AI marker")
    lines = [click.style(d["path"], bold=True), f"  {d.get('format')} {d.get('media')}  ->  {tool}"]
    if d.get("error"):
        lines.append(click.style(f"  error: {d['error']}", fg="red"))
    gen = d.get("generation") or {}
    for key, value in gen.items():
        if value not in (None, [], ""):
            text = str(value)
            lines.append(f"  {key:16} {text if len(text) < 300 else text[:297] + '...'}")
    for ev in d.get("evidence") or []:
        lines.append(f"  evidence         {ev}")
    made = d.get("alice")
    if made:
        lines.append(f"  made by alice    {made['provider']} {made.get('model') or ''}  "
                     f"request {made.get('request_id')}")
        if made.get("graph"):
            kinds = sorted({str(n.get("class_type")) for n in made["graph"].values() if isinstance(n, dict)})
            lines.append(f"  graph            {len(made['graph'])} nodes: {', '.join(kinds)[:240]}")
        rerun = made.get("rerun") or {}
        if rerun:
            changed = ", ".join(f"{k}={v!r}" for k, v in (rerun.get("overrides") or {}).items()) or "nothing changed"
            lines.append(f"  {rerun.get('kind', '').replace('_', ' '):16} {rerun.get('of')} ({changed})")
        for parent in made.get("parents") or []:
            lines.append(f"  parent           {parent.get('content_id')} ({parent.get('kind')})")
    if "exif" in d:
        lines.append("  exif" + ("" if d["exif"] else "             (none)"))
        for key, value in d["exif"].items():
            lines.append(f"    {key:34} {value}")
    return "\n".join(lines)
