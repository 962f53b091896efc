"""Filing processes: the daemon's filing, on more than one core.

A burst of files is CPU-bound, and one interpreter runs Python on one core at a
time: `alice run` filed a burst with one core busy and the other idle a third
of the time. So beside its own filing line the daemon starts `filing_processes`
processes (auto, the default: one per core beyond the first). Each is a Daemon
without watcher, socket or pixel stage (runner.Daemon.run_filer): it claims jobs
from the durable queue, files them with its own filing line and committer, and
renews its own leases under its own owner name, exactly as a second `alice run`
on this machine would. The queue keeps such daemons apart and a content is
locked in the catalog across processes (catalog/filing_link.py), so nothing here
adds a rule to the order that makes a crash harmless (ingest/filing.py).

What crosses the pipes is small:
  daemon -> filer   a byte on the doorbell: the watcher queued files, claim now rather than at
                    the next poll. Rung without blocking: a filer that does not read (stuck, or
                    still starting) never holds up the watcher, and a byte already waiting says enough.
  filer -> daemon   a finished file's status, tool and failure stage (counts and metrics),
                    an error for `alice status`, busy/idle (the pixel stage waits while
                    files are being filed), "rescan" (the catalog was away while it queued)

A filer dies with the daemon (PR_SET_PDEATHSIG). One that dies alone has its
jobs taken over at once (their owner is a dead process of this host:
ops/lineage.py) and is started again.
"""
from __future__ import annotations

import copyreg
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from types import MappingProxyType
from typing import Any

import structlog

from alice.daemon.config import Config, DatabaseConfig

log = structlog.get_logger("alice.run")

FILER_PREFIX = "alice filer "      # application_name in pg_stat_activity (not a daemon: ops/presence.py)
RESTART_BACKOFF_S = (1.0, 5.0, 30.0)


def _proxy(items: dict[str, Any]) -> MappingProxyType:
    return MappingProxyType(items)


# The configuration crosses to a filer pickled; its read-only mappings are rebuilt there.
copyreg.pickle(MappingProxyType, lambda m: (_proxy, (dict(m),)))


def process_count(cfg: Config) -> int:
    """How many filing processes `alice run` starts beside its own filing line.

    None (0) when paid quality stages rate each file before it is filed (quality on, more
    stages than the local one, a layout that files by {stars}): they call providers, and
    API keys never leave the daemon's process (providers/redaction.Secret)."""
    quality = cfg.quality
    if quality.enabled and len(quality.stages) > 1 and "{stars}" in cfg.layout:
        return 0
    if cfg.filing_processes >= 0:
        return cfg.filing_processes
    return max(0, (os.cpu_count() or 1) - 1)


def _without_keys(cfg: Config) -> Config:
    """The configuration a filer gets: every provider's settings but its API key. Filing asks
    no provider; it reads one setting (providers.comfyui.input_dir, for lineage)."""
    settings = {name: replace(s, api_key=None) for name, s in cfg.providers.settings.items()}
    return replace(cfg, providers=replace(cfg.providers, settings=MappingProxyType(settings)))


@dataclass(frozen=True)
class Spec:
    """What a filer needs to start: the daemon's configuration, pointed at the catalog
    server the daemon uses (the embedded one's socket too: a filer never starts a server)."""

    cfg: Config
    parent_pid: int
    verbose: bool = False


@dataclass
class Link:
    """A filer's ends of its pipes to the daemon."""

    messages: Connection        # filer -> daemon
    bell: Connection            # daemon -> filer: raw bytes, one ring each

    def tell(self, *msg: Any) -> None:
        self.messages.send(msg)

    def wait_bell(self) -> bool:
        """Block until the daemon rings; False once the daemon is gone."""
        return bool(os.read(self.bell.fileno(), 4096))


@dataclass
class _Filer:
    proc: Any                               # multiprocessing's Process
    conn: Connection                        # its messages
    bell: Connection                        # our end of its doorbell (non-blocking)
    busy: bool = False
    started: float = field(default_factory=time.monotonic)


