"""Filing analysed files: copy, sidecar, catalog, then (move mode) the source.

The order is what makes a crash harmless. For a new file:

  1. place a verified copy at the planned destination (fileops.place_bytes,
     from the bytes the analysis read: the source is read once)
  2. write its sidecar beside it
  3. fsync the folders of every file placed since the last commit, then
     record their assets, locations, events (and, for the daemon in copy
     mode, their jobs) in ONE catalog transaction (group commit)
  4. in move mode only, remove each source after re-verifying its copy

A crash before 3 leaves the source plus possibly a finished copy; the re-run
plans the same destination, finds the same bytes there and does not copy
again. A crash between 3 and 4 leaves the source recorded as filed; the re-run
sees that and removes it. Nothing is ever overwritten or deleted unverified.
Grouping changes none of this per file: every file of a group is placed
before the group is recorded, and no source is removed before its record
is committed.

The steps are methods of `Organizer` (quick_check, read, place, commit,
finish), and `line.FilingLine` runs them for `alice organize` and `alice run`
alike.
"""
from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blake3

from alice.daemon.catalog import curation, group_record, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.filing_link import FilingLink
from alice.daemon.config import Config
from alice.daemon.fs import fileops, reserve
from alice.daemon.fs.confine import OutsideRoots, confine
from alice.daemon.fs.crashpoints import checkpoint
from alice.daemon.fs.names import escape, safe_name, unescape_path
from alice.daemon.fs.source import SourceRefused, fd_path, open_source
from alice.daemon.ingest import graph_inputs
from alice.daemon.ingest.claims import MEDIA, claimed_media
from alice.daemon.ingest.ignore import default_ignore
from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash
from alice.pipeline.importer import Rejected, analyze_bytes, read_from
from alice.pipeline.plan import Layout, free_path, plan_destination, project_for, sanitize_segment
from alice.pipeline.record import AssetRecord

if TYPE_CHECKING:
    from alice.daemon.quality.assess import Rescorer
    from alice.pipeline.quality.config import QualityConfig

class Status(StrEnum):
    """Outcomes, as they appear in `alice organize --json`, job results and events."""

    ORGANIZED = "organized"
    DUPLICATE = "duplicate"
    UNCHANGED = "unchanged"
    QUARANTINED = "quarantined"
    FAILED = "failed"
    PLANNED = "planned"          # --dry-run
    VANISHED = "vanished"        # the file left the inbox before it was filed
    REFUSED = "refused"          # outside the inboxes, a symbolic link, not a regular file
    NOT_MEDIA = "not-media"      # no image, video or audio: left where it is


ORGANIZED = Status.ORGANIZED
DUPLICATE = Status.DUPLICATE
UNCHANGED = Status.UNCHANGED
QUARANTINED = Status.QUARANTINED
FAILED = Status.FAILED
PLANNED = Status.PLANNED
VANISHED = Status.VANISHED
REFUSED = Status.REFUSED
NOT_MEDIA = Status.NOT_MEDIA


@dataclass
class Result:
    path: str
    status: Status
    dest: str | None = None
    content_id: str | None = None
    tool: str | None = None
    ai: bool | None = None
    project: str | None = None
    reason: str | None = None
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Shown and stored as valid UTF-8 even when the file's name is not (fs/names.py).
        self.path = escape(os.fsdecode(self.path))
        self.dest = None if self.dest is None else escape(os.fsdecode(self.dest))
        self.reason = None if self.reason is None else escape(str(self.reason))

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "extra"}
        out["status"] = str(self.status)
        out.update(self.extra)
        return out


@dataclass
class Reading:
    """What the read step hands on: the analysis and the bytes it was made from."""

    path: Path
    project: str
    outcome: AssetRecord | Rejected
    data: bytes | None          # None: a file too big to hold (streamed from `fd`, verified by hash)
    size: int
    mtime_ns: int
    dev: int = 0
    ino: int = 0
    # The one descriptor every read of this file goes through (daemon/fs/source.py); open
    # from the read step until the copy is placed, None after (the caller closes it).
    fd: int | None = None

    @property
    def identity(self) -> fileops.Identity:
        """What the inbox name must still hold for move mode to remove it (fileops.remove_source)."""
        return self.dev, self.ino, self.size, self.mtime_ns


