"""Filing one analysed file: copy, sidecar, catalog, then (move mode) the source.

The order is what makes a crash harmless. For a new file:

  1. place a verified copy at the planned destination (fileops.place_copy)
  2. write its sidecar beside it
  3. record asset, locations and event in one catalog transaction
  4. in move mode only, remove the source after re-verifying the copy

A crash before 3 leaves the source plus possibly a finished copy; the re-run
plans the same destination, finds the same bytes there and does not copy
again. A crash between 3 and 4 leaves the source recorded as filed; the re-run
sees that and removes it. Nothing is ever overwritten or deleted unverified.
"""
from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alice.daemon.catalog import curation, lineage, similar, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.config import Config
from alice.daemon.fs import fileops, reserve
from alice.daemon.fs.confine import OutsideRoots, confine
from alice.daemon.fs.crashpoints import checkpoint
from alice.daemon.fs.names import escape, safe_name, unescape_path
from alice.daemon.fs.source import SourceRefused, open_source
from alice.daemon.ingest import graph_inputs
from alice.daemon.ingest.claims import MEDIA, claimed_media
from alice.daemon.ingest.ignore import default_ignore
from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash
from alice.pipeline.importer import Rejected, analyze
from alice.pipeline.plan import Layout, free_path, plan_destination, project_for, sanitize_segment
from alice.pipeline.record import AssetRecord

if TYPE_CHECKING:
    from alice.daemon.quality.assess import Rescorer
    from alice.pipeline.quality.config import QualityConfig

# Outcomes, as they appear in `alice organize --json` and in events.
ORGANIZED = "organized"
DUPLICATE = "duplicate"
UNCHANGED = "unchanged"
QUARANTINED = "quarantined"
FAILED = "failed"
PLANNED = "planned"          # --dry-run
REFUSED = "refused"          # outside the inboxes, a symbolic link, not a regular file
NOT_MEDIA = "not-media"      # no image, video or audio: left where it is


@dataclass
class Result:
    path: str
    status: str
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
        out.update(self.extra)
        return out


