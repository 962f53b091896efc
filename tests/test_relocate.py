"""Moving a filed file for its new stars or project: the sidecar follows, and a crash never loses it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from alice.daemon.catalog import curation, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.ingest.filing import Organizer, Source
from alice.daemon.ingest.relocate import RelocateError, relocate
from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash as hash_file
from tests.rpc_env import make_config, picture, short_dir


def _filed(cfg, catalog: Catalog, seed: int) -> tuple[int, Path, str]:
    src = picture(cfg.inboxes[0] / "proj" / f"pic{seed}.png", seed, prompt=f"picture number {seed}")
    res = Organizer(cfg, catalog).organize(Source(src, cfg.inboxes[0]))
    assert res.status == "organized", res
    with catalog.session() as s:
        asset = store.asset_by_content_id(s, res.content_id)
    dest = Path(res.dest)
    return asset.id, dest, hash_file(dest)


def test_rating_without_stars_in_the_layout_only_rewrites_the_sidecar(catalog: Catalog) -> None:
    cfg = make_config(short_dir())               # default layout {date}/{project}/{tool}
    asset_id, dest, _ = _filed(cfg, catalog, 1)
    moved = relocate(cfg, catalog, asset_id, lambda s: curation.set_user_stars(s, asset_id, 2), "rated", {})
    assert not moved.moved and moved.new_path == str(dest)
    assert sidecar.load(sidecar.sidecar_path(dest).read_text()).stars == 2
    with catalog.session() as s:
        assert store.asset_by_id(s, asset_id).user_stars == 2
        assert [e.kind for e in store.events_since(s, 0)][-1] == "rated"


def test_a_missing_sidecar_is_rebuilt_from_the_catalog(catalog: Catalog) -> None:
    cfg = make_config(short_dir(), layout="{project}/{stars}")
    asset_id, dest, digest = _filed(cfg, catalog, 2)
    sidecar.sidecar_path(dest).unlink()
    moved = relocate(cfg, catalog, asset_id, lambda s: curation.set_project(s, asset_id, "other"), "moved", {})
    new = Path(moved.new_path)
    assert new.parts[-3] == "other" and hash_file(new) == digest and not dest.exists()
    rec = sidecar.load(sidecar.sidecar_path(new).read_text())
    assert rec.project == "other" and rec.file_hash == digest and rec.organized_path == str(new)


def test_a_file_changed_behind_alices_back_is_not_moved(catalog: Catalog) -> None:
    cfg = make_config(short_dir(), layout="{project}/{stars}")
    asset_id, dest, _ = _filed(cfg, catalog, 3)
    dest.write_bytes(b"edited by hand")
    with pytest.raises(RelocateError, match="alice organize"):
        relocate(cfg, catalog, asset_id, lambda s: curation.set_user_stars(s, asset_id, 5), "rated", {})
    assert dest.read_bytes() == b"edited by hand"
    with catalog.session() as s:
        assert store.asset_by_id(s, asset_id).user_stars is None      # nothing changed


RELOCATE_SCRIPT = """
import sys
from pathlib import Path
from alice.daemon import config
from alice.daemon.catalog import curation
from alice.daemon.catalog.engine import Catalog
from alice.daemon.ingest.relocate import relocate
root, url, asset_id = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
cfg = config.parse({"inboxes": [str(root / "inbox")], "organized": str(root / "organized"),
                    "data_dir": str(root / "data"), "layout": "{project}/{stars}"}, environ={})
cat = Catalog.open(url, root / "data")
relocate(cfg, cat, asset_id, lambda s: curation.set_user_stars(s, asset_id, 5), "rated", {"stars": 5})
print("done")
"""


def _state(catalog: Catalog, asset_id: int) -> tuple[list[str], int | None]:
    with catalog.session() as s:
        present = [loc.path for loc in (store.location_of(s, p) for p in store.present_paths(s))
                   if loc and loc.asset_id == asset_id and loc.role == "organized"]
        return present, store.asset_by_id(s, asset_id).user_stars


def test_a_crash_at_any_point_leaves_the_old_or_the_new_file(catalog: Catalog, db_url: str) -> None:
    root = short_dir()
    cfg = make_config(root, layout="{project}/{stars}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALICE_")}
    point, crashed_at = 0, []
    while True:
        point += 1
        asset_id, old, digest = _filed(cfg, catalog, 100 + point)
        run = subprocess.run([sys.executable, "-c", RELOCATE_SCRIPT, str(root), db_url, str(asset_id)],
                             env={**env, "ALICE_CRASH_AT": str(point)}, capture_output=True, text=True, timeout=60)
        new = cfg.organized / "proj" / "5-star" / old.name
        if run.returncode == 0:
            assert "done" in run.stdout
            break
        assert run.returncode == -9, run.stderr[-2000:]
        crashed_at.append(run.stderr.strip().splitlines()[-1])
        catalog_paths, _ = _state(catalog, asset_id)
        # Never neither: the catalog's file exists with the filed bytes, and nothing
        # under a real name is partial (temp files are swept at the daemon's start).
        assert len(catalog_paths) == 1 and hash_file(Path(catalog_paths[0])) == digest, crashed_at[-1]
        assert not new.exists() or hash_file(new) == digest
        # Running it again finishes the job.
        again = subprocess.run([sys.executable, "-c", RELOCATE_SCRIPT, str(root), db_url, str(asset_id)],
                               env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr[-2000:]
        catalog_paths, stars = _state(catalog, asset_id)
        assert catalog_paths == [str(new)] and stars == 5 and hash_file(new) == digest
        assert sidecar.load(sidecar.sidecar_path(new).read_text()).stars == 5
        assert not old.exists() and not sidecar.sidecar_path(old).exists(), crashed_at[-1]
    assert len(crashed_at) >= 5, crashed_at