@dataclass
class Placed:
    """A file whose copy and sidecar are in place (or a duplicate or quarantine ready),
    waiting for the catalog transaction of its group."""

    reading: Reading
    result: Result
    dest: Path | None = None
    asset_id: int | None = None         # duplicate: the asset it duplicates
    file_hash: str = ""
    locked: str | None = None           # the content id this file holds locked until its commit
    folders: set[Path] = field(default_factory=set)   # to fsync once before the commit

    @property
    def status(self) -> Status:
        return self.result.status


@dataclass
class Source:
    path: Path
    inbox: Path
    expect: tuple[int, int] | None = None   # device and inode it was queued with (the daemon's jobs)


@dataclass
class Refusal:
    """A path alice will not read, and why (reported, never filed)."""
    path: Path
    reason: str
    explicit: bool = False          # named on the command line or the socket, not met in a walk

    def result(self) -> Result:
        return Result(os.fsdecode(self.path), REFUSED, reason=self.reason)


def inbox_files(cfg: Config, paths: Iterable[Path] | None = None) -> Iterator[Source | Refusal]:
    """Every candidate file under the inboxes (or under the given paths, which must be inside one).

    Given paths are confined (daemon/fs/confine.py) before anything is read: a
    path outside every inbox, through '..' or a symbolic link, is a Refusal.
    Links met while walking are Refusals too; they are never followed.
    """
    if not paths:
        for inbox in cfg.inboxes:
            yield from _walk(inbox, inbox)
        return
    for given in paths:
        try:
            where = confine(given, list(cfg.inboxes))
        except OutsideRoots as exc:
            yield Refusal(Path(given), exc.reason, explicit=True)
            continue
        root, inbox = where.path, where.root
        if root.is_dir():
            yield from _walk(root, inbox)
        elif not root.is_file():
            yield Refusal(root, "not a regular file (a FIFO, device or socket); only files are filed",
                          explicit=True)
        elif not default_ignore(root):
            yield Source(root, inbox)


def _walk(root: Path, inbox: Path) -> Iterator[Source | Refusal]:
    found: list[Source | Refusal] = []
    for dirpath, dirs, files in os.walk(root):
        for d in list(dirs):
            if os.path.islink(os.path.join(dirpath, d)):
                dirs.remove(d)
                if not d.startswith("."):
                    found.append(Refusal(Path(dirpath) / d, LINK_REASON))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            p = Path(dirpath) / name
            if default_ignore(p):
                continue
            if p.is_symlink():
                found.append(Refusal(p, LINK_REASON))
            elif p.is_file():
                found.append(Source(p, inbox))
    yield from sorted(found, key=lambda x: os.fsencode(x.path))


LINK_REASON = ("a symbolic link; alice never follows links inside the inboxes "
               "(move or copy the file itself into the inbox)")


def owning_inbox(cfg: Config, path: Path) -> Path | None:
    for inbox in cfg.inboxes:
        if path == inbox or inbox in path.parents:
            return inbox
    return None