class Filers:
    """The daemon's side: start, poke, hear and stop the filing processes.

    `on_message(msg)` runs on this object's listening thread for every message a
    filer sends; `on_death(pid)` when one exits (the daemon's loop then takes
    over its jobs and calls `tend`, which starts another)."""

    def __init__(self, cfg: Config, url: str, count: int, *, on_message: Callable[[tuple], None],
                 on_death: Callable[[int], None], verbose: bool = False) -> None:
        self.spec = Spec(replace(_without_keys(cfg), database=DatabaseConfig(url=url)), os.getpid(), verbose)
        self.count = count
        self.on_message = on_message
        self.on_death = on_death
        self.filers: list[_Filer] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._restarts = 0
        self._restart_at = 0.0
        self._listener: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether any filer has files in flight."""
        return any(f.busy for f in self.filers)

    def start(self) -> None:
        for _ in range(self.count):
            self._spawn()
        self._listener = threading.Thread(target=self._listen, name="alice-filers", daemon=True)
        self._listener.start()

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")   # this process has threads and sockets: no fork
        mine, theirs = ctx.Pipe(duplex=False)
        bell_theirs, bell = ctx.Pipe(duplex=False)
        os.set_blocking(bell.fileno(), False)
        proc = ctx.Process(target=serve, args=(self.spec, Link(theirs, bell_theirs)), name="alice-filer",
                           daemon=False)
        # Ctrl-C reaches the whole process group; the daemon alone decides how its filers stop
        # (runner.Daemon._submit says why the mask is inherited).
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
        theirs.close()
        bell_theirs.close()
        with self._lock:
            self.filers.append(_Filer(proc, mine, bell))

    def poke(self) -> None:
        """Ring every filer's doorbell: files were queued."""
        with self._lock:
            for f in self.filers:
                try:
                    os.write(f.bell.fileno(), b"!")
                except (BlockingIOError, BrokenPipeError, OSError, ValueError):
                    pass    # full: it has rings to read; broken: it died, _listen sees to it

    def _listen(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                by_conn = {f.conn: f for f in self.filers if not f.conn.closed}
                by_sentinel = {f.proc.sentinel: f for f in self.filers}
            ready = wait([*by_conn, *by_sentinel], timeout=0.5)
            for r in ready:
                if r in by_conn:
                    f = by_conn[r]
                    try:
                        msg = f.conn.recv()
                    except (EOFError, OSError):
                        f.conn.close()      # the filer is gone; its sentinel says so next
                        continue
                    if msg[0] == "busy":
                        f.busy = bool(msg[1])
                    else:
                        self.on_message(msg)
                elif r in by_sentinel and by_sentinel[r] in self.filers:
                    self._exited(by_sentinel[r])

    def _exited(self, f: _Filer) -> None:
        with self._lock:
            self.filers.remove(f)
        f.proc.join(5)          # reaped: a zombie's pid would still look alive to the takeover
        if self._stopping.is_set():
            return                  # join() closes the pipes once the listener is done
        f.conn.close()              # out of every later snapshot (removed under the lock)
        f.bell.close()
        log.warning("a filing process exited; its jobs are taken over and another is started",
                    pid=f.proc.pid, exitcode=f.proc.exitcode)
        # One that keeps dying young is restarted ever more slowly.
        self._restarts = self._restarts + 1 if time.monotonic() - f.started < 60 else 0
        delay = RESTART_BACKOFF_S[min(self._restarts, len(RESTART_BACKOFF_S)) - 1] if self._restarts else 0.0
        self._restart_at = time.monotonic() + delay
        self.on_death(f.proc.pid)

    def tend(self) -> None:
        """On the daemon's loop, after it took over a dead filer's jobs: start filers to replace
        those that died, once their backoff ran out."""
        if self._stopping.is_set() or time.monotonic() < self._restart_at:
            return
        while len(self.filers) < self.count:
            self._spawn()

    def terminate(self) -> None:
        """SIGTERM every filer: each finishes or hands back its files, then exits (join)."""
        self._stopping.set()
        with self._lock:
            filers = list(self.filers)
        for f in filers:
            if f.proc.is_alive():
                f.proc.terminate()

    def join(self, deadline: float) -> None:
        """Wait until `deadline` (time.monotonic) for the filers to exit; kill those still running."""
        self._stopping.set()
        with self._lock:
            filers = list(self.filers)
        for f in filers:
            f.proc.join(max(0.0, deadline - time.monotonic()))
            # An exiting process closes its descriptors, which wakes join, a moment before
            # the kernel lets it be reaped: it is not late, only not yet gone.
            while f.proc.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)
            if f.proc.is_alive():
                log.warning("a filing process did not stop in time; killed", pid=f.proc.pid)
                f.proc.kill()
                f.proc.join(5)
        if self._listener is not None:
            self._listener.join(2)
        for f in filers:
            f.conn.close()
            f.bell.close()


def serve(spec: Spec, link: Link) -> None:
    """A filing process's main: a Daemon that only files (runner.Daemon.run_filer)."""
    from alice.daemon.ops.lineage import die_with_parent

    die_with_parent(spec.parent_pid)        # first: a daemon killed while this one starts leaves nothing
    os.environ.pop("NOTIFY_SOCKET", None)   # systemd hears the daemon only
    from alice.daemon.app import App
    from alice.daemon.ingest.runner import FILING_THREADS, Daemon
    from alice.daemon.ops.lineage import owner_name
    from alice.daemon.ops.logs import configure_logging

    cfg = spec.cfg
    configure_logging(cfg.log.level, cfg.log.json, verbose=spec.verbose)
    worker = owner_name()
    app = App(cfg, application_name=FILER_PREFIX + worker, pool_size=FILING_THREADS * 2 + 3)
    code = 1
    try:
        # No rescorer: paid stages run in the daemon's pixel stage (process_count says when not).
        daemon = Daemon(cfg, app.catalog, quality=app.quality, worker=worker, parent=link)
        code = daemon.run_filer()
    finally:
        app.close()
    raise SystemExit(code)
