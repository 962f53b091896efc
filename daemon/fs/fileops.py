"""Crash-safe file operations: the only code in alice that writes into the tree.

The invariant: at every instant, a user's bytes exist either at the source or
as a verified, fsynced copy at the destination (usually both). Copies are
written under a temporary dot-name in the destination folder, fsynced,
verified against the hash the pipeline computed, and only then given their
real name with a link that refuses to overwrite. Sources are removed only
by `remove_source`, which re-verifies the destination first.

Temporary names start with TEMP_PREFIX, so the watcher ignores them and
`sweep_temp` can remove what a crash left behind.
"""
from __future__ import annotations

import errno
import fcntl
import mmap
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import blake3

from alice.daemon import errors
from alice.daemon.fs.crashpoints import checkpoint
from alice.daemon.fs.naming import publish
from alice.daemon.fs.source import open_source
from alice.pipeline.identity import file_hash

TEMP_PREFIX = ".alice-tmp-"
# A temp file untouched this long belongs to no running writer (a delivery takes seconds).
STALE_TEMP_S = 600.0
_CHUNK = 1 << 20


class PlacementError(OSError, errors.MoveFailed):
    """A file could not be placed; the source is untouched."""


class SourceChanged(PlacementError):
    """The source changed between hashing and copying (still being written?)."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """mkdir -p, fsyncing each new folder's parent so the folder survives a power cut."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass
        fsync_dir(d.parent)


def _link_no_replace(tmp: Path, dest: Path) -> None:
    """Give tmp its final name, failing with FileExistsError instead of overwriting."""
    try:
        os.link(tmp, dest)
        checkpoint("copy: linked, temp not yet removed")
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            # File systems without hard links (FAT, some network shares): rename after an
            # existence check. Not atomic against a concurrent writer, which is why it is the fallback.
            if dest.exists():
                raise FileExistsError(errno.EEXIST, "destination exists", str(dest)) from None
            os.rename(tmp, dest)
            return
        raise
    os.unlink(tmp)


def temp_prefix(pid: int | None = None) -> str:
    """The start of the temp names a process writes: its pid is in them, so what a process
    that died alone left (a filing process, daemon/ingest/filers.py) can be swept while the
    others write on."""
    return f"{TEMP_PREFIX}{pid or os.getpid()}-"


@contextmanager
def temp_beside(dest: Path) -> Iterator[Path]:
    """A temporary name in dest's folder (same file system, so the final link/rename is
    atomic), removed if the block fails."""
    make_dirs(dest.parent)
    # File names are limited to 255 bytes, not characters.
    tail = dest.name.encode()[:200].decode(errors="ignore")
    tmp = dest.parent / f"{temp_prefix()}{uuid.uuid4().hex[:12]}-{tail}"
    try:
        yield tmp
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