class Organizer:
    def __init__(self, cfg: Config, catalog: Catalog | None, *, mode: str | None = None,
                 dry_run: bool = False, quality: QualityConfig | None = None,
                 rescore: Rescorer | None = None, pixels_now: bool = True,
                 fresh_s: float = 0.0):
        self.cfg = cfg
        self.catalog = catalog
        self.mode = mode or cfg.mode
        self.dry_run = dry_run
        self.layout = Layout(cfg.layout)
        self.quality = quality
        # Paid quality stages (quality/assess.record_rescorer): they need the technical
        # stage's result, so they run wherever the pixels are decoded.
        self.rescore = rescore
        # A dry run changes nothing, so it remembers what it would have done: a later file
        # with the same bytes is then the duplicate it will be, and a later file planned
        # for a name already promised gets the suffix it will get.
        self._promised: dict[Path, str] = {}                     # planned dest -> file hash
        self._promised_copy: dict[tuple[str, str, str], Path] = {}  # (content id, file hash, project) -> dest
        # False: file without decoding pixels; the pixel stage fills them in (pixel_stage.py).
        # A layout that files by stars needs the quality stage's verdict before the file has
        # a place: then its one decode stays on the filing path.
        self.pixels_now = pixels_now or (quality is not None and "{stars}" in cfg.layout)
        # The daemon takes files by themselves: one that reads as cut short and was written
        # less than this ago may still be growing, so it is retried, not quarantined. Zero for
        # `alice organize`, which a person runs on files they say are done.
        self.fresh_s = fresh_s
        self.link = FilingLink(catalog.engine) if catalog is not None else None

    # -- the whole file, alone ---------------------------------------------------------------
    def organize(self, src: Source) -> Result:
        """Every step for one source, as a group of one (FilingLine runs many at once)."""
        t0 = time.perf_counter()
        step = self.prepare(src)
        if isinstance(step, Placed):
            self.commit([step])
            step = self.finish(step)
        step.elapsed_ms = round((time.perf_counter() - t0) * 1000, 2)
        return step

    def prepare(self, src: Source) -> Placed | Result:
        """Steps 1-3 for one source (a filing thread): quick check, read, place.
        A Result when nothing is left to record."""
        try:
            # The one descriptor: a link, a FIFO or another file swapped in since the walk or the
            # queueing is refused here, and everything below reads this descriptor, never the name.
            fd = open_source(src.path, src.expect)
        except SourceRefused as exc:
            return Result(os.fsdecode(src.path), REFUSED, project=self.project_of(src), reason=exc.reason,
                          extra={"requeue": True} if exc.swapped else {})
        except OSError as exc:
            return failure(src.path, exc)
        try:
            quick = self.quick_check(src.path, fd)
            if quick is not None:
                return quick
            return self.place(self.read(src, fd))
        except SourceRefused as exc:
            return Result(os.fsdecode(src.path), REFUSED, project=self.project_of(src), reason=exc.reason)
        except OSError as exc:
            return failure(src.path, exc)
        finally:
            os.close(fd)

    def project_of(self, src: Source) -> str:
        return sanitize_segment(project_for(src.path, src.inbox, self.cfg.default_project))

    # -- step 1: is there anything to do? -------------------------------------------------------
    def quick_check(self, path: Path, fd: int | None = None) -> Result | None:
        """The answer for a source that needs no reading (already filed), else None.
        `fd`: the source's open descriptor (prepare), else it is opened here."""
        if fd is not None:
            return self._unchanged(path, fd)
        fd = open_source(path)
        try:
            return self._unchanged(path, fd)
        finally:
            os.close(fd)

    # -- step 2: read once, analyse ------------------------------------------------------------
    def read(self, src: Source, fd: int) -> Reading:
        """One read of the source's descriptor `fd` (open_source), analysed. Pure apart from
        reading; OSError propagates. What the analysis cannot take as bytes (a huge file,
        ffmpeg's input) it reads through the descriptor's /proc name, not the file's name."""
        project = self.project_of(src)
        data, st = read_from(fd, src.path)
        outcome = analyze_bytes(data, src.path, st.st_size, st.st_mtime, project, self.quality,
                                pixels=self.pixels_now, via=fd_path(fd))
        if self.pixels_now and self.rescore is not None and isinstance(outcome, AssetRecord) \
                and not self.dry_run and self.catalog is not None:
            self.rescore(outcome)       # network calls: before taking the content lock, not under it
        return Reading(src.path, project, outcome, data, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, fd)

    # -- step 3: place the copy and the sidecar --------------------------------------------------
    def place(self, reading: Reading) -> Placed | Result:
        """Everything but the catalog: copy and sidecar (new files), quarantine copy and reason.
        Raises OSError for file system trouble, StillWriting for a file that is not settled."""
        try:
            return self._place(reading)
        finally:
            reading.data = None     # written out: a file waiting for its group's commit holds no bytes
            reading.fd = None       # closed by the caller (prepare) once placed

    def _place(self, reading: Reading) -> Placed | Result:
        self._settled(reading)
        if isinstance(reading.outcome, Rejected):
            return self._place_quarantine(reading)
        rec = reading.outcome
        if rec.media not in MEDIA:
            return self._not_media(reading, rec)
        if self.dry_run or self.link is None:      # no link: no catalog
            return self._place_new(reading, rec, None, None)
        known = self.link.acquire(rec.content_id)
        try:
            placed = self._place_new(reading, rec, rec.content_id, known)
        except BaseException:
            self.link.release([rec.content_id])
            raise
        if not isinstance(placed, Placed):
            self.link.release([rec.content_id])
        return placed

    def _not_media(self, reading: Reading, rec: AssetRecord) -> Placed | Result:
        """Only media are assets. A file that says it is media and is not is quarantined; any
        other file (a note, an archive) stays where it is, reported but never filed."""
        src = reading.path
        what = rec.format if rec.format not in ("", "unknown") else "unrecognised bytes"
        claim = claimed_media(src.name)
        if claim is not None:
            reading.outcome = Rejected(src, f"named as {claim} ({src.suffix}) but its bytes are {what}, "
                                       f"not {claim}", rec.format, rec.media, rec.size)
            return self._place_quarantine(reading)
        return Result(str(src), NOT_MEDIA, content_id=rec.content_id, project=reading.project,
                      reason=f"not an image or video ({what}); left where it is")

    def _settled(self, reading: Reading) -> None:
        """Refuse to file bytes that are not the file's final ones: it changed since it was
        read (never half-filed), or it reads as cut short and was written to just now (a
        truncation verdict on a growing file is not final; nothing leaves the inbox)."""
        # The file that was read, not whatever has its name now: a file put in its place is not
        # this one's change (the bytes read are filed; move mode keeps the newcomer, finish()).
        st = os.fstat(reading.fd) if reading.fd is not None else os.stat(reading.path)
        if (st.st_size, st.st_mtime_ns) != (reading.size, reading.mtime_ns):
            raise StillWriting(f"{reading.path} changed while it was being filed "
                               f"({reading.size} -> {st.st_size} bytes); it will be taken again once settled")
        outcome = reading.outcome
        if self.fresh_s and isinstance(outcome, Rejected) and _cut_short(outcome.reason):
            age = time.time() - st.st_mtime
            if age < self.fresh_s:
                raise StillWriting(f"{reading.path} reads as cut short and was written {age:.1f} s ago; "
                                   "waiting for it to settle before judging it")

    def _place_new(self, reading: Reading, rec: AssetRecord, locked: str | None,
                   known: int | None) -> Placed | Result:
        """`locked`: the content id locked for this file (None in a dry run); `known`: its
        asset's id when the catalog has the content already (FilingLink.acquire)."""
        src = reading.path
        base = Result(str(src), ORGANIZED, content_id=rec.content_id, tool=rec.tool, ai=rec.ai,
                      project=rec.project)
        if self.catalog is not None and (known is not None or self.dry_run):
            # Same pixels AND same bytes: a duplicate, recorded as another location.
            # Same pixels with other metadata is filed too: its bytes say something
            # the first copy does not (another tool's record, added keywords).
            # A file's project is where the user put it: the same bytes dropped into another
            # project's folder are filed there too (the asset joins that project), not
            # waved off as a duplicate of the copy filed under the first project.
            with self.catalog.session() as s:      # ORM rows: a session, not the autocommit connection
                existing = store.asset_by_content_id(s, rec.content_id)
                filed = store.filed_copy_with_hash(s, existing.id, rec.file_hash) if existing else None
                member = existing is not None and rec.project in store.projects_of(s, existing.id)
                if existing is not None:     # another copy's sidecar carries what a person gave the asset
                    rec.tags = curation.tags_of(s, existing.id)
                    rec.user_stars = existing.user_stars
            if existing is not None and filed is not None and Path(filed.path).is_file() \
                    and Path(filed.path) != src and member:
                base.status = DUPLICATE
                base.dest = filed.path
                base.reason = f"same content as {filed.path}"
                if self.dry_run:
                    return base
                return Placed(reading, base, Path(filed.path), existing.id, rec.file_hash, locked)

        if self.dry_run:
            promised = self._promised_copy.get((rec.content_id, rec.file_hash, rec.project))
            if promised is not None:
                base.status, base.dest, base.reason = DUPLICATE, str(promised), f"same content as {promised}"
                return base
        dest = self._plan(rec, src)
        base.dest = str(dest)
        if self.dry_run:
            base.status = PLANNED
            self._promised[dest] = rec.file_hash
            self._promised_copy[(rec.content_id, rec.file_hash, rec.project)] = dest
            return base
        if not os.path.lexists(dest):
            dest = self._copy(reading, rec, dest)
            base.dest = str(dest)
        rec.organized_path = str(dest)
        rec.organized_at = datetime.now().astimezone()
        self._add_graph_inputs(rec)
        reserve.write_sidecar(dest, sidecar.dump(rec), rec.file_hash, sync_dir=False)
        checkpoint("organize: copy and sidecar in place, not yet recorded")
        return Placed(reading, base, dest, None, rec.file_hash, locked, {dest.parent})

    def _add_graph_inputs(self, rec: AssetRecord) -> None:
        """A ComfyUI graph's input images the catalog has filed are parents (providers.comfyui.input_dir)."""
        if self.catalog is None:
            return
        folder = graph_inputs.input_dir(self.cfg.providers)
        for cid in graph_inputs.known_inputs(self.catalog, folder, graph_inputs.graph_of(rec.tool, rec.raw)):
            parent = {"content_id": cid, "kind": "graph_input"}
            if cid != rec.content_id and not any(p["content_id"] == cid for p in rec.parents):
                rec.parents.append(parent)

    def _plan(self, rec: AssetRecord, src: Path) -> Path:
        name = safe_name(src.name)
        if name != src.name:
            note = f"the file name is not valid UTF-8; filed as {name!r} (original bytes: {escape(src.name)})"
            if note not in rec.warnings:
                rec.warnings.append(note)
        return plan_destination(rec, self.cfg.organized, self.layout, name,
                                lambda p: self._promised.get(p) or reserve.occupied(p, rec.file_hash))

    def _copy(self, reading: Reading, rec: AssetRecord, dest: Path) -> Path:
        for _ in range(20):
            try:
                return self._write(reading, dest, rec.file_hash)
            except FileExistsError:
                # Someone (another alice, the user) took the name since we planned it: plan again.
                dest = self._plan(rec, reading.path)
                if os.path.lexists(dest):
                    return dest  # same bytes are already there
        raise fileops.PlacementError(f"could not find a free name for {reading.path.name} in {dest.parent}")

    @staticmethod
    def _write(reading: Reading, dest: Path, fhash: str) -> Path:
        if reading.data is not None:
            return fileops.place_bytes(reading.data, dest, reading.mtime_ns, sync_dir=False)
        if reading.fd is not None:
            return fileops.place_from(reading.fd, reading.path, dest, fhash, sync_dir=False)
        return fileops.place_copy(reading.path, dest, fhash)

    def _place_quarantine(self, reading: Reading) -> Placed | Result:
        rej = reading.outcome
        assert isinstance(rej, Rejected)
        src = reading.path
        result = Result(str(src), QUARANTINED, project=reading.project, reason=rej.reason)
        if self.dry_run:
            return result
        fhash = ("b3:" + blake3.blake3(reading.data).hexdigest()) if reading.data is not None \
            else file_hash(_through(reading.fd, src))
        dest = free_path(self.cfg.quarantine, sanitize_segment(safe_name(src.name)), fhash[3:9], fhash,
                         lambda p: reserve.TAKEN if _quarantine_taken(p, fhash) else None)
        if not os.path.lexists(dest):
            self._write(reading, dest, fhash)
        reason = (f"source: {src}\nreason: {rej.reason}\nformat: {rej.format}\n"
                  f"quarantined_at: {datetime.now().astimezone().isoformat()}\n"
                  "what to do: fix or re-export the file and drop it into the inbox again; "
                  "delete this copy when you no longer need it.\n")
        fileops.write_text_atomic(_reason_path(dest), reason, may_replace=_reason_is_ours, sync_dir=False)
        result.dest = str(dest)
        result.content_id = fhash
        return Placed(reading, result, dest, None, fhash, None, {dest.parent})

    # -- step 4: one transaction for a group ----------------------------------------------------
    def commit(self, group: list[Placed],
               bookkeeping: Callable[[Any, list[Placed]], None] | None = None) -> list[Placed]:
        """Record every placed file of `group` in one catalog transaction, after one fsync of
        each folder they were placed in. `bookkeeping(session, group)` adds its own writes
        (the daemon's job states) to the same transaction. Returns the group; a file whose
        record fails on its own (not a lost catalog) is retried alone and, if it fails
        again, becomes a FAILED result, its copy left for the next run to find."""
        if not group:
            return group
        try:
            for folder in set().union(*(p.folders for p in group)):
                fileops.fsync_dir(folder)
            if self.catalog is not None:
                try:
                    with self.catalog.session() as s:
                        self._record_group(s, group)
                        if bookkeeping is not None:
                            bookkeeping(s, group)
                except Exception as exc:
                    if _is_disconnect(exc) or len(group) == 1:
                        raise
                    for p in group:         # find the one that cannot be recorded; keep the rest
                        try:
                            self.commit([p], bookkeeping)
                        except Exception as one:
                            if _is_disconnect(one):
                                raise
                            p.result = Result(p.result.path, FAILED, reason=f"catalog: {one}")
                    return group
            for _ in group:
                checkpoint("organize: recorded")
        finally:
            if self.link is not None:
                self.link.release([p.locked for p in group if p.locked is not None])
            for p in group:
                p.locked = None
        return group

    def _record_group(self, s: Any, group: list[Placed]) -> None:
        """The group's catalog writes: its new files with one multi-row statement per table
        (daemon/catalog/group_record.py), duplicates and quarantines (rare) file by file."""
        new: list[group_record.NewFile] = []
        for p in group:
            if p.status == ORGANIZED:
                rec = p.reading.outcome
                assert isinstance(rec, AssetRecord)
                new.append(group_record.NewFile(rec, str(p.dest), str(p.reading.path),
                                                p.reading.size, p.reading.mtime_ns))
            else:
                self._record(s, p)
        group_record.record_new_files(s, new)

    def _record(self, s: Any, p: Placed) -> None:
        src = p.reading.path
        size, mtime_ns = p.reading.size, p.reading.mtime_ns
        if p.status == DUPLICATE:
            assert p.asset_id is not None       # a duplicate is placed with the asset it duplicates
            rec = p.reading.outcome
            if isinstance(rec, AssetRecord):
                store.record_reading(s, p.asset_id, rec)
            store.add_location(s, p.asset_id, str(src), p.file_hash, "source", size=size, mtime_ns=mtime_ns)
            store.append_event(s, "duplicate", p.asset_id, str(src), {"of": str(p.dest)})
        elif p.status == QUARANTINED:
            rej = p.reading.outcome
            assert isinstance(rej, Rejected)
            asset_id = store.record_quarantined(s, p.file_hash, rej.size or size, rej.format,
                                                rej.media, p.reading.project, rej.reason)
            store.add_location(s, asset_id, str(p.dest), p.file_hash, "quarantine")
            store.add_location(s, asset_id, str(src), p.file_hash, "quarantine-source",
                               size=size, mtime_ns=mtime_ns)
            store.append_event(s, "quarantined", asset_id, str(p.dest),
                               {"source": str(src), "reason": rej.reason})

    # -- step 5: after the commit ------------------------------------------------------------------
    def finish(self, p: Placed) -> Result:
        """Move mode: remove the source, now that its copy is recorded. Returns the file's Result."""
        if self.mode == "move" and p.status != FAILED and p.dest is not None:
            try:
                self._finish_move(p.reading.path, p.dest, p.file_hash, p.reading.identity)
            except fileops.SourceReplaced as exc:
                return _kept(p.result, exc)
            except OSError as exc:
                return failure(p.reading.path, exc)
        return p.result

    # -- idempotence --------------------------------------------------------------------
    def _unchanged(self, path: Path, fd: int) -> Result | None:
        """A source already filed with the same bytes: nothing to do (move mode: finish the move).
        `fd` is the source's open descriptor: the file looked at is the one that was opened."""
        if self.link is None:
            return None
        loc = self.link.source_state(str(path))
        if loc is None or loc.role not in ("source", "quarantine-source") or not loc.present:
            return None
        st = os.fstat(fd)
        if (loc.size, loc.mtime_ns) != (st.st_size, st.st_mtime_ns):
            return None  # rewritten since: read it again
        if loc.filed_path is None or not Path(loc.filed_path).is_file():
            return None  # the filed copy is gone: file it again
        result = Result(str(path), UNCHANGED, dest=loc.filed_path, content_id=loc.content_id,
                        tool=loc.tool, ai=loc.ai, project=loc.project_name,
                        reason="already quarantined" if loc.role == "quarantine-source" else "already filed")
        if self.mode == "move" and not self.dry_run:
            # Size and mtime say "the same" but only the bytes prove it before a removal.
            if file_hash(_through(fd, path)) != loc.file_hash:
                return None
            try:
                self._finish_move(path, Path(loc.filed_path), loc.file_hash, fileops.identity_of(st))
            except fileops.SourceReplaced as exc:
                return _kept(result, exc)
        return result

    def _finish_move(self, src: Path, kept: Path, expected_hash: str, expect: fileops.Identity) -> None:
        """Remove the source if its name still holds the file that was read (`expect`), else
        fileops.SourceReplaced: the newcomer stays in the inbox."""
        if fileops.remove_source(src, kept, expected_hash, expect=expect) and self.catalog is not None:
            checkpoint("move: source removed, catalog not yet told")
            with self.catalog.session() as s:
                store.mark_location_gone(s, str(src))


