"""Exporting a board: a folder of links to (or copies of) its files, with their sidecars and a board.yaml.

Files are named `<position>-<file name>` so the folder sorts in board order.
Nothing is overwritten: the destination must be missing or empty, and every
file is placed with the no-replace helpers of daemon/fs. A copy is verified
against the hash the catalog recorded, so a file changed behind alice's back
is reported, not exported. Items whose file is not present are listed in
board.yaml as missing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from alice.daemon import errors
from alice.daemon.catalog import boards, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.fs.fileops import PlacementError, make_dirs, place_copy, place_symlink, place_text
from alice.pipeline.sidecar import sidecar_path

MODES = ("link", "copy")
MANIFEST = "board.yaml"


class BoardExportError(errors.Conflict):
    """The export cannot start (destination not empty, unknown mode); nothing was written."""


@dataclass
class Exported:
    board: str
    dest: Path
    mode: str
    files: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    failed: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"board": self.board, "dest": str(self.dest), "mode": self.mode, "exported": len(self.files),
                "files": self.files, "missing": self.missing, "failed": self.failed,
                "manifest": str(self.dest / MANIFEST)}


def export_board(catalog: Catalog, name: str, dest: Path, mode: str = "link") -> Exported:
    if mode not in MODES:
        raise BoardExportError(f"export mode is one of {', '.join(MODES)}, not {mode!r}")
    dest = Path(os.path.abspath(dest))
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BoardExportError(f"{dest} exists and is not an empty folder; exports never overwrite, "
                               "give a new folder")
    with catalog.session() as s:
        board = boards.get(s, name)
        hashes = {i["id"]: (store.location_of(s, i["path"]) if i["path"] else None) for i in board["items"]}
    make_dirs(dest)
    out = Exported(board["name"], dest, mode, [], [], [])
    width = max(3, len(str(len(board["items"]))))
    for item in board["items"]:
        entry = {"position": item["position"], "asset_id": item["id"], "content_id": item["content_id"],
                 "note": item["note"], "source": item["path"]}
        loc = hashes[item["id"]]
        if item["path"] is None or loc is None or not Path(item["path"]).is_file():
            out.missing.append(entry)
            continue
        source = Path(item["path"])
        target = dest / f"{item['position']:0{width}d}-{source.name}"
        try:
            if mode == "copy":
                place_copy(source, target, loc.file_hash)
            else:
                place_symlink(source, target)
            sidecar = sidecar_path(source)
            if sidecar.is_file():
                if mode == "copy":
                    place_text(sidecar_path(target), sidecar.read_text(encoding="utf-8"))
                else:
                    place_symlink(sidecar, sidecar_path(target))
        except (PlacementError, OSError) as exc:
            out.failed.append({**entry, "error": str(exc)})
            continue
        out.files.append({**entry, "file": target.name})
    manifest = {"board": board["name"], "description": board["description"],
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"), "mode": mode,
                "items": out.files, "missing": out.missing, "failed": out.failed}
    place_text(dest / MANIFEST, yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True))
    return out