@contextmanager
def naming(path: Path) -> Iterator[None]:
    """Give an OSError that names no file (ENOSPC, EDQUOT, EIO from a write) the path it was about,
    so the daemon's log and `alice status` say where the disk is full."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None and not isinstance(exc, PlacementError):
            raise type(exc)(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise


def place_copy(source: Path, dest: Path, expected_hash: str) -> Path:
    """Copy source to dest (which must not exist), verified and durable.

    Raises FileExistsError if dest appeared meanwhile (the caller plans a new
    name), SourceChanged if the copied bytes do not hash to expected_hash.
    """
    with naming(dest):
        return _place_copy(source, dest, expected_hash)


def _place_copy(source: Path, dest: Path, expected_hash: str) -> Path:
    # Never through a link, never from a FIFO or a device (daemon/fs/source.py).
    fd = open_source(source)
    try:
        return _copy_fd(fd, source, dest, expected_hash, sync_dir=True)
    finally:
        os.close(fd)


def place_from(fd: int, source: Path, dest: Path, expected_hash: str, *, sync_dir: bool = True) -> Path:
    """place_copy from a descriptor the caller opened on the source (the filing path's one
    descriptor): what is copied is the file that was analysed, whatever is at `source`'s
    name now. `source` only names it in messages. sync_dir as for place_bytes."""
    with naming(dest):
        return _copy_fd(fd, source, dest, expected_hash, sync_dir=sync_dir)


def _copy_fd(fd: int, source: Path, dest: Path, expected_hash: str, *, sync_dir: bool) -> Path:
    h = blake3.blake3()
    with temp_beside(dest) as tmp:
        with open(tmp, "xb") as out:
            at = 0
            while chunk := os.pread(fd, _CHUNK, at):     # pread: from the start, whatever the offset
                at += len(chunk)
                h.update(chunk)
                out.write(chunk)
                checkpoint("copy: partial temp file")
            out.flush()
            os.fsync(out.fileno())
            st = os.fstat(fd)
        checkpoint("copy: temp file complete")
        got = "b3:" + h.hexdigest()
        if got != expected_hash:
            raise SourceChanged(errno.EIO, f"{source} changed while it was being copied "
                                f"(expected {expected_hash[:15]}, read {got[:15]}); it will be retried")
        try:
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            pass
        _link_no_replace(tmp, dest)
    if sync_dir:
        fsync_dir(dest.parent)
    return dest


def place_bytes(data: bytes, dest: Path, mtime_ns: int | None = None, *, sync_dir: bool = True) -> Path:
    """Write bytes already read (and hashed) from the source to dest (which must not
    exist), durable; no second read of the source. FileExistsError if dest appeared
    meanwhile. With sync_dir=False the caller fsyncs dest's folder itself, once for a
    whole group of files, before it records any of them (group commit)."""
    with naming(dest), temp_beside(dest) as tmp:
        with open(tmp, "xb") as out:
            if not _write_direct(out.fileno(), data):
                view = memoryview(data)
                for at in range(0, max(1, len(data)), _CHUNK):
                    out.write(view[at:at + _CHUNK])
                    checkpoint("copy: partial temp file")
                out.flush()
            os.fsync(out.fileno())
        checkpoint("copy: temp file complete")
        if mtime_ns is not None:
            try:
                os.utime(tmp, ns=(mtime_ns, mtime_ns))
            except OSError:
                pass
        _link_no_replace(tmp, dest)
    if sync_dir:
        fsync_dir(dest.parent)
    return dest


# Direct I/O: offsets, lengths and memory aligned to 4 KiB satisfy every common file system.
_DIRECT_ALIGN = 4096
_DIRECT_CHUNK = 4 << 20
_direct = threading.local()


def _write_direct(out: int, data: bytes) -> bool:
    """Write `data` into the empty file `out` past the page cache (O_DIRECT), the tail
    that is not a whole block through it. False, with `out` left empty, where the file
    system refuses direct I/O (the caller then writes through the page cache).

    Why: a filed copy is an archive, not something about to be read. Writing it through
    the page cache makes the kernel find, zero and fill fresh pages for every byte, which
    measured 2-6 ms of CPU per 2.4 MB image here, more than everything else the filing
    path does with the file; a direct write hands the device the process's own buffer
    (0.5 ms), and leaves the user's page cache to what the user is working on."""
    size = len(data)
    whole = size - size % _DIRECT_ALIGN
    if whole == 0 or not hasattr(os, "O_DIRECT"):
        return False
    flags = fcntl.fcntl(out, fcntl.F_GETFL)
    try:
        fcntl.fcntl(out, fcntl.F_SETFL, flags | os.O_DIRECT)
    except OSError:
        return False        # tmpfs before Linux 6.6, some FUSE and network file systems
    buf = getattr(_direct, "buf", None)
    if buf is None:         # one page-aligned buffer per filing thread, reused: no page faults per file
        buf = _direct.buf = mmap.mmap(-1, _DIRECT_CHUNK)
    src = memoryview(data)
    at = 0
    try:
        with memoryview(buf) as aligned:
            while at < whole:
                n = min(_DIRECT_CHUNK, whole - at)
                aligned[:n] = src[at:at + n]
                done = 0
                while done < n:
                    done += os.pwritev(out, [aligned[done:n]], at + done)
                at += n
                checkpoint("copy: partial temp file")
    except OSError as exc:
        if exc.errno != errno.EINVAL:       # EINVAL: an alignment this file system does not take
            raise
        os.ftruncate(out, 0)
        return False
    finally:
        fcntl.fcntl(out, fcntl.F_SETFL, flags)
    while at < size:
        at += os.pwrite(out, src[at:], at)
    return True