def _through(fd: int | None, path: Path) -> Path:
    """The name to read the file behind `fd` by (its /proc name), `path` when there is none."""
    via = fd_path(fd) if fd is not None else None
    return via if via is not None else path


def _kept(result: Result, exc: fileops.SourceReplaced) -> Result:
    """The Result of a file filed but, in move mode, not removed: another file has its name.
    `requeue` asks the daemon to queue the name again, for the newcomer."""
    result.reason = f"{result.reason + '; ' if result.reason else ''}not removed from the inbox: {exc.strerror}"
    result.extra["requeue"] = True
    return result


class StillWriting(OSError):
    """The file is still being written: not filed now, taken again once it settles."""


def _cut_short(reason: str) -> bool:
    text = reason.lower()
    return "truncat" in text or "ends before" in text or "ends early" in text or "ends inside" in text \
        or "ends at byte" in text or "runs past the end" in text


def _is_disconnect(exc: BaseException) -> bool:
    from alice.daemon.catalog.engine import is_disconnect
    from alice.daemon.catalog.errors import CatalogUnavailable

    return isinstance(exc, CatalogUnavailable) or is_disconnect(exc)


def _reason_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".reason.txt")


def _reason_is_ours(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(8) == b"source: "
    except OSError:
        return False


def _quarantine_taken(dest: Path, fhash: str) -> bool:
    """Whether the quarantine name, or its reason file's name, holds something else (never replaced)."""
    if reserve.occupied(dest, fhash) not in (None, fhash):
        return True
    reason = _reason_path(dest)
    return os.path.lexists(reason) and not _reason_is_ours(reason)


def failure(path: Path, exc: OSError) -> Result:
    """A Result for file system trouble; the source stays where it is for the next run."""
    if isinstance(exc, FileNotFoundError) and Path(exc.filename or "") == path:
        reason = "the file disappeared before it could be filed"
    elif isinstance(exc, PermissionError):
        reason = f"permission denied: {exc.filename or path} (check the owner and mode)"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = (f"no space left on the disk writing {exc.filename or path} (free space or raise the quota; "
                  f"{path} stays in the inbox and is retried)")
    else:
        reason = str(exc) or exc.__class__.__name__
    return Result(str(path), FAILED, reason=reason)


def startup_sweep(cfg: Config, catalog: Catalog | None) -> list[Path]:
    """Undo what an interrupted run left half-said: temp files (tree, inboxes, staging), and
    catalog locations whose file is gone (a source removed just before the
    crash that would have recorded it). Returns the temp files removed."""
    removed = fileops.sweep_all_temp(cfg.organized, cfg.inboxes, cfg.data_dir / "generations")
    if catalog is not None:
        with catalog.session() as s:
            for path in store.present_paths(s):
                if not os.path.lexists(unescape_path(path)):
                    store.mark_location_gone(s, path)
    return removed
