"""Group commit records a group of new files with one multi-row statement per table, and
the catalog it leaves is the one filing the same files one at a time leaves."""
from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, make_url, text

from alice.daemon.catalog.engine import Catalog
from alice.daemon.ingest.filing import Organizer, Placed, Source
from tests.corpus_paths import CORPUS
from tests.rpc_env import make_config

# Each with pixels of its own: two files of one content would wait on each other's content lock.
FILES = ("a1111-cropped.png", "a1111-stealth-pnginfo.png", "camera-canon-40d.jpg", "text-chunk-after-idat.png",
         "tiny-no-metadata.png", "a1111-cropped.jpg", "photo-no-manifest.jpg")


def drop(cfg: Any) -> list[Source]:
    inbox = cfg.inboxes[0]
    out = []
    for i, name in enumerate(FILES):
        folder = inbox / ("first" if i % 2 else "second")
        folder.mkdir(exist_ok=True)
        shutil.copyfile(CORPUS / name, folder / name)
        os.utime(folder / name, ns=(1_700_000_000_000_000_000 + i, 1_700_000_000_000_000_000 + i))
        out.append(Source(folder / name, inbox))
    return out


def snapshot(catalog: Catalog, root: Path) -> dict[str, list[tuple]]:
    """The catalog's content, without ids, times or the test's folder."""
    queries = {
        "assets": "SELECT a.content_id, a.file_hash, a.size, a.format, a.media, a.tool, a.ai, p.name, a.width, "
                  "a.height, a.pixels_pending, a.phash, a.phash_bands::text, a.search::text "
                  "FROM assets a JOIN projects p ON p.id = a.project_id",
        "generations": "SELECT a.content_id, g.prompt, g.seed, g.model, g.raw::text FROM generations g "
                       "JOIN assets a ON a.id = g.asset_id",
        "file_records": "SELECT a.content_id, f.file_hash, f.tool, f.ai, f.prompt, f.evidence::text "
                        "FROM file_records f JOIN assets a ON a.id = f.asset_id",
        "locations": "SELECT a.content_id, l.path, l.role, l.file_hash, l.size, l.mtime_ns, l.present "
                     "FROM locations l JOIN assets a ON a.id = l.asset_id",
        "events": "SELECT e.kind, a.content_id, e.path, e.data::text FROM events e "
                  "LEFT JOIN assets a ON a.id = e.asset_id WHERE e.kind = 'organized' ORDER BY e.id",
    }
    out = {}
    with catalog.session() as s:
        for name, sql in queries.items():
            rows = [tuple(str(v).replace(str(root), "ROOT") for v in row) for row in s.execute(text(sql))]
            out[name] = rows if name == "events" else sorted(rows)
    return out


def statements(catalog: Catalog) -> list[str]:
    seen: list[str] = []
    event.listen(catalog.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: seen.append(" ".join(sql.split())[:70]))
    return seen


@pytest.fixture
def second_catalog(pg_admin_url: str, tmp_path: Path) -> Iterator[Catalog]:
    """Another fresh catalog beside the test's own, dropped after the test."""
    name = f"alice_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Catalog.open(make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False),
                           tmp_path / "alone")
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_group_is_recorded_with_one_statement_per_table_and_as_file_by_file(
        catalog: Catalog, second_catalog: Catalog, tmp_path: Path) -> None:
    # File by file, in a catalog of its own.
    alone_root = tmp_path / "alone"
    alone_cfg = make_config(alone_root)
    alone = second_catalog
    try:
        organizer = Organizer(alone_cfg, alone, mode="copy")
        for src in drop(alone_cfg):
            assert organizer.organize(src).status == "organized"
        expected = snapshot(alone, alone_root)
    finally:
        alone.close()

    # The same files as one group.
    root = tmp_path / "group"
    cfg = make_config(root)
    organizer = Organizer(cfg, catalog, mode="copy")
    placed = [organizer.prepare(src) for src in drop(cfg)]
    assert all(isinstance(p, Placed) for p in placed)
    seen = statements(catalog)
    organizer.commit(placed)            # type: ignore[arg-type]
    results = [organizer.finish(p) for p in placed]      # type: ignore[arg-type]
    assert [r.status for r in results] == ["organized"] * len(FILES)

    got = snapshot(catalog, root)
    assert got == expected
    writes = [w for w in seen if w.split()[0].upper() in ("INSERT", "UPDATE", "WITH")]
    # assets, generations, file records, locations, phashes, search, events (+ one per new project)
    assert len(writes) <= 7 + 2, "\n".join(seen)
