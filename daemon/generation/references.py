"""Reference files for a generation request: a path, or the content id of a filed asset.

A request records its references as content ids, so `alice recreate` can find
them again after the files were organized (moved) or copied elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alice.daemon import errors
from alice.daemon.catalog import store
from alice.daemon.catalog.asset_ref import is_content_id
from alice.daemon.catalog.engine import Catalog
from alice.pipeline.identity import UnreadableMedia, identify
from alice.pipeline.sniff import HEAD_SIZE, sniff


class ReferenceError(errors.InvalidRequest):
    """A reference cannot be used: not found, not a file, or not readable media."""


@dataclass(frozen=True)
class Reference:
    content_id: str
    path: Path
    format: str
    media: str                 # image | video | audio | other


def resolve(ref: str | Path, catalog: Catalog | None) -> Reference:
    """The file behind `ref`: a path to read, or a content id whose filed copy the catalog knows."""
    text = str(ref)
    if is_content_id(text):
        return _from_catalog(text, catalog)
    return from_path(Path(text).expanduser())     # a reference file is never named by an asset id


def from_path(path: Path) -> Reference:
    if not path.is_file():
        raise ReferenceError(f"reference {path} is not a file (give a file path or a content id like b3:...)")
    try:
        if path.stat().st_size == 0:
            raise ReferenceError(f"reference {path} is empty (0 bytes)")
        with open(path, "rb") as fh:
            fmt, media = sniff(fh.read(HEAD_SIZE))
        content_id = identify(path, fmt, media).content_id
    except UnreadableMedia as exc:
        raise ReferenceError(f"reference {path} cannot be read as media: {exc}") from None
    except OSError as exc:
        raise ReferenceError(f"reference {path} cannot be read: {exc.strerror or exc}") from None
    return Reference(content_id, path.absolute(), fmt, media)


def _from_catalog(content_id: str, catalog: Catalog | None) -> Reference:
    if catalog is None:
        raise ReferenceError(f"reference {content_id} is a content id, which needs the catalog to find its file")
    with catalog.session() as s:
        asset = store.asset_by_content_id(s, content_id)
        filed = store.filed_copy(s, asset.id) if asset else None
    if asset is None:
        raise ReferenceError(f"reference {content_id}: no asset with this content id in the catalog")
    if filed is None or not Path(filed.path).is_file():
        raise ReferenceError(f"reference {content_id}: the catalog knows no present copy of this asset; "
                             "give the file's path instead")
    return Reference(content_id, Path(filed.path), asset.format, asset.media)