def write_text_atomic(dest: Path, text: str, may_replace: Callable[[Path], bool] | None = None, *,
                      sync_dir: bool = True) -> None:
    """Write dest with text, never leaving a half-written file (sidecars, reason files).

    With `may_replace`, dest is created with a link that refuses to overwrite, and an
    existing dest is replaced only if may_replace(dest) says alice wrote it; otherwise
    FileExistsError. Without it dest is replaced (alice's own files: config, presence).
    sync_dir=False: as for place_bytes, the caller fsyncs the folder for a group.
    """
    with naming(dest), temp_beside(dest) as tmp:
        with open(tmp, "x", encoding="utf-8", errors="surrogateescape") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        checkpoint("text: temp written")
        if may_replace is None:
            os.replace(tmp, dest)
        else:
            try:
                _link_no_replace(tmp, dest)
            except FileExistsError:
                if not may_replace(dest):
                    raise FileExistsError(errno.EEXIST, "a file alice did not write has this name; "
                                          "it is never replaced", str(dest)) from None
                os.replace(tmp, dest)
    if sync_dir:
        fsync_dir(dest.parent)


@dataclass
class NewFile:
    """A file being written by `new_file`: write to `file`; read `path` after the block."""
    file: BinaryIO
    published: Path | None = None

    @property
    def path(self) -> Path:
        if self.published is None:
            raise RuntimeError("new_file: the path is known only after the with-block has ended")
        return self.published


@contextmanager
def new_file(wanted: Path) -> Iterator[NewFile]:
    """Write a new file that appears whole under wanted's name, or the first free one
    after it (name-2, name-3 ...), never replacing anything. If the block fails
    nothing is left behind. The caller reads `.path` after the block."""
    with temp_beside(wanted) as tmp:
        with open(tmp, "xb") as out:
            new = NewFile(out)
            yield new
            out.flush()
            os.fsync(out.fileno())
        new.published = publish(tmp, wanted)
    fsync_dir(wanted.parent)


