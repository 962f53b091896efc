"""Crash-safe file operations: no overwrite, verified copies, only-verified deletes."""
from __future__ import annotations

import fcntl
import itertools
import os
import time

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


def test_new_file_takes_the_first_free_name_and_never_overwrites(tmp_path):
    (tmp_path / "out.png").write_bytes(b"precious")
    with fileops.new_file(tmp_path / "out.png") as new:
        new.file.write(b"fresh")
    assert new.path == tmp_path / "out-2.png" and new.path.read_bytes() == b"fresh"
    assert (tmp_path / "out.png").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out-2.png", "out.png"]


def test_new_file_leaves_nothing_when_the_writer_fails(tmp_path):
    with pytest.raises(RuntimeError), fileops.new_file(tmp_path / "half.png") as new:
        new.file.write(b"part")
        raise RuntimeError("download broke")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(RuntimeError, match="after the with-block"):
        _ = new.path


def test_one_naming_rule_splits_the_last_extension(tmp_path):
    """Filing, quarantine, delivery and downloads all name a taken file the same way."""
    from alice.pipeline.plan import candidate_names, free_path

    assert list(itertools.islice(candidate_names("a.tar.gz"), 3)) == ["a.tar.gz", "a.tar-2.gz", "a.tar-3.gz"]
    assert list(itertools.islice(candidate_names("a.tar.gz", "3fa9c1"), 3)) == [
        "a.tar.gz", "a.tar-3fa9c1.gz", "a.tar-3fa9c1-2.gz"]
    taken = {tmp_path / "a.png": "b3:other", tmp_path / "a-abc.png": "b3:mine"}
    assert free_path(tmp_path, "a.png", "abc", "b3:mine", taken.get) == tmp_path / "a-abc.png"
    assert free_path(tmp_path, "a.png", "abc", "b3:new", taken.get) == tmp_path / "a-abc-2.png"


def test_publish_copy_appears_under_a_free_name(tmp_path):
    src = tmp_path / "staged.png"
    src.write_bytes(b"img")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "staged.png").write_bytes(b"other")
    got = fileops.publish_copy(src, inbox / "staged.png", file_hash(src))
    assert got == inbox / "staged-2.png" and got.read_bytes() == b"img"
    with pytest.raises(fileops.PlacementError, match="does not match"):
        fileops.publish_copy(src, inbox / "x.png", "b3:" + "0" * 64)
    assert sorted(p.name for p in inbox.iterdir()) == ["staged-2.png", "staged.png"]


def test_sweep_spares_what_a_live_process_is_writing(tmp_path):
    # An `alice organize` (or a daemon) starting while another one files into the same tree.
    import subprocess

    writer = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    zombie = subprocess.Popen(["true"])     # exited, not reaped: dead all the same
    while open(f"/proc/{zombie.pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)
    try:
        live = tmp_path / f"{fileops.temp_prefix(writer.pid)}abc-x.png"
        gone = tmp_path / f"{fileops.temp_prefix(dead.pid)}abc-y.png"
        undead = tmp_path / f"{fileops.temp_prefix(zombie.pid)}abc-w.png"
        ours = tmp_path / f"{fileops.temp_prefix()}abc-z.png"     # a dead process's whose pid we got
        for p in (live, gone, undead, ours):
            p.write_bytes(b"partial")
        assert sorted(fileops.sweep_temp(tmp_path)) == sorted([gone, undead, ours])
        assert live.exists()
        assert fileops.sweep_temp(tmp_path, pid=writer.pid) == [live]     # it died: the daemon sweeps its own
    finally:
        writer.kill()
        writer.wait()
        zombie.wait()


def test_sweeps_spare_young_temp_files_in_inboxes(tmp_path):
    organized, inbox, staging = tmp_path / "org", tmp_path / "in", tmp_path / "stage"
    for d in (organized, inbox, staging):
        d.mkdir()
    old_inbox = inbox / (fileops.TEMP_PREFIX + "a-x.png")
    young_inbox = inbox / (fileops.TEMP_PREFIX + "b-y.png")
    in_tree = organized / (fileops.TEMP_PREFIX + "c-z.png")
    for p in (old_inbox, young_inbox, in_tree):
        p.write_bytes(b"t")
    stale = time.time() - fileops.STALE_TEMP_S - 5
    os.utime(old_inbox, (stale, stale))
    assert sorted(fileops.sweep_all_temp(organized, [inbox], staging)) == sorted([old_inbox, in_tree])
    assert young_inbox.exists()


def test_remove_source_takes_companions_and_tolerates_a_vanished_folder(tmp_path):
    kept = tmp_path / "kept.png"
    kept.write_bytes(b"data")
    h = file_hash(kept)
    old = tmp_path / "old"
    old.mkdir()
    src, side = old / "a.png", old / "a.png.yaml"
    src.write_bytes(b"data")
    side.write_text("sidecar")
    assert fileops.remove_source(src, kept, h, companions=[side]) is True
    assert not src.exists() and not side.exists()
    assert fileops.remove_source(tmp_path / "gone" / "a.png", kept, h) is True


def _direct_io_here(folder) -> bool:
    """Whether the file system under `folder` takes O_DIRECT (ext4, xfs, btrfs; not every tmpfs)."""
    probe = folder / "probe"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 2_447_394, (4 << 20) * 2 + 12_345])
