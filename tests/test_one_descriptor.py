"""One descriptor per file: every read of a file being filed (hashes, metadata, integrity,
ffmpeg, the copy) is of the file that was opened, whatever is put at its name meanwhile;
and move mode removes the inbox file only if its name still holds the file that was copied."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from alice.daemon.catalog.engine import Catalog
from alice.daemon.fs import fileops
from alice.daemon.ingest import filing
from alice.daemon.ingest.filing import Organizer, Source
from alice.pipeline import importer
from alice.pipeline.identity import file_hash
from tests.corpus_paths import CORPUS
from tests.rpc_env import make_config

ORIGINAL = CORPUS / "comfyui-area-composition-cropped.png"
NEWCOMER = CORPUS / "tiny-no-metadata.png"          # other pixels: another content id
VIDEO = CORPUS / "c2pa-sora.mp4"


def swap_in(path: Path, replacement: Path) -> None:
    """Another file renamed over `path`: a new inode at the same name, as an editor's save does."""
    tmp = path.with_name(".swap-" + path.name)
    shutil.copyfile(replacement, tmp)
    os.rename(tmp, path)


def swap_after_open(monkeypatch: pytest.MonkeyPatch, replacement: Path) -> list[Path]:
    """Swap the file right after the filing path opened it, before anything is read."""
    real = filing.open_source
    swapped: list[Path] = []

    def open_then_swap(path, expect=None):
        fd = real(path, expect)
        if not swapped:
            swap_in(Path(path), replacement)
            swapped.append(Path(path))
        return fd

    monkeypatch.setattr(filing, "open_source", open_then_swap)
    return swapped


@pytest.mark.parametrize("in_memory", [True, False], ids=["held-in-memory", "streamed"])
@pytest.mark.parametrize("original", [ORIGINAL, VIDEO], ids=["png", "mp4"])
def test_a_file_swapped_after_the_open_is_filed_from_what_was_opened(
        catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_memory: bool, original: Path) -> None:
    cfg = make_config(tmp_path)
    inbox = cfg.inboxes[0]
    src = inbox / ("x" + original.suffix)
    shutil.copyfile(original, src)
    if not in_memory:       # the huge-file way: nothing held, every read streamed through the descriptor
        monkeypatch.setattr(importer, "MAX_IN_MEMORY", 0)
    swapped = swap_after_open(monkeypatch, NEWCOMER)

    result = Organizer(cfg, catalog, mode="copy").organize(Source(src, inbox))

    assert swapped == [src]
    assert result.status == "organized", result
    filed = Path(result.dest)
    assert filed.read_bytes() == original.read_bytes()          # the opened file's bytes, not the newcomer's
    expected = importer.analyze(original, "x")
    assert result.content_id == expected.content_id            # analysed from the opened file too
    assert src.read_bytes() == NEWCOMER.read_bytes()              # copy mode: the newcomer is untouched
    with catalog.session() as s:
        from sqlalchemy import text
        hashes = s.execute(text("SELECT file_hash FROM locations WHERE role = 'organized'")).scalars().all()
    assert hashes == [file_hash(original)]


def change_before_unlink(monkeypatch: pytest.MonkeyPatch, src: Path, change: Callable[[Path], None]) -> list[Path]:
    """Run `change` on the source at the last moment before move mode would remove it."""
    real = fileops.checkpoint
    done: list[Path] = []

    def hook(name: str) -> None:
        real(name)
        if name == "move: copy verified, source not yet removed" and not done:
            done.append(src)
            change(src)

    monkeypatch.setattr(fileops, "checkpoint", hook)
    return done


def appended(path: Path) -> None:
    with open(path, "ab") as f:
        f.write(b"more")


def retouched(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize("change", [lambda p: swap_in(p, NEWCOMER), appended, retouched],
                         ids=["renamed-over", "appended", "mtime-moved"])
def test_move_mode_keeps_an_inbox_file_that_is_not_the_one_copied(
        catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change) -> None:
    cfg = make_config(tmp_path)
    inbox = cfg.inboxes[0]
    src = inbox / "x.png"
    shutil.copyfile(ORIGINAL, src)
    done = change_before_unlink(monkeypatch, src, change)

    result = Organizer(cfg, catalog, mode="move").organize(Source(src, inbox))

    assert done == [src]
    assert result.status == "organized", result
    assert Path(result.dest).read_bytes() == ORIGINAL.read_bytes()
    assert src.exists(), "the inbox file was removed although it is not the file that was copied"
    assert result.extra.get("requeue") is True                    # the daemon queues the newcomer
    assert "not removed from the inbox" in (result.reason or "")
    with catalog.session() as s:
        from sqlalchemy import text
        present = s.execute(text("SELECT present FROM locations WHERE role = 'source'")).scalars().all()
    assert present == [True]                                      # not marked gone: it is still there


def test_move_mode_removes_the_inbox_file_when_it_is_still_the_one_copied(
        catalog: Catalog, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    inbox = cfg.inboxes[0]
    src = inbox / "x.png"
    shutil.copyfile(ORIGINAL, src)

    result = Organizer(cfg, catalog, mode="move").organize(Source(src, inbox))

    assert result.status == "organized", result
    assert not src.exists()
    assert Path(result.dest).read_bytes() == ORIGINAL.read_bytes()
    assert "requeue" not in result.extra