@dataclass
class Source:
    path: Path
    inbox: Path


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
                 rescore: Rescorer | None = None):
        self.cfg = cfg
        self.catalog = catalog
        self.mode = mode or cfg.mode
        self.dry_run = dry_run
        self.layout = Layout(cfg.layout)
        self.quality = quality
        # Paid quality stages (quality/assess.record_rescorer), run on each record before it is filed.
        self.rescore = rescore
        # A dry run changes nothing, so it remembers what it would have done: a later file
        # with the same bytes is then the duplicate it will be, and a later file planned
        # for a name already promised gets the suffix it will get.
        self._promised: dict[Path, str] = {}                     # planned dest -> file hash
        self._promised_copy: dict[tuple[str, str, str], Path] = {}  # (content id, file hash, project) -> dest

    # -- the whole file ---------------------------------------------------------------
    def organize(self, src: Source) -> Result:
        """Check, analyse and file one source. The daemon runs the same three steps,
        with `analyze` in a worker process."""
        t0 = time.perf_counter()
        project = self.project_of(src)
        try:
            os.close(open_source(src.path))     # a link or a FIFO swapped in since the walk is refused
            result = self.quick_check(src.path)
            if result is None:
                result = self.apply(analyze(src.path, project, self.quality), project)
        except SourceRefused as exc:
            result = Result(os.fsdecode(src.path), REFUSED, project=project, reason=exc.reason)
        except OSError as exc:
            result = failure(src.path, exc)
        result.elapsed_ms = round((time.perf_counter() - t0) * 1000, 2)
        return result

    def project_of(self, src: Source) -> str:
        return sanitize_segment(project_for(src.path, src.inbox, self.cfg.default_project))

    def quick_check(self, path: Path) -> Result | None:
        """The answer for a source that needs no reading (already filed), else None."""
        return self._unchanged(path)

    def apply(self, reading: AssetRecord | Rejected, project: str) -> Result:
        """The effects for one analysed source. Raises OSError for file system trouble."""
        if isinstance(reading, Rejected):
            return self._quarantine(reading, project)
        if reading.media not in MEDIA:
            return self._not_media(reading, project)
        return self._file(reading)

    def _not_media(self, rec: AssetRecord, project: str) -> Result:
        """Only media are assets. A file that says it is media and is not is quarantined; any
        other file (a note, an archive) stays where it is, reported but never filed."""
        src = Path(rec.source_path)
        what = rec.format if rec.format not in ("", "unknown") else "unrecognised bytes"
        claim = claimed_media(src.name)
        if claim is not None:
            return self._quarantine(Rejected(src, f"named as {claim} ({src.suffix}) but its bytes are {what}, "
                                             f"not {claim}", rec.format, rec.media, rec.size), project)
        return Result(str(src), NOT_MEDIA, content_id=rec.content_id, project=project,
                      reason=f"not an image or video ({what}); left where it is")

    # -- idempotence --------------------------------------------------------------------
    def _unchanged(self, path: Path) -> Result | None:
        """A source already filed with the same bytes: nothing to do (move mode: finish the move)."""
        if self.catalog is None:
            return None
        with self.catalog.session() as s:
            loc = store.location_of(s, str(path))
            if loc is None or loc.role not in ("source", "quarantine-source") or not loc.present:
                return None
            st = path.stat()
            if (loc.size, loc.mtime_ns) != (st.st_size, st.st_mtime_ns):
                return None  # rewritten since: read it again
            filed = store.filed_copy(s, loc.asset_id)
            asset = store.asset_by_id(s, loc.asset_id)
        if filed is None or not Path(filed.path).is_file():
            return None  # the filed copy is gone: file it again
        result = Result(str(path), UNCHANGED, dest=filed.path, content_id=asset.content_id,
                        tool=asset.tool, ai=asset.ai, project=asset.project_name,
                        reason="already quarantined" if loc.role == "quarantine-source" else "already filed")
        if self.mode == "move" and not self.dry_run:
            self._finish_move(path, Path(filed.path), loc.file_hash)
        return result

    # -- new content or a duplicate ----------------------------------------------------------
    def _file(self, rec: AssetRecord) -> Result:
        if self.catalog is None or self.dry_run:
            return self._file_locked(rec)
        if self.rescore is not None:
            self.rescore(rec)       # network calls: before taking the content lock, not under it
        with store.content_lock(self.catalog.engine, rec.content_id):
            return self._file_locked(rec)

    def _file_locked(self, rec: AssetRecord) -> Result:
        src = Path(rec.source_path)
        base = Result(str(src), ORGANIZED, content_id=rec.content_id, tool=rec.tool, ai=rec.ai,
                      project=rec.project)
        if self.catalog is not None:
            # Same pixels AND same bytes: a duplicate, recorded as another location.
            # Same pixels with other metadata is filed too: its bytes say something
            # the first copy does not (another tool's record, added keywords).
            # A file's project is where the user put it: the same bytes dropped into another
            # project's folder are filed there too (the asset joins that project), not
            # waved off as a duplicate of the copy filed under the first project.
            with self.catalog.session() as s:
                existing = store.asset_by_content_id(s, rec.content_id)
                filed = store.filed_copy_with_hash(s, existing.id, rec.file_hash) if existing else None
                member = existing is not None and rec.project in store.projects_of(s, existing.id)
                if existing is not None:     # another copy's sidecar carries what a person gave the asset
                    rec.tags = curation.tags_of(s, existing.id)
                    rec.user_stars = existing.user_stars
            if filed is not None and Path(filed.path).is_file() and Path(filed.path) != src and member:
                return self._duplicate(rec, existing.id, Path(filed.path), base)

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
            dest = self._copy(rec, src, dest)
            base.dest = str(dest)
        rec.organized_path = str(dest)
        rec.organized_at = datetime.now().astimezone()
        self._add_graph_inputs(rec)
        reserve.write_sidecar(dest, sidecar.dump(rec), rec.file_hash)
        checkpoint("organize: copy and sidecar in place, not yet recorded")
        if self.catalog is not None:
            st = src.stat()
            with self.catalog.session() as s:
                asset_id, created = store.record_asset(s, rec, refresh=False)
                store.add_location(s, asset_id, str(dest), rec.file_hash, "organized", refresh=False)
                store.add_location(s, asset_id, str(src), rec.file_hash, "source",
                                   size=st.st_size, mtime_ns=st.st_mtime_ns, refresh=False)
                lineage.record_parents(s, asset_id, rec.parents)
                store.refresh_search(s, asset_id)
                if created and rec.perceptual_hash is not None:
                    similar.set_perceptual_hash(s, asset_id, rec.perceptual_hash)
                store.append_event(s, "organized", asset_id, str(dest),
                                   {"source": str(src), "tool": rec.tool, "project": rec.project})
            checkpoint("organize: recorded")
        if self.mode == "move":
            self._finish_move(src, dest, rec.file_hash)
        return base

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

    def _copy(self, rec: AssetRecord, src: Path, dest: Path) -> Path:
        for _ in range(20):
            try:
                return fileops.place_copy(src, dest, rec.file_hash)
            except FileExistsError:
                # Someone (another alice, the user) took the name since we planned it: plan again.
                dest = self._plan(rec, src)
                if os.path.lexists(dest):
                    return dest  # same bytes are already there (plan checked)
        raise fileops.PlacementError(f"could not find a free name for {src.name} in {dest.parent}")

    def _duplicate(self, rec: AssetRecord, asset_id: int, filed: Path, base: Result) -> Result:
        base.status = DUPLICATE
        base.dest = str(filed)
        base.reason = f"same content as {filed}"
        if self.dry_run:
            return base
        src = Path(rec.source_path)
        st = src.stat()
        with self.catalog.session() as s:  # type: ignore[union-attr]
            store.record_reading(s, asset_id, rec)
            store.add_location(s, asset_id, str(src), rec.file_hash, "source",
                               size=st.st_size, mtime_ns=st.st_mtime_ns)
            store.append_event(s, "duplicate", asset_id, str(src), {"of": str(filed)})
        if self.mode == "move":
            self._finish_move(src, filed, rec.file_hash)   # re-verifies the filed bytes first
        return base

    def _finish_move(self, src: Path, kept: Path, expected_hash: str) -> None:
        if fileops.remove_source(src, kept, expected_hash) and self.catalog is not None:
            checkpoint("move: source removed, catalog not yet told")
            with self.catalog.session() as s:
                store.mark_location_gone(s, str(src))

    # -- quarantine ---------------------------------------------------------------------
    def _quarantine(self, rej: Rejected, project: str) -> Result:
        src = rej.path
        result = Result(str(src), QUARANTINED, project=project, reason=rej.reason)
        if self.dry_run:
            return result
        fhash = file_hash(src)
        dest = free_path(self.cfg.quarantine, sanitize_segment(safe_name(src.name)), fhash[3:9], fhash,
                         lambda p: reserve.TAKEN if _quarantine_taken(p, fhash) else None)
        if not os.path.lexists(dest):
            fileops.place_copy(src, dest, fhash)
        reason = (f"source: {src}\nreason: {rej.reason}\nformat: {rej.format}\n"
                  f"quarantined_at: {datetime.now().astimezone().isoformat()}\n"
                  "what to do: fix or re-export the file and drop it into the inbox again; "
                  "delete this copy when you no longer need it.\n")
        fileops.write_text_atomic(_reason_path(dest), reason, may_replace=_reason_is_ours)
        result.dest = str(dest)
        result.content_id = fhash
        if self.catalog is not None:
            st = src.stat()
            with self.catalog.session() as s:
                asset_id = store.record_quarantined(s, fhash, rej.size or st.st_size, rej.format,
                                                    rej.media, project, rej.reason)
                store.add_location(s, asset_id, str(dest), fhash, "quarantine")
                store.add_location(s, asset_id, str(src), fhash, "quarantine-source",
                                   size=st.st_size, mtime_ns=st.st_mtime_ns)
                store.append_event(s, "quarantined", asset_id, str(dest),
                                   {"source": str(src), "reason": rej.reason})
        if self.mode == "move":
            self._finish_move(src, dest, fhash)
        return result


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