def test_place_bytes_writes_every_size_exactly(tmp_path, size):
    # Direct I/O writes whole 4 KiB blocks from an aligned buffer in 4 MiB pieces and the
    # tail through the page cache: every size around those edges must come out byte for byte.
    data = os.urandom(size)
    dest = tmp_path / "out" / "f.png"
    fileops.place_bytes(data, dest, mtime_ns=1_600_000_000_123_456_789)
    assert dest.read_bytes() == data
    assert dest.stat().st_mtime_ns == 1_600_000_000_123_456_789
    assert [p.name for p in dest.parent.iterdir()] == ["f.png"]      # no temp file left


def test_filed_copies_are_written_past_the_page_cache_where_the_file_system_allows(tmp_path):
    if not _direct_io_here(tmp_path):
        pytest.skip("this file system refuses O_DIRECT; place_bytes writes through the page cache here")
    data = os.urandom(3 * 4096 + 17)
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        assert fileops._write_direct(fd, data) is True
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT     # the flag is dropped after the write
    finally:
        os.close(fd)
    assert (tmp_path / "f").read_bytes() == data


def test_place_bytes_falls_back_when_direct_io_is_refused(tmp_path, monkeypatch):
    # tmpfs before Linux 6.6 and some FUSE file systems refuse O_DIRECT when it is set.
    real = fcntl.fcntl

    def refusing(fd, cmd, arg=0):
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(22, "Invalid argument")
        return real(fd, cmd, arg)

    monkeypatch.setattr(fileops.fcntl, "fcntl", refusing)
    data = os.urandom(100_000)
    dest = tmp_path / "f.png"
    fileops.place_bytes(data, dest)
    assert dest.read_bytes() == data


def test_place_bytes_starts_over_when_a_direct_write_is_refused_half_way(tmp_path, monkeypatch):
    # A file system may take the flag and refuse the write itself (an alignment it wants bigger):
    # what was written directly is dropped and the whole file is written again, never half of it.
    if not _direct_io_here(tmp_path):
        pytest.skip("this file system refuses O_DIRECT")
    real = os.pwritev
    calls = []

    def second_refused(fd, buffers, offset):
        calls.append(offset)
        if len(calls) == 2:
            raise OSError(22, "Invalid argument")
        return real(fd, buffers, offset)

    monkeypatch.setattr(fileops.os, "pwritev", second_refused)
    data = os.urandom((4 << 20) + 8192 + 5)        # two direct pieces: the second is refused
    dest = tmp_path / "f.png"
    fileops.place_bytes(data, dest)
    assert dest.read_bytes() == data and len(calls) == 2
