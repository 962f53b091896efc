"""`alice run`: the long-running service.

    watcher --(path)--> jobs table --(claim, lease)--> filing line (threads): read once,
                                                        analyse, copy, sidecar
                                                        |
        catalog <-- one transaction per group, jobs included (copy mode)
           |
           +--> pixel stage (worker processes): perceptual hash, quality, into catalog and sidecar

The watcher thread only enqueues (three statements for a burst of files); the
main thread claims jobs and hands them to the filing line (daemon/ingest/line.py,
the same steps `alice organize` runs), has what the line has placed committed in
groups, one at a time, by the committer thread, so the order that makes a crash
harmless (daemon/ingest/filing.py) holds here too, and keeps the worker processes
busy with the pixel stage (daemon/ingest/pixel_stage.py).
Leases are renewed while a job is in flight; a daemon that dies simply stops
renewing and another takes over.

When the catalog is unreachable the loop pauses with backoff and resumes by
itself; files that arrive meanwhile are still in the inbox, and the
reconciliation scan that follows the outage queues them.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.config import Config
from alice.daemon.fs import fileops
from alice.daemon.fs.confine import OutsideRoots, confine
from alice.daemon.fs.names import escape, unescape_path
from alice.daemon.fs.source import SourceRefused, check_node, identity
from alice.daemon.ingest import filers, pixel_stage, queue
from alice.daemon.ingest.filing import (
    FAILED,
    REFUSED,
    Organizer,
    Placed,
    Refusal,
    Result,
    Source,
    Status,
    failure,
    inbox_files,
    startup_sweep,
)
from alice.daemon.ingest.line import FILING_THREADS, FilingLine
from alice.daemon.ingest.pixel_stage import PixelStage
from alice.daemon.ops import lineage, presence, systemd
from alice.daemon.ops.logs import bind_job

if TYPE_CHECKING:
    from alice.daemon.generation.generator import Generator
    from alice.daemon.ops.metrics import DaemonMetrics
    from alice.daemon.quality.assess import Rescorer
    from alice.pipeline.quality.config import QualityConfig

log = structlog.get_logger("alice.run")


@dataclass
class InFlight:
    job: queue.Job
    source: Source
    started: float


# Jobs held at once: in the line, or placed and waiting for their group's commit. A
# placed file holds only its content lock, on the filer's link (catalog/filing_link.py).
# Room for a group being committed (a commit takes 40-90 ms in a burst) and the next one growing.
MAX_INFLIGHT = FILING_THREADS * 10
# While other files are being filed, placed files wait until they are MIN_GROUP, or the
# first of them GROUP_WAIT_S old, before the committer takes them. A burst is CPU-bound,
# and recording cost ~1.9 ms of CPU per file in the groups of ~4 that committing whatever
# was placed gave, ~1.3 ms in groups of ~7. With 40 ms and 24 jobs held, a burst's groups
# were 3-9 files; with 100 ms and 40 held, alice used ~6% less CPU per file over eight
# interleaved bursts (9.8 ms against 10.4). A file filed alone is committed at once.
MIN_GROUP = 8
GROUP_WAIT_S = 0.1
CLAIM_POLL_S = 1.0      # how stale the loop's "the queue is empty" may get


class Daemon:
    def __init__(self, cfg: Config, catalog: Catalog, *, quality: QualityConfig | None = None,
                 metrics: DaemonMetrics | None = None, worker: str | None = None,
                 rescore: Rescorer | None = None, generator: Generator | None = None,
                 parent: filers.Link | None = None):
        self.cfg = cfg
        # A filing process's pipes to its daemon (ingest/filers.py): it files and reports, and
        # leaves watching, the socket and the pixel stage to the daemon.
        self.parent = parent
        self.filers: filers.Filers | None = None
        self.filers_lost: deque[int] = deque()  # pids of filing processes that died: take over their jobs
        self.told_busy = False
        self.catalog = catalog
        self.quality = quality
        self.metrics = metrics
        self.generator = generator
        self.worker = worker or queue.worker_name()
        self.organizer = Organizer(cfg, catalog, quality=quality, rescore=rescore, pixels_now=False,
                                   fresh_s=max(cfg.watch.settle_seconds, 1.0))
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.maybe_queued = threading.Event()   # jobs may be queued that this daemon has not claimed
        self.next_claim_poll = 0.0
        self.next_sweep = 0.0           # when a claim also fails the jobs whose leases ran out too often
        self.rescan_needed = threading.Event()
        self.inflight: dict[int, InFlight] = {}
        self.max_inflight = MAX_INFLIGHT
        self.line = FilingLine(self.organizer, FILING_THREADS)
        self.uncommitted: list[tuple[int, Placed]] = []   # placed, not yet handed to the committer
        self.uncommitted_since = 0.0                      # when the first of them was placed
        # One group at a time, in its own thread, so the loop claims and begins while a group commits.
        self.committer = ThreadPoolExecutor(1, thread_name_prefix="alice-commit")
        self.committing: tuple[list[tuple[int, Placed]], Future] | None = None
        self.pixels = PixelStage(catalog, quality, rescore) if parent is None else None
        # Pixel jobs are taken and recorded a worker's worth at a time: a catalog query and a
        # transaction per image cost the catalog's server ~2 ms of CPU per image.
        self.pixel_batch = cfg.worker_count
        self.last_errors: deque[dict[str, Any]] = deque(maxlen=20)
        self.catalog_ok = True
        self.processed = 0
        self.started_at = time.time()
        self.pool: ProcessPoolExecutor | None = None
        self.watcher: Any = None
        self.rpc: Any = None
        self.last_turn = time.monotonic()
        self.stop_signal: int | None = None
        self.serving = False

    # -- watcher side (runs on the watcher's thread) -----------------------------------------
    def on_ready(self, path: Path, inbox: Path) -> None:
        self.on_ready_many([(path, inbox)])

    def on_ready_many(self, files: list[tuple[Path, Path]]) -> None:
        """Queue the files the watcher found ready in one turn, in one transaction: a burst
        costs three statements and one commit, not three and a commit per file."""
        arrivals: list[queue.Arrival] = []
        for path, inbox in files:
            try:
                st = check_node(path)       # lstat: a link or a FIFO is never queued
            except SourceRefused as exc:
                log.warning("refused", path=os.fsdecode(path), reason=exc.reason)
                continue
            except OSError:
                continue
            arrivals.append(queue.Arrival(str(path), str(inbox), st.st_size, st.st_mtime, identity(st)))
        try:
            self._enqueue(arrivals)
            self.maybe_queued.set()
            if self.filers is not None and arrivals:
                self.filers.poke()
        except Exception as exc:
            if not _is_unavailable(exc):
                # A value the catalog refuses rolled the whole burst back: queue the files
                # one by one, so only the file at fault stays out.
                for one in arrivals:
                    self._enqueue_alone(one)
            else:
                self._catalog_down(arrivals, exc)
        self.wake.set()

    def _enqueue(self, arrivals: list[queue.Arrival]) -> None:
        if arrivals:
            with self.catalog.session() as s:
                queue.enqueue_many(s, arrivals, self.cfg.queue.max_attempts)

    def _enqueue_alone(self, arrival: queue.Arrival) -> None:
        try:
            self._enqueue([arrival])
            self.maybe_queued.set()
        except Exception as exc:
            if _is_unavailable(exc):
                self._catalog_down([arrival], exc)
                return
            # This one file's trouble: say so, and do not rescan every inbox for it,
            # which would fail the same way forever.
            log.error("could not queue this file", path=escape(arrival.path), error=repr(exc))

    def _catalog_down(self, arrivals: list[queue.Arrival], exc: BaseException) -> None:
        # The files stay in the inbox; rescan once the catalog is back.
        self.rescan_needed.set()
        log.warning("enqueue failed; will rescan when the catalog is back",
                    path=escape(arrivals[0].path) if len(arrivals) == 1 else None, files=len(arrivals),
                    error=str(exc))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        from alice.daemon.ingest.watcher import InboxWatcher

        removed = startup_sweep(self.cfg, self.catalog)
        if removed:
            log.info("removed temp files left by an interrupted run", count=len(removed))
        taken = queue.take_over_dead(self.catalog.engine, lineage.owner_is_dead)
        if taken:
            log.info("took over the jobs of a dead daemon on this host", jobs=len(taken))
        self.pool = self._new_pool()
        count = filers.process_count(self.cfg)
        if count:
            self.filers = filers.Filers(self.cfg, self.catalog.engine.url.render_as_string(hide_password=False),
                                        count, on_message=self._heard, on_death=self._filer_died)
            self.filers.start()
        self.watcher = InboxWatcher(
            list(self.cfg.inboxes), self.on_ready, on_ready_many=self.on_ready_many,
            settle_s=self.cfg.watch.settle_seconds,
            rescan_s=self.cfg.watch.rescan_minutes * 60,
            force_polling=self.cfg.watch.poll,
        )
        self.watcher.start()  # starts with a reconciliation scan: files that arrived while we were down
        presence.publish(self.cfg.data_dir, self.worker, self.status())
        from alice.daemon.api.methods import Hooks
        from alice.daemon.api.server import RpcServer

        self.rpc = RpcServer(self.cfg, self.catalog,
                             Hooks(status=self.status, scan=self.scan_now, generator=self.generator))
        # False (logged) if another daemon serves the socket; this one still works the queue.
        self.serving = self.rpc.start()
        presence.publish(self.cfg.data_dir, self.worker, self.status())
        if self.generator is not None:
            # Finish generation requests other processes sent and left (`alice generate --no-wait`, a crash).
            self.generator.start_orphan_sweeps()

    def note_provider_error(self, error: str) -> None:
        log.warning("providers are misconfigured; generation is off until fixed", error=error)
        self._note_error("providers", error, logged=True)

    def scan_now(self, paths: list[str] | None) -> dict[str, Any]:
        """organize.scan over the socket: queue the files under `paths` (inside an inbox) now,
        or have the watcher offer every inbox file again."""
        if not paths:
            self.watcher.reconcile()
            return {"queued": None, "reconcile": "requested"}
        found, refused = [], []
        for src in inbox_files(self.cfg, [Path(p) for p in paths]):
            if isinstance(src, Refusal):
                log.warning("refused", path=os.fsdecode(src.path), reason=src.reason)
                refused.append({"path": os.fsdecode(src.path), "reason": src.reason})
                continue
            found.append((src.path, src.inbox))
        self.on_ready_many(found)
        return {"queued": len(found), "refused": refused}

    def _new_pool(self) -> ProcessPoolExecutor:
        """The pixel stage's worker processes, every one started now, ready to decode.

        Started on demand, they were spawned in the first idle moment of the first burst,
        and their start-up (a Python and its imports, ~0.2 s of CPU each) came out of the
        filing's CPU. Spawn, not fork: this process has threads (watcher, watchdog) and
        open sockets. Workers die with this process (PR_SET_PDEATHSIG): a SIGKILL leaves
        none behind. SIGINT is blocked on this thread while they are spawned: Ctrl-C
        signals the terminal's whole process group, and a worker that received it would
        die with a KeyboardInterrupt traceback in the middle of a file; the parent alone
        decides how to stop. The mask is inherited through fork and exec, so the workers
        never see SIGINT, and a Ctrl-C that lands meanwhile is delivered once it drops.
        The pool never spawns again: it has all its workers, and a dead one breaks the
        pool, which pump_pixels replaces with a new one from here.
        """
        pool = ProcessPoolExecutor(max_workers=self.cfg.worker_count,
                                   mp_context=multiprocessing.get_context("spawn"),
                                   initializer=lineage.die_with_parent, initargs=(os.getpid(),))
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            # One task per worker, sent before any can finish: each submit starts a process.
            for _ in range(self.cfg.worker_count):
                pool.submit(pixel_stage.ready)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        return pool

    def healthy(self) -> bool:
        return (not self.stopping.is_set() and time.monotonic() - self.last_turn < 60
                and (self.watcher is None or self.watcher.healthy()))

    def request_stop(self, signum: int | None = None, _frame: Any = None) -> None:
        if not self.stopping.is_set():
            self.stop_signal = signum
            log.info("stopping…", signal=signal.Signals(signum).name if signum else None,
                     in_flight=len(self.inflight))
        self.stopping.set()
        self.wake.set()

    def run_forever(self) -> int:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        self.start()
        systemd.ready()
        systemd.status(f"watching {len(self.cfg.inboxes)} inbox(es)")
        # Ping only while the loop turns and the watcher lives: a hung daemon must be restarted.
        dog = systemd.Watchdog(self.healthy)
        dog.start()
        log.info("alice is running", worker=self.worker, inboxes=[str(i) for i in self.cfg.inboxes],
                 catalog=self.catalog.display_url, workers=self.cfg.worker_count)
        try:
            self.loop()
        finally:
            systemd.stopping()
            self.drain()
            dog.stop()
            presence.withdraw(self.cfg.data_dir, self.worker)
        log.info("stopped", processed=self.processed)
        # Ctrl-C exits 130 like every interrupted alice command; SIGTERM (systemd) is a normal stop.
        return 130 if self.stop_signal == signal.SIGINT else 0

    def loop(self) -> None:
        last_beat = time.monotonic()
        last_metrics = 0.0
        while not self.stopping.is_set():
            self.last_turn = time.monotonic()
            try:
                self.collect()
                if self.filers is not None:
                    self._tend_filers()
                if self.pixels is not None:
                    if not self.inflight and not (self.filers is not None and self.filers.busy):
                        # Filing first: pixels wait until no file is waiting to become searchable.
                        self.pump_pixels()
                    else:
                        self.pixels.collect(self.pixel_batch)
                if self.rescan_needed.is_set():
                    self.rescan_needed.clear()
                    self._rescan()
                self.claim()
                self._tell_busy()
                if time.monotonic() - last_beat > self.cfg.queue.lease_seconds / 3:
                    self.heartbeat()
                    last_beat = time.monotonic()
                if time.monotonic() - last_metrics > 5:
                    self.publish_status()
                    last_metrics = time.monotonic()
                if not self.catalog_ok:
                    log.info("catalog reachable again; resuming")
                    self.catalog_ok = True
                    self.rescan_needed.set()
                    systemd.status(f"watching {len(self.cfg.inboxes)} inbox(es)")
            except Exception as exc:
                if not _is_unavailable(exc):
                    raise
                if self.catalog_ok:
                    log.warning("catalog unreachable; pausing work until it is back", error=str(exc))
                    self._note_error("catalog", str(exc), logged=True)
                    systemd.status("paused: catalog unreachable")
                self.catalog_ok = False
                # Backs off with jitter; restarts the embedded server if that is what died.
                try:
                    self.catalog.wait_available(timeout=30.0, should_stop=self.stopping.is_set)
                except CatalogUnavailable:
                    pass
                continue
            # A group that waits to grow is due within GROUP_WAIT_S; one that waits for the
            # committer is woken by it (_commit).
            waiting_group = self.uncommitted and self.committing is None
            self.wake.wait(self._group_due_in() if waiting_group else 0.25 if self.inflight else 2.0)
            self.wake.clear()

    # -- filing processes (ingest/filers.py) -----------------------------------------------------
    def run_filer(self) -> int:
        """A filing process's life: claim, file and record until SIGTERM or the daemon's end."""
        assert self.parent is not None
        signal.signal(signal.SIGTERM, self.request_stop)
        threading.Thread(target=self._hear_daemon, name="alice-daemon-pipe", daemon=True).start()
        self.maybe_queued.set()
        try:
            self.loop()
        finally:
            self.drain()
        return 0

    def _hear_daemon(self) -> None:
        assert self.parent is not None
        try:
            while self.parent.wait_bell():  # files were queued
                self.maybe_queued.set()
                self.wake.set()
        except OSError:
            pass
        self.request_stop()                 # the daemon is gone

    def _tell(self, *msg: Any) -> None:
        if self.parent is not None:
            try:
                self.parent.tell(*msg)
            except (OSError, ValueError):
                self.request_stop()         # the daemon is gone

    def _tell_busy(self) -> None:
        busy = bool(self.inflight)
        if self.parent is not None and busy != self.told_busy:
            self.told_busy = busy
            self._tell("busy", busy)

    def _heard(self, msg: tuple) -> None:
        """A filing process's message (on the Filers' listening thread)."""
        if msg[0] == "file":
            self._count(msg[1], msg[2], msg[3])
        elif msg[0] == "error":
            self.last_errors.append({"at": time.time(), "where": msg[1], "error": msg[2]})
        elif msg[0] == "rescan":
            self.rescan_needed.set()
        self.wake.set()

    def _filer_died(self, pid: int) -> None:
        self.filers_lost.append(pid)
        self.wake.set()

    def _tend_filers(self) -> None:
        """Take over at once the jobs of a filing process that died, and start another
        once its backoff ran out."""
        assert self.filers is not None
        if self.filers_lost:
            dead = []
            while self.filers_lost:
                dead.append(self.filers_lost.popleft())
            taken = queue.take_over_dead(self.catalog.engine, lineage.owner_is_dead)
            if taken:
                log.info("took over the jobs of a filing process that died", jobs=len(taken))
                self.maybe_queued.set()
            # What it was writing: a copy or sidecar half-written under a temp name (a copy
            # it placed is found again by whoever files the file next, never copied twice).
            threading.Thread(target=_sweep_after, args=(self.cfg.organized, dead), daemon=True).start()
        self.filers.tend()

    def _rescan(self) -> None:
        if self.watcher is not None:
            self.watcher.reconcile()
        else:
            self._tell("rescan")

    # -- jobs --------------------------------------------------------------------------------
    def claim(self) -> None:
        """Take jobs up to max_inflight, when it is worth a transaction: not for every slot a
        finished file frees while the filing threads have work (several at once), and not
        while the queue was found empty and nothing was queued since (a poll every
        CLAIM_POLL_S finds what other processes queue, backoffs that ran out, dead leases)."""
        room = self.max_inflight - len(self.inflight)
        if room <= 0 or (room < FILING_THREADS and len(self.line) >= FILING_THREADS):
            return
        now = time.monotonic()
        if not self.maybe_queued.is_set() and now < self.next_claim_poll:
            return
        self.maybe_queued.clear()       # before the claim: what is queued during it sets it again
        sweep = now >= self.next_sweep
        if sweep:
            self.next_sweep = now + CLAIM_POLL_S
        self.next_claim_poll = now + CLAIM_POLL_S
        jobs = queue.claim(self.catalog.engine, self.worker, self.cfg.queue.lease_seconds, room, sweep=sweep)
        if len(jobs) == room:
            self.maybe_queued.set()     # the queue may hold more
        for job in jobs:
            self.begin(job)

    def begin(self, job: queue.Job) -> None:
        if job.id in self.inflight:
            # Our own job, its lease lapsed while we worked on it (a slow turn): we still have it.
            return
        # A name that is not UTF-8 is stored escaped; open the real one.
        path, inbox = unescape_path(job.path), unescape_path(job.inbox)
        src = Source(path, inbox, job.identity)
        refused = self._refusal(job, path, inbox)
        if refused is not None:
            self.finish(job, refused)
            if refused.extra.get("requeue"):
                self.on_ready(path, inbox)      # another regular file took the name: a new job for it
            return
        self.inflight[job.id] = InFlight(job, src, time.perf_counter())
        self.line.submit(job.id, src, on_done=self.wake.set)

    def _refusal(self, job: queue.Job, path: Path, inbox: Path) -> Result | None:
        """The outcome for a job whose path must not be read, or None to go on.

        The job row is data anyone with catalog access can write, and the inbox is a
        folder anyone with write access can change: the path must still be inside a
        configured inbox with no link on the way, and the node there the regular file
        that was queued. Nothing here opens anything, so a FIFO or a device can neither
        block nor spin this loop; the filing thread opens the file once, and checks
        the node again through its descriptor (Organizer.prepare).
        """
        try:
            confine(path, [i for i in self.cfg.inboxes if i == inbox] or list(self.cfg.inboxes))
            check_node(path, expect=job.identity)
        except FileNotFoundError:
            return Result(job.path, Status.VANISHED, reason="the file left the inbox before it was filed")
        except OutsideRoots as exc:
            if exc.reason == "it does not exist":
                return Result(job.path, Status.VANISHED, reason="the file left the inbox before it was filed")
            log.warning("refused", path=job.path, reason=exc.reason)
            return Result(job.path, REFUSED, reason=exc.reason)
        except SourceRefused as exc:
            if exc.swapped:
                log.info("replaced since queued; queued again", path=job.path)
                return Result(job.path, REFUSED, reason=exc.reason, extra={"requeue": True})
            log.warning("refused", path=job.path, reason=exc.reason)
            return Result(job.path, REFUSED, reason=exc.reason)
        return None

    def collect(self) -> None:
        """Finish every job the filing line is done with. What it has placed is committed
        as one group by the committer thread, one group at a time, once the group is due
        (_group_due_in), while this thread keeps claiming."""
        group = self.uncommitted
        self.uncommitted = []
        had_waiting = bool(group)
        lost_catalog: BaseException | None = None
        for job_id, item in self.line.done():
            flight = self.inflight.get(job_id)   # type: ignore[call-overload]
            if flight is None:
                continue
            if isinstance(item, Placed):
                group.append((job_id, item))    # type: ignore[arg-type]
            elif isinstance(item, Result):
                del self.inflight[job_id]       # type: ignore[arg-type]
                item.elapsed_ms = round((time.perf_counter() - flight.started) * 1000, 2)
                self.finish(flight.job, item)
                self._requeue(flight, item)
            elif _is_unavailable(item):
                # Nothing was recorded; the job is still ours: try it again once the catalog is back.
                self.line.submit(flight.job.id, flight.source, on_done=self.wake.set)
                lost_catalog = item
            else:
                del self.inflight[job_id]       # type: ignore[arg-type]
                self._failed(flight, item)
        if group and not had_waiting:
            self.uncommitted_since = time.monotonic()
        self.uncommitted = group                # recording is idempotent: a group may be committed again
        if lost_catalog is not None:
            raise lost_catalog
        self._committed()
        if self.committing is None and self.uncommitted and self._group_due_in() == 0:
            self._commit(self.uncommitted)
            self.uncommitted = []

    def _group_due_in(self) -> float:
        """Seconds until the placed files are worth a commit: at once when they are
        MIN_GROUP, when nothing else is being filed, or when a filing thread waits for
        a content lock one of them holds (the same bytes twice)."""
        if len(self.uncommitted) >= MIN_GROUP or not self.line.running or self.organizer.link is None \
                or self.organizer.link.wanted:
            return 0.0
        return max(0.0, self.uncommitted_since + GROUP_WAIT_S - time.monotonic())

    def _failed(self, flight: InFlight, exc: BaseException) -> None:
        log.error("filing error", path=str(flight.source.path), error=repr(exc))
        queue.fail(self.catalog.engine, flight.job.id, self.worker, f"internal error: {exc!r}", transient=False)
        self._note_error(str(flight.source.path), repr(exc), logged=True)

    @property
    def jobs_done_with_record(self) -> bool:
        """Copy mode: a job is done once its file is recorded, in the same transaction. Move
        mode waits for the source's removal: a job done before it would never be retried."""
        return self.organizer.mode != "move"

    def _commit(self, group: list[tuple[int, Placed]]) -> None:
        """Start the group's commit on the committer thread; _committed takes its outcome."""
        def jobs_done(s: Any, placed: list[Placed]) -> None:
            if self.jobs_done_with_record:
                queue.complete_many_in(s, self.worker, [(job_id, p.result.to_json())
                                                        for job_id, p in group if p.status != FAILED])

        done = self.committer.submit(self.line.commit, group, jobs_done)
        done.add_done_callback(lambda _f: self.wake.set())
        self.committing = (group, done)

    def _committed(self, timeout: float | None = 0) -> None:
        """Finish the jobs of the group the committer has committed (none if it is still at it)."""
        if self.committing is None:
            return
        group, done = self.committing
        try:
            results = done.result(timeout)
        except FutureTimeout:
            return
        except Exception as exc:
            self.committing = None
            if _is_unavailable(exc):
                self.uncommitted = group + self.uncommitted     # redo it once the catalog is back
                raise
            # Not the catalog going away (a folder that cannot be fsynced, say): each file
            # of the group goes back to the queue, its copy left for the retry to find.
            log.error("could not record a group of files", files=len(group), error=repr(exc))
            results = [(job_id, failure(p.reading.path, exc) if isinstance(exc, OSError) else
                        Result(str(p.reading.path), FAILED, reason=f"internal error: {exc!r}"))
                       for job_id, p in group]
        self.committing = None
        finished: list[tuple[InFlight, Result]] = []
        for job_id, result in results:
            flight = self.inflight.pop(job_id)
            result.elapsed_ms = round((time.perf_counter() - flight.started) * 1000, 2)
            finished.append((flight, result))
        if not self.jobs_done_with_record:
            queue.complete_many(self.catalog.engine, self.worker,
                                [(f.job.id, r.to_json()) for f, r in finished if r.status != FAILED])
        for flight, result in finished:
            with bind_job(f"job-{flight.job.id}", path=flight.job.path):
                if result.status == FAILED:
                    self._finish(flight.job, result)    # back to the queue, with its reason
                else:
                    self._report(result)
            self._requeue(flight, result)

    def _requeue(self, flight: InFlight, result: Result) -> None:
        """Another file took this job's name (swapped in before it was read, or before its
        source was removed in move mode): its job is done, the newcomer gets its own."""
        if result.extra.get("requeue"):
            self.on_ready(flight.source.path, flight.source.inbox)

    def pump_pixels(self) -> None:
        """Keep the worker processes busy with the pixel stage, and record what it finished."""
        assert self.pool is not None and self.pixels is not None
        batch = self.pixel_batch
        self.pixels.collect(batch)
        try:
            self.pixels.pump(self.pool, batch * 3, on_done=self.wake.set, batch=batch)
        except BrokenProcessPool:
            self.pool = self._new_pool()
            self.pixels.running.clear()

    def finish(self, job: queue.Job, result: Result) -> None:
        with bind_job(f"job-{job.id}", path=job.path):
            self._finish(job, result)

    def _finish(self, job: queue.Job, result: Result) -> None:
        if result.status == FAILED:
            queue.fail(self.catalog.engine, job.id, self.worker, result.reason or "failed", transient=True)
            self._note_error(result.path, result.reason or "")
        else:
            queue.complete(self.catalog.engine, job.id, self.worker, result.to_json())
        self._report(result)

    def _report(self, result: Result) -> None:
        log.info("file", status=result.status, dest=result.dest, tool=result.tool, ms=result.elapsed_ms,
                 reason=result.reason)
        stage = result.extra.get("stage") if result.status == FAILED else None
        if self.parent is not None:
            self._tell("file", str(result.status), result.tool, stage)
        else:
            self._count(str(result.status), result.tool, stage)

    def _count(self, status: str, tool: str | None, stage: str | None) -> None:
        self.processed += 1
        if self.metrics is not None:
            self.metrics.observe_file(Outcome(status, tool, {"stage": stage} if stage else {}))

    def heartbeat(self) -> None:
        if self.inflight:
            kept = set(queue.heartbeat(self.catalog.engine, list(self.inflight), self.worker,
                                       self.cfg.queue.lease_seconds))
            # A job of the group being committed may be done already: not lost.
            committing = {job_id for job_id, _ in self.committing[0]} if self.committing else set()
            for lost in set(self.inflight) - kept - committing:
                log.warning("lease lost; another worker owns this job now", job=lost)

    def drain(self, timeout: float = 30.0) -> None:
        """Finish what is in flight (up to timeout), give the rest back, stop the watcher."""
        if self.filers is not None:
            self.filers.terminate()         # they finish or hand back their files meanwhile
        if self.rpc is not None:
            self.rpc.stop()
        if self.generator is not None:
            self.generator.close()
        if self.watcher is not None:
            self.watcher.stop()
        deadline = time.monotonic() + timeout
        while self.inflight and time.monotonic() < deadline:
            try:
                self.collect()
            except Exception as exc:
                log.warning("could not finish in-flight jobs", error=str(exc))
                break
            if self.inflight:
                time.sleep(0.05)
        try:
            # A group still being committed finishes its jobs before the rest is given back.
            self._committed(timeout=max(1.0, deadline - time.monotonic()))
        except Exception as exc:
            log.warning("could not finish in-flight jobs", error=str(exc))
        if self.inflight:
            try:
                queue.release(self.catalog.engine, list(self.inflight), self.worker)
            except Exception as exc:
                log.warning("could not release jobs; their leases will expire", error=str(exc))
        if self.filers is not None:
            self.filers.join(deadline)
        self.line.shutdown()
        self.committer.shutdown(wait=False)
        if self.pool is not None:
            if self.inflight:
                # A worker still busy after the timeout is stuck (a file that never ends): stop it,
                # or SIGTERM would never stop the daemon. Its job was released above.
                for proc in list(getattr(self.pool, "_processes", {}).values()):
                    proc.kill()
            self.pool.shutdown(wait=not self.inflight, cancel_futures=True)

    def publish_status(self) -> None:
        if self.parent is not None:
            return                          # the daemon speaks for its filing processes
        presence.publish(self.cfg.data_dir, self.worker, self.status())
        if self.metrics is not None:
            with self.catalog.session() as s:
                self.metrics.set_queue_depth(queue.depth(s))
            self.metrics.set_watcher_modes(self.watcher.mode_by_inbox())

    def _note_error(self, where: str, message: str, *, logged: bool = False) -> None:
        # The log, not only `alice status`: a full disk or a wrong owner must show in the journal.
        if not logged:
            log.error("could not file", path=where, error=message)
        self.last_errors.append({"at": time.time(), "where": where, "error": message})
        self._tell("error", where, message)

    def status(self) -> dict[str, Any]:
        return {
            "worker": self.worker, "pid": os.getpid(), "started_at": self.started_at,
            "inflight": len(self.inflight), "processed": self.processed,
            "filing_processes": len(self.filers.filers) if self.filers is not None else 0,
            "catalog_ok": self.catalog_ok,
            "watchers": self.watcher.mode_by_inbox() if self.watcher else {},
            "watcher_notes": self.watcher.notes_by_inbox() if self.watcher else {},
            "last_errors": list(self.last_errors),
            # Clients started without this process's XDG_RUNTIME_DIR find the socket here.
            "socket": str(self.rpc.path) if self.serving else None,
        }


def _sweep_after(tree: Path, pids: list[int]) -> None:
    for pid in pids:
        removed = fileops.sweep_temp(tree, pid=pid)
        if removed:
            log.info("removed temp files a filing process left", count=len(removed), pid=pid)


@dataclass
class Outcome:
    """A finished file as the metrics count it (metrics.DaemonMetrics.observe_file), here or in
    a filing process."""
    status: str
    tool: str | None
    extra: dict[str, Any]


def _is_unavailable(exc: BaseException) -> bool:
    from alice.daemon.catalog.engine import is_disconnect

    return isinstance(exc, CatalogUnavailable) or is_disconnect(exc)