def write_bytes_new(dest: Path, data: bytes) -> None:
    """Write `data` to `dest`, which must not exist (FileExistsError), durable before it returns."""
    with open(dest, "xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def publish_copy(source: Path, wanted: Path, expected_hash: str) -> Path:
    """A verified, fsynced copy of `source` under wanted's name or the first free one
    after it; never overwriting. Used where a watcher must see the file appear whole."""
    with temp_beside(wanted) as tmp:
        with open(source, "rb") as inp, open(tmp, "xb") as out:
            while chunk := inp.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if file_hash(tmp) != expected_hash:
            raise PlacementError(f"the copy of {source.name} in {wanted.parent} does not match "
                                 f"{source} (disk trouble?); {source} is kept")
        target = publish(tmp, wanted)
    fsync_dir(target.parent)
    return target


def place_text(dest: Path, text: str) -> Path:
    """Write a new file holding text; FileExistsError if dest exists (exports never overwrite)."""
    with temp_beside(dest) as tmp:
        with open(tmp, "x", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        _link_no_replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def place_symlink(target: Path, dest: Path) -> Path:
    """A symbolic link at dest to target; FileExistsError if dest exists (symlink never replaces)."""
    make_dirs(dest.parent)
    os.symlink(target, dest)
    fsync_dir(dest.parent)
    return dest


class SourceReplaced(OSError):
    """Move mode: the inbox name no longer holds the file that was copied (another file was
    put there, or the file was written to): it is not removed, and is filed on its own."""


Identity = tuple[int, int, int, int]     # st_dev, st_ino, st_size, st_mtime_ns


def identity_of(st: os.stat_result) -> Identity:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def remove_source(source: Path, kept_copy: Path, expected_hash: str,
                  companions: Iterable[Path] = (), *, expect: Identity | None = None) -> bool:
    """Delete source only if kept_copy still holds exactly its bytes. Returns True if removed.

    `expect`: the source's identity when it was opened and read (the filing path's one
    descriptor). Just before the unlink, the name must still hold that node, unchanged
    (device, inode, size, mtime), else SourceReplaced and nothing is removed; the source
    is then not read again. Without it the source is re-hashed by name.
    `companions` (a superseded copy's sidecar) go with it, and only then."""
    if not kept_copy.is_file() or file_hash(kept_copy) != expected_hash:
        return False
    gone_already = False
    try:
        if expect is None and file_hash(source) != expected_hash:
            return False  # the source was rewritten since it was filed; keep it for the next run
        checkpoint("move: copy verified, source not yet removed")
        if expect is not None:
            st = os.lstat(source)
            if not stat.S_ISREG(st.st_mode) or identity_of(st) != tuple(expect):
                raise SourceReplaced(errno.EEXIST, "the inbox file is not the one that was copied any more "
                                     "(another file was put in its place, or it was written to); "
                                     "it is left in the inbox and filed on its own", str(source))
        source.unlink()
    except FileNotFoundError:
        gone_already = True   # its folder may be gone too: nothing to fsync
    for extra in companions:
        extra.unlink(missing_ok=True)
    if not gone_already:
        fsync_dir(source.parent)
    return True


def sweep_temp(root: Path, *, min_age_s: float = 0.0, pid: int | None = None) -> list[Path]:
    """Remove temporary files a crash left under root. Returns what was removed.

    Safe because a temp file is never the only copy: sources are removed only
    after the temp file has been renamed into place and recorded. `min_age_s`
    spares the temp files of a writer that may still be at work (a delivery
    into an inbox by another alice process); `pid` limits the sweep to what
    that (dead) process wrote. Without it, what a live process of this host
    writes is spared.
    """
    prefix = TEMP_PREFIX if pid is None else temp_prefix(pid)
    removed: list[Path] = []
    if not root.exists():
        return removed
    cutoff = time.time() - min_age_s
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(prefix) and (pid is not None or not _writer_alive(name)):
                p = Path(dirpath) / name
                try:
                    if min_age_s and p.lstat().st_mtime > cutoff:
                        continue
                    p.unlink()
                    removed.append(p)
                except FileNotFoundError:
                    pass
    return removed


def _writer_alive(name: str) -> bool:
    """Whether the temp file `name` is being written by another live process of this host
    (its pid is in the name: temp_prefix). A daemon or an `alice organize` that starts while
    another one files into the same tree must not sweep the temp file that one is about to link.
    Our own pid's are a dead process's, whose pid we inherited (after a reboot, say)."""
    from alice.daemon.ops.lineage import running

    head = name[len(TEMP_PREFIX):].split("-", 1)[0]
    return head.isdigit() and len(head) < 10 and int(head) != os.getpid() and running(int(head))


def sweep_all_temp(organized: Path, inboxes: Iterable[Path], staging: Path) -> list[Path]:
    """What a crash left in every folder alice writes into: the organized tree, swept
    whole as it always was, and the inboxes and generation staging, where a delivery
    by another alice process (`alice generate`) may be under way, so only temp files
    older than STALE_TEMP_S go there."""
    removed = sweep_temp(organized)
    for root in (*inboxes, staging):
        removed += sweep_temp(root, min_age_s=STALE_TEMP_S)
    return removed
