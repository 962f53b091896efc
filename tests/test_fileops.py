"""Crash-safe file operations: no overwrite, verified copies, only-verified deletes."""
from __future__ import annotations

import os

import pytest

from alice.daemon.fs import fileops
from alice.pipeline.identity import file_hash


def test_place_copy_verifies_and_keeps_mtime(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"x" * 5000)
    os.utime(src, (1_600_000_000, 1_600_000_000))
    dest = tmp_path / "tree" / "deep" / "a.png"
    fileops.place_copy(src, dest, file_hash(src))
    assert dest.read_bytes() == src.read_bytes()
    assert int(dest.stat().st_mtime) == 1_600_000_000
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(fileops.TEMP_PREFIX)]


def test_place_copy_never_overwrites(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"new")
    dest = tmp_path / "b.png"
    dest.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        fileops.place_copy(src, dest, file_hash(src))
    assert dest.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(fileops.TEMP_PREFIX)]


def test_place_copy_refuses_a_source_that_changed(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"version 1")
    expected = file_hash(src)
    src.write_bytes(b"version 2, still being written")
    with pytest.raises(fileops.SourceChanged):
        fileops.place_copy(src, tmp_path / "out.png", expected)
    assert not (tmp_path / "out.png").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(fileops.TEMP_PREFIX)]


def test_remove_source_only_when_copy_verified(tmp_path):
    src, kept = tmp_path / "s", tmp_path / "k"
    src.write_bytes(b"data")
    kept.write_bytes(b"data")
    h = file_hash(src)
    kept.write_bytes(b"damaged")
    assert fileops.remove_source(src, kept, h) is False
    assert src.exists()
    kept.write_bytes(b"data")
    assert fileops.remove_source(src, kept, h) is True
    assert not src.exists()


def test_sweep_temp_removes_only_temp_files(tmp_path):
    (tmp_path / "d").mkdir()
    keep = tmp_path / "d" / "photo.png"
    keep.write_bytes(b"1")
    junk = tmp_path / "d" / (fileops.TEMP_PREFIX + "abc-photo.png")
    junk.write_bytes(b"partial")
    assert fileops.sweep_temp(tmp_path) == [junk]
    assert keep.exists() and not junk.exists()


def test_write_text_atomic_replaces(tmp_path):
    p = tmp_path / "x" / "s.yaml"
    fileops.write_text_atomic(p, "one")
    fileops.write_text_atomic(p, "two")
    assert p.read_text() == "two"
    assert len(list(p.parent.iterdir())) == 1


def test_long_utf8_names_get_a_valid_temp_name(tmp_path):
    src = tmp_path / "s"
    src.write_bytes(b"x")
    dest = tmp_path / ("é" * 120 + ".png")      # 245 bytes: a temp prefix must not push it past 255
    fileops.place_copy(src, dest, file_hash(src))
    fileops.write_text_atomic(dest.with_name("é" * 120 + ".yaml"), "t")
    assert dest.read_bytes() == b"x"
