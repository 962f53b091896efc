"""The second stage: pixels of files already filed and searchable.

Filing records a PNG or JPEG without decoding it (pipeline/importer.py says
why) and flags its asset `pixels_pending`. This stage takes flagged assets,
decodes each filed copy once in a worker process (pipeline/pixels.py: the
perceptual hash, the technical quality when quality is on, and the
pixel-level check, within the analysis budgets), runs the paid quality stages
when configured, then writes the facts into the sidecar and, for a whole
group, into the catalog in one transaction that clears the flag.

Worker processes, not threads: a decode is CPU-bound, and a hostile file that
gets past the budgets takes down a worker, not the daemon. A crash loses
nothing: the flag is cleared only with the facts, so the next run takes the
asset again. Two daemons may both decode one asset; the second write is the
same as the first.

A decode that fails here (a PNG with valid CRCs around a broken zlib stream,
say) does not move the filed file: it is recorded as a warning on the asset
and in its sidecar, and the asset keeps no perceptual hash or quality.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import text

from alice.daemon.catalog import similar
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.store import clean_json
from alice.daemon.fs import fileops
from alice.pipeline import sidecar
from alice.pipeline.importer import MAX_IN_MEMORY
from alice.pipeline.pixels import DEFAULT_BUDGET, Budget, PixelFacts, decode_facts

if TYPE_CHECKING:
    from alice.daemon.quality.assess import Rescorer
    from alice.pipeline.quality.config import QualityConfig

log = structlog.get_logger("alice.pixels")


@dataclass(frozen=True)
class PixelJob:
    asset_id: int
    path: str           # the filed copy
    format: str
    media: str


def pending(catalog: Catalog, limit: int, exclude: set[int] | frozenset[int] = frozenset()) -> list[PixelJob]:
    """Flagged assets with a filed copy present, oldest first, not those in `exclude` (in flight)."""
    with catalog.session() as s:
        rows = s.execute(text("""
            SELECT DISTINCT ON (a.id) a.id, l.path, a.format, a.media
            FROM assets a JOIN locations l ON l.asset_id = a.id AND l.role = 'organized' AND l.present
            WHERE a.pixels_pending AND NOT (a.id = ANY(CAST(:ex AS bigint[])))
            ORDER BY a.id, l.id LIMIT :n
        """), {"ex": sorted(exclude), "n": limit}).all()
    return [PixelJob(r.id, r.path, r.format, r.media) for r in rows]


def ready() -> int:
    """A worker's first task (runner._new_pool): unpickling it imports this module and the
    decoders, so a worker is ready before the first file needs it. Returns its pid."""
    return os.getpid()


def work(job: PixelJob, quality: Any, budget: Budget = DEFAULT_BUDGET) -> PixelFacts:
    """In a worker process: the facts for one filed file (reads it once)."""
    path = Path(job.path)
    if job.media == "image" or job.format in ("gif", "webp"):
        size = path.stat().st_size
        if size > MAX_IN_MEMORY:
            return PixelFacts(warnings=[f"pixels: skipped: the file is {size / 2**20:.0f} MB, over the "
                                        f"{MAX_IN_MEMORY / 2**20:.0f} MB an analysis may hold"])
        return decode_facts(path.read_bytes(), quality=quality, budget=budget)
    facts = PixelFacts()
    if quality is not None and job.media == "video":
        from alice.pipeline.quality.cascade import stars_for
        from alice.pipeline.quality.technical import AssessmentError, assess_video

        try:
            result = assess_video(path, quality)
            facts.quality = {"score": result.score, "technical": result.to_dict()}
            facts.stars = stars_for(result.score, quality.star_thresholds)
        except AssessmentError as exc:
            facts.warnings.append(f"quality: {exc}")
    return facts


def _warnings(facts: PixelFacts) -> list[str]:
    return list(facts.warnings) + ([f"pixels: {facts.damage}"] if facts.damage else [])


def _rescored(job: PixelJob, facts: PixelFacts, rescore: Callable[[Any], None] | None) -> Any:
    """The sidecar's record with the facts in (and the paid stages run), or None without a readable sidecar."""
    side = sidecar.sidecar_path(Path(job.path))
    try:
        rec = sidecar.load(side.read_text(encoding="utf-8"))
    except (OSError, sidecar.SidecarError, UnicodeDecodeError) as exc:
        log.warning("sidecar unreadable; catalog updated only", path=str(side), error=str(exc))
        return None
    rec.perceptual_hash = facts.perceptual_hash
    if facts.quality is not None:
        rec.quality = facts.quality
        rec.stars = facts.stars
    rec.warnings.extend(w for w in _warnings(facts) if w not in rec.warnings)
    if rescore is not None and facts.quality is not None:
        # The paid stages read the filed copy: in move mode the source is gone.
        probe = dataclasses.replace(rec, source_path=job.path)
        rescore(probe)
        rec.quality, rec.stars, rec.warnings = probe.quality, probe.stars, probe.warnings
    return rec


