"""The one reading of an asset reference, for every caller (socket, MCP, CLI, generation).

An asset is named by its id (a number, or `asset:<id>`), by its content id
(`b3:` and 64 hex digits), or by the path of a file: one the catalog has a
location for, else any file whose content the catalog knows.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from alice.daemon import errors
from alice.daemon.catalog import store
from alice.daemon.catalog.models import Asset
from alice.pipeline.identity import UnreadableMedia, identify
from alice.pipeline.sniff import HEAD_SIZE, sniff

_CONTENT_ID = re.compile(r"^b3:[0-9a-f]{64}$")
ASSET_PREFIX = "asset:"
HOW_TO_NAME = "give an asset id, asset:<id>, a content id (b3:...) or a file's path"


class AssetNotFound(errors.NotFound):
    """No asset answers to the reference; the message says which and how to name one."""


class BadAssetRef(errors.InvalidRequest):
    """The reference is not something an asset can be named by."""


@dataclass(frozen=True)
class AssetRef:
    """A parsed reference: exactly one of the three is set."""
    asset_id: int | None = None
    content_id: str | None = None
    path: Path | None = None


def is_content_id(text: str) -> bool:
    return bool(_CONTENT_ID.match(text))


def parse_ref(ref: int | str | Path) -> AssetRef:
    """What `ref` names, by its syntax alone (no I/O). A bare number is an asset id."""
    if isinstance(ref, bool) or not isinstance(ref, (int, str, Path)):
        raise BadAssetRef(f"an asset is named by its id (a number) or content_id ('b3:...'), not {ref!r}")
    if isinstance(ref, int):
        return AssetRef(asset_id=ref)
    if isinstance(ref, Path):
        return AssetRef(path=ref)
    text = ref.strip()
    if text.isdigit():
        return AssetRef(asset_id=int(text))
    if text.startswith(ASSET_PREFIX) and text[len(ASSET_PREFIX):].isdigit():
        return AssetRef(asset_id=int(text[len(ASSET_PREFIX):]))
    if is_content_id(text):
        return AssetRef(content_id=text)
    return AssetRef(path=Path(text).expanduser())


def names_a_file(ref: int | str | Path) -> bool:
    """True when `ref` is a path (which a server must check against its allowed roots)."""
    return parse_ref(ref).path is not None


def find_asset(s: Session, ref: int | str | Path, *, paths: bool = True) -> int:
    """The asset id `ref` names. With paths=False (socket callers, who name assets only by
    id or content id) any other text is looked up as a content id, as it always was."""
    if not paths and isinstance(ref, str) and parse_ref(ref).path is not None:
        return _by(s, Asset.content_id == ref, f"content_id {ref!r}")
    parsed = parse_ref(ref)
    if parsed.asset_id is not None:
        return _by(s, Asset.id == parsed.asset_id, f"id {parsed.asset_id!r}")
    if parsed.content_id is not None:
        return _by(s, Asset.content_id == parsed.content_id, f"content_id {parsed.content_id!r}")
    assert parsed.path is not None
    path = parsed.path.absolute()
    loc = store.location_of(s, str(path))
    if loc is not None:
        return loc.asset_id
    return _by(s, Asset.content_id == content_id_of(path), f"the content of {path}")


def content_id_of(path: Path) -> str:
    """The content id of the media file at `path`; BadAssetRef when it is not one."""
    if not path.is_file():
        raise AssetNotFound(f"no asset for {str(path)!r}: {HOW_TO_NAME}")
    try:
        with open(path, "rb") as fh:
            fmt, media = sniff(fh.read(HEAD_SIZE))
        return identify(path, fmt, media).content_id
    except (UnreadableMedia, OSError) as exc:
        raise BadAssetRef(f"cannot identify {path}: {exc}") from None


def _by(s: Session, where: ColumnElement[bool], what: str) -> int:
    found = s.execute(select(Asset.id).where(where)).scalar_one_or_none()
    if found is None:
        raise AssetNotFound(f"no asset with {what}; assets.search lists the ones there are")
    return int(found)