def record(catalog: Catalog, done: list[tuple[PixelJob, PixelFacts]],
           rescore: Callable[[Any], None] | None = None) -> None:
    """Sidecars first (each atomic), then every asset of the group in one transaction."""
    updates: list[tuple[PixelJob, PixelFacts, Any]] = []
    folders: set[Path] = set()
    for job, facts in done:
        rec = _rescored(job, facts, rescore)
        if rec is not None:
            side = sidecar.sidecar_path(Path(job.path))
            try:
                fileops.write_text_atomic(side, sidecar.dump(rec), sync_dir=False)
                folders.add(side.parent)
            except OSError as exc:
                log.warning("could not update the sidecar", path=str(side), error=str(exc))
        updates.append((job, facts, rec))
    for folder in folders:
        fileops.fsync_dir(folder)
    rows = []
    for job, facts, rec in updates:
        quality = rec.quality if rec is not None else facts.quality
        stars = rec.stars if rec is not None else facts.stars
        phash = None if facts.perceptual_hash is None else similar.to_signed64(facts.perceptual_hash)
        score = quality.get("score") if isinstance(quality, dict) else None
        rows.append({"id": job.asset_id, "phash": phash, "bands": None if phash is None else similar.bands(phash),
                     "warnings": clean_json(_warnings(facts)), "has_quality": quality is not None,
                     "quality": clean_json(quality), "stars": stars if stars in (1, 2, 3, 4, 5) else None,
                     "score": float(score) if isinstance(score, (int, float)) and math.isfinite(score) else None})
    # One statement for the group: the facts of each asset as a row of a JSON recordset.
    with catalog.session() as s:
        s.execute(_RECORD, {"rows": json.dumps(rows)})


_RECORD = text("""
    UPDATE assets a SET
        phash = r.phash,
        phash_bands = CASE WHEN r.phash IS NULL THEN NULL
                           ELSE ARRAY(SELECT jsonb_array_elements_text(r.bands)::int) END,
        pixels_pending = false,
        warnings = a.warnings || r.warnings,
        quality = CASE WHEN r.has_quality THEN r.quality ELSE a.quality END,
        stars = CASE WHEN r.has_quality THEN r.stars ELSE a.stars END,
        quality_score = CASE WHEN r.has_quality THEN r.score ELSE a.quality_score END
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(id bigint, phash bigint, bands jsonb, warnings jsonb, has_quality boolean, quality jsonb,
              stars int, score double precision)
    WHERE a.id = r.id
""")


class PixelStage:
    """Keeps up to `slots` pixel jobs in an executor (the daemon's worker processes) and
    records what they finish in groups."""

    def __init__(self, catalog: Catalog, quality: QualityConfig | None, rescore: Rescorer | None = None,
                 budget: Budget = DEFAULT_BUDGET) -> None:
        self.catalog = catalog
        self.quality = quality
        self.rescore = rescore
        self.budget = budget
        self.running: dict[int, tuple[PixelJob, Future]] = {}
        self.done_count = 0

    def pump(self, pool: Executor, slots: int, on_done: Callable[[], None] | None = None, *,
             batch: int = 1) -> int:
        """Start pending jobs until `slots` are in flight, once at least `batch` slots are free
        (one catalog query for several jobs); returns how many started."""
        room = slots - len(self.running)
        if room <= 0 or room < min(batch, slots):
            return 0
        jobs = pending(self.catalog, room, set(self.running))
        for job in jobs:
            fut = pool.submit(work, job, self.quality, self.budget)
            if on_done is not None:
                fut.add_done_callback(lambda _f: on_done())
            self.running[job.asset_id] = (job, fut)
        return len(jobs)

    def collect(self, batch: int = 1) -> int:
        """Record every finished job in one group, once they are at least `batch` or nothing
        else runs (a transaction and its WAL flush for several images); returns how many."""
        done = [asset_id for asset_id, (_, fut) in self.running.items() if fut.done()]
        if not done or (len(done) < batch and len(done) < len(self.running)):
            return 0
        finished: list[tuple[PixelJob, PixelFacts]] = []
        for asset_id in done:
            job, fut = self.running.pop(asset_id)
            try:
                facts = fut.result()
            except FileNotFoundError:
                facts = PixelFacts(warnings=["pixels: the filed copy was gone when its pixels were read"])
            except Exception as exc:   # a dead worker (out of memory?) or a decoder bug: never loop on it
                facts = PixelFacts(warnings=[f"pixels: skipped: the decode failed ({type(exc).__name__}: {exc})"])
            finished.append((job, facts))
        if finished:
            record(self.catalog, finished, self.rescore)
            self.done_count += len(finished)
        return len(finished)

    def run_all(self, pool: Executor, slots: int, batch: int = 1) -> int:
        """Until nothing is pending (alice organize): returns how many were recorded. Jobs
        are taken and recorded `batch` at a time, as the daemon does (runner.pump_pixels)."""
        from concurrent.futures import FIRST_COMPLETED, wait

        while True:
            self.pump(pool, slots, batch=batch)
            if not self.running:
                return self.done_count
            # Only the running ones: a finished job waiting for its batch must not end the wait.
            running = [f for _, f in self.running.values() if not f.done()]
            if running:
                wait(running, return_when=FIRST_COMPLETED)
            self.collect(batch)
