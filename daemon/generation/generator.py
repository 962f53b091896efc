"""Generating images and videos through the providers, tracked in the catalog.

One request, in order:
  1. price it (Provider.estimate) and, under the project's row lock, admit it
     against the budget and record it (state `recorded`) - or record it as
     `refused` and raise BudgetExceeded; nothing has been sent either way;
  2. send it; record the provider's request id and how to poll it (`submitted`);
  3. wait for the result; download each output to data_dir/generations/<id>/,
     stamp the generation record into it and copy it into <first inbox>/<project>/
     (daemon/generation/deliver.py), where the daemon organizes it like any other file;
  4. record outputs (by content id), the cost, `done`; pause the project when
     its spending reached the budget.
Every step appends an event (generation.recorded/refused/submitted/done/failed,
project.paused).

Provider calls are async. A Generator runs them on its ProviderHost's loop
thread (the one loop of the process's providers), so callers (the CLI, the
daemon's socket server) stay synchronous. Catalog writes go through
asyncio.to_thread so an outage never blocks that loop, which also renews leases.

The process working on a request holds a lease on its row (renewed every
LEASE_S / 3). A request sent and then left (`alice generate --no-wait`, a
crash) is finished by whoever takes it over once the lease lapsed: `resume`,
or the daemon's `start_orphan_sweeps`. Catalog writes wait out an outage of
up to CATALOG_PATIENCE_S rather than forget a paid request's provider id.
"""
from __future__ import annotations

import asyncio
import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.orm import Session

from alice.daemon.catalog import requests, spend, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.errors import CatalogUnavailable
from alice.daemon.config import Config
from alice.daemon.generation import budget
from alice.daemon.generation.deliver import Delivered, deliver, stage_output
from alice.daemon.generation.errors import GenerateError, RequestNotFound
from alice.daemon.generation.origin import original_request
from alice.daemon.generation.references import ReferenceError, resolve
from alice.daemon.provider_host import ProviderHost
from alice.pipeline.alice_record import VERSION
from alice.pipeline.plan import sanitize_segment
from alice.providers.base import Provider
from alice.providers.capabilities import Capability
from alice.providers.config import ENV_KEYS
from alice.providers.errors import BudgetExceeded, ProviderError
from alice.providers.pricing import CostEstimate
from alice.providers.results import GenerationResult, Job

log = structlog.get_logger("alice.generate")
GENERATIVE_KINDS = ("image", "video", "audio", "avatar_video")
CATALOG_PATIENCE_S = 300.0
LEASE_S = 90.0                  # a request this process works on is renewed every LEASE_S / 3


class Generator:
    def __init__(self, cfg: Config, catalog: Catalog, providers: ProviderHost) -> None:
        self.cfg = cfg
        self.catalog = catalog
        self.providers = providers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._background: list[Future] = []     # lease renewal and orphan sweeps, cancelled by close()
        self._lock = threading.Lock()
        self._running: dict[int, Future] = {}
        self._submitted: dict[int, threading.Event] = {}

    # -- public API --------------------------------------------------------------------------
    def submit(self, provider: str, model: str, prompt: str | None, params: Mapping[str, Any] | None = None,
               references: Sequence[str | Path] = (), project: str | None = None, *,
               recreated_from: int | None = None, record: Mapping[str, Any] | None = None,
               wait: bool = False) -> int:
        """Record and send a request; return its id. With wait=True, return once its
        outputs are in the inbox (or it failed: see status()).

        Raises GenerateError (unknown provider/model, bad params or references) and
        BudgetExceeded (refused by the project's budget) before anything is sent.
        `record`: more fields for the generation record stamped into each output (a re-run's
        `rerun` and `parents`, see daemon/generation/rerun.py); kept with the request.
        """
        client = self._provider(provider)
        if not client.can_send:
            env = " or ".join(ENV_KEYS.get(provider, ())) or "the service's key variable"
            raise GenerateError(f"no API key for {provider}: set providers.{provider}.api_key in the config "
                                f"or {env} in the environment")
        try:
            kind = client.model(model).kind
        except ProviderError as exc:
            raise GenerateError(str(exc)) from None
        if kind not in GENERATIVE_KINDS:
            raise GenerateError(f"{provider} {model} is a {kind} model, not one that generates files; "
                                f"`alice providers` lists the {provider} models that do")
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise GenerateError(f"params must be a mapping of name -> value, got {type(params).__name__}")
        if prompt is not None and not isinstance(prompt, str):
            raise GenerateError(f"prompt must be text, got {type(prompt).__name__}")
        project_name = sanitize_segment(project or self.cfg.default_project)
        try:
            refs = [resolve(r, self.catalog) for r in references]
            send, inputs = client.inputs_for(prompt, params, refs)
            estimate = client.estimate(model, send)
        except ReferenceError as exc:
            raise GenerateError(str(exc)) from None
        except ProviderError as exc:
            raise GenerateError(str(exc)) from None

        ref_ids = [r.content_id for r in refs]
        refused: BudgetExceeded | None = None
        with self.catalog.session() as s:
            proj = spend.lock_project(s, project_name)
            try:
                budget.admit(proj, estimate)
            except BudgetExceeded as exc:
                refused = exc
            rid = requests.record_request(
                s, project_id=proj.id, provider=provider, model=model, prompt=prompt, params=dict(params),
                reference_ids=ref_ids, estimate_usd=estimate.usd, state="refused" if refused else "recorded",
                error=str(refused) if refused else None, recreated_from=recreated_from,
                lease_s=None if refused else LEASE_S, record_extra=dict(record or {}))
            store.append_event(s, "generation.refused" if refused else "generation.recorded", None, None, {
                "request_id": rid, "project": project_name, "provider": provider, "model": model,
                "estimate_usd": str(estimate.usd), "recreated_from": recreated_from,
                **({"error": str(refused)} if refused else {})})
        if refused is not None:
            log.info("generation.refused", request_id=rid, project=project_name, error=str(refused))
            refused.request_id = rid        # type: ignore[attr-defined]  # so callers can show the row
            raise refused
        log.info("generation.recorded", request_id=rid, project=project_name, provider=provider, model=model,
                 estimate_usd=str(estimate.usd))
        base = {**dict(record or {}), **_record(provider, model, prompt, dict(params), ref_ids)}
        self._start(rid, self._send(rid, client, model, send, inputs, base, project_name, estimate))
        if wait:
            self.wait(rid)
        return rid

    def status(self, request_id: int) -> dict[str, Any]:
        """The request as the catalog has it: state, ids, estimate, cost, outputs, error."""
        with self.catalog.session() as s:
            row = requests.get_request(s, int(request_id))
        if row is None:
            raise RequestNotFound(f"no generation request {request_id}")
        return row.to_json()

    def wait(self, request_id: int, timeout: float | None = None) -> dict[str, Any]:
        """Block until this process's work on the request ends; return its status."""
        future = self._running.get(request_id)
        if future is not None:
            try:
                future.result(timeout)
            except FutureTimeout:
                raise TimeoutError(f"generation request {request_id} still running after {timeout}s") from None
            except CancelledError:
                pass            # close() stopped it; the catalog says how far it got
        return self.status(request_id)

    def wait_submitted(self, request_id: int, timeout: float | None = None) -> dict[str, Any]:
        """Block until the provider accepted (or refused) the request; return its status."""
        event = self._submitted.get(request_id)
        if event is not None:
            event.wait(timeout)
        return self.status(request_id)

    def recreate(self, ref: str | int | Path, *, project: str | None = None, wait: bool = False) -> int:
        """Re-submit the exact request that made `ref`: a request id, a content id, `asset:<id>`
        or a file path. Returns the new request's id; its recreated_from names the original."""
        original = original_request(self.catalog, ref)
        return self.submit(original["provider"], original["model"], original.get("prompt"),
                           original.get("params") or {}, original.get("references") or [],
                           project or original.get("project"), recreated_from=original.get("id"), wait=wait)

    def resume(self, request_id: int, *, wait: bool = False) -> int:
        """Finish a request this or another process sent but did not finish (it died, or
        `alice generate --no-wait`): poll it by its recorded job, then deliver as usual."""
        with self.catalog.session() as s:
            row = self._not_running_here(s, request_id, "already running in this process")
        if row.state not in ("submitted", "running") or not row.job:
            raise GenerateError(f"request {request_id} is {row.state}; only a submitted or running request "
                                "with a recorded job can be resumed")
        client = self._provider(row.provider)
        with self.catalog.session() as s:
            _claim(s, request_id, "; if that process is gone, try again after that")
        self._resume_row(row, client)
        if wait:
            self.wait(request_id)
        return request_id

    def resume_orphans(self, limit: int = 20) -> list[int]:
        """Take over requests other processes sent but left unfinished (their lease lapsed) and
        finish them here. Returns their ids. The daemon runs this periodically."""
        with self.catalog.session() as s:
            claimed = requests.claim_orphans(s, LEASE_S, limit)
            rows = [requests.get_request(s, rid) for rid in claimed]
        started = []
        for row in rows:
            if row is None or row.id in self._running:
                continue
            client = self.providers.get(row.provider)
            if client is None:
                log.warning("generation.orphan_skipped", request_id=row.id,
                            reason=f"provider {row.provider} is not enabled here")
                with self.catalog.session() as s:
                    requests.release(s, [row.id])
                continue
            log.info("generation.resumed", request_id=row.id, state=row.state)
            self._resume_row(row, client)
            started.append(row.id)
        return started

    def _not_running_here(self, s: Session, request_id: int, running: str) -> requests.RequestRow:
        """The request's row, if there is one and this process is not working on it."""
        if request_id in self._running:
            raise GenerateError(f"request {request_id} is {running}")
        row = requests.get_request(s, request_id)
        if row is None:
            raise RequestNotFound(f"no generation request {request_id}")
        return row

    def _resume_row(self, row: requests.RequestRow, client: Provider) -> None:
        assert row.job is not None
        request_id = row.id
        job = Job(row.provider, row.model, row.provider_request_id or row.job["request_id"],
                  dict(row.job.get("urls") or {}), row.estimate_usd)
        base = {**row.record_extra, **_record(row.provider, row.model, row.prompt, row.params, row.reference_ids)}
        self._start(request_id, self._finish(request_id, client, job, base, row.project))

    def abandon(self, request_id: int) -> dict[str, Any]:
        """Give up on a request some process left unfinished: it becomes `failed` and its estimate
        stops holding the budget. For a request that may never have reached the provider (`recorded`,
        after a crash) or whose result can no longer be fetched."""
        with self.catalog.session() as s:
            row = self._not_running_here(s, request_id, "running in this process; wait for it instead")
            if row.state not in requests.IN_FLIGHT:
                raise GenerateError(f"request {request_id} is already {row.state}")
            _claim(s, request_id)
            message = f"abandoned while {row.state}: the outputs, if any, were not collected"
            requests.update_request(s, request_id, state="failed", error=message)
            store.append_event(s, "generation.failed", None, None, {"request_id": request_id, "error": message})
        return self.status(request_id)

    def close(self) -> None:
        """Stop this generator's work on the shared loop (the ProviderHost's owner closes the
        providers). Requests still running stay `submitted` and can be resumed."""
        with self._lock:
            loop, self._loop = self._loop, None
            background, self._background = self._background, []
        if loop is None:
            return
        unfinished = list(self._running)
        for future in [*background, *self._running.values()]:
            future.cancel()
        if unfinished:
            try:
                # Another process (the daemon) may take them over now rather than after the lease.
                with self.catalog.session() as s:
                    requests.release(s, unfinished)
            except CatalogUnavailable:
                pass        # the leases lapse by themselves

    # -- the request's life on the event loop --------------------------------------------------
    async def _send(self, rid: int, client: Provider, model: str, send: dict[str, Any], inputs: dict[str, Any],
                    base: dict[str, Any], project: str, estimate: CostEstimate) -> None:
        try:
            if _synchronous(client):
                await asyncio.to_thread(self._update, rid, "submitted", "generation.submitted", {"provider_request_id": None})
                self._submitted_now(rid)
                result = await client.generate(model, send, admitted=estimate, **inputs)
                await self._complete(rid, result, base, project)
                return
            job = await client.submit(model, send, admitted=estimate, **inputs)
            await asyncio.to_thread(self._update, rid, "submitted", "generation.submitted",
                                    {"provider_request_id": job.request_id},
                                    provider_request_id=job.request_id, job=job.to_dict())
            self._submitted_now(rid)
        except Exception as exc:  # noqa: BLE001 - any failure ends the request as failed, with its reason
            await asyncio.to_thread(self._failed, rid, exc, cost=None)
            return
        await self._finish(rid, client, job, base, project)

    async def _finish(self, rid: int, client: Provider, job: Job, base: dict[str, Any], project: str) -> None:
        try:
            await asyncio.to_thread(self._update, rid, "running", None, {})
            result = await client.wait(job)
        except Exception as exc:  # noqa: BLE001
            await asyncio.to_thread(self._failed, rid, exc, cost=None)
            return
        await self._complete(rid, result, base, project)

    async def _complete(self, rid: int, result: GenerationResult, base: dict[str, Any], project: str) -> None:
        # From here the provider has done (and billed) the work: a failure still records the cost.
        record = dict(base, request_id=result.request_id, created_at=datetime.now(UTC).isoformat())
        staging = self.cfg.data_dir / "generations" / str(rid)
        dest = self.cfg.inboxes[0] / project
        client = self.providers[base["provider"]]
        delivered = []
        try:
            staging.mkdir(parents=True, exist_ok=True)
            for n, output in enumerate(result.outputs, 1):
                stem = f"{base['provider']}-{rid}-{n}"
                staged = await stage_output(output, staging, stem=stem, provider=client)
                item = await asyncio.to_thread(deliver, staged, record, dest)
                delivered.append(item)
                await asyncio.to_thread(self._write, functools.partial(
                    _add_output, request_id=rid, item=item))
                for warning in item.warnings:
                    log.warning("generation.output_warning", request_id=rid, path=str(item.path), warning=warning)
            try:
                staging.rmdir()
            except OSError:
                pass
        except Exception as exc:  # noqa: BLE001
            kept = sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
            await asyncio.to_thread(self._failed, rid, exc, cost=result.cost_usd,
                         note=f"; downloaded but not delivered: {', '.join(kept)} in {staging}" if kept else "")
            return

        def done(s: Session) -> None:
            requests.update_request(s, rid, state="done", cost_usd=result.cost_usd,
                                    provider_request_id=result.request_id)
            store.append_event(s, "generation.done", None, str(delivered[0].path) if delivered else None, {
                "request_id": rid, "project": project, "provider": base["provider"], "model": base["model"],
                "cost_usd": None if result.cost_usd is None else str(result.cost_usd),
                "outputs": [{"path": str(d.path), "content_id": d.content_id, "embedded": d.embedded}
                            for d in delivered]})
            self._pause_if_spent(s, project)
        await asyncio.to_thread(self._write, done)
        log.info("generation.done", request_id=rid, outputs=[str(d.path) for d in delivered])

    # -- catalog bookkeeping ----------------------------------------------------------------
    def _write(self, work: Callable[[Session], None]) -> None:
        """Run `work` in one catalog transaction, waiting out an outage of up to CATALOG_PATIENCE_S:
        what a paid request became (its provider id, its outputs) must not be lost to a restart."""
        deadline = time.monotonic() + CATALOG_PATIENCE_S
        while True:
            try:
                with self.catalog.session() as s:
                    work(s)
                return
            except CatalogUnavailable:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise
                log.warning("generation.catalog_unavailable", retry_for_s=round(left))
                self.catalog.wait_available(timeout=left)

    def _update(self, rid: int, state: str, event: str | None, data: dict[str, Any], **fields: Any) -> None:
        def work(s: Session) -> None:
            requests.update_request(s, rid, state=state, **fields)
            if event:
                store.append_event(s, event, None, None, {"request_id": rid, **data})
        self._write(work)

    def _failed(self, rid: int, exc: BaseException, cost: Decimal | None, note: str = "") -> None:
        message = str(exc) if isinstance(exc, ProviderError | GenerateError) else f"{type(exc).__name__}: {exc}"
        message += note
        log.warning("generation.failed", request_id=rid, error=message)
        self._submitted_now(rid)

        def work(s: Session) -> None:
            requests.update_request(s, rid, state="failed", error=message, cost_usd=cost)
            store.append_event(s, "generation.failed", None, None, {
                "request_id": rid, "error": message, "cost_usd": None if cost is None else str(cost)})
            if cost:
                row = requests.get_request(s, rid)
                if row is not None:
                    self._pause_if_spent(s, row.project)
        self._write(work)

    @staticmethod
    def _pause_if_spent(s: Session, project: str) -> None:
        proj = spend.lock_project(s, project)
        if budget.exhausted(proj) and spend.pause(s, proj.id):
            store.append_event(s, "project.paused", None, None, {
                "project": project, "budget_usd": str(proj.budget), "spent_usd": str(proj.spent)})
            log.warning("project.paused", project=project, budget_usd=str(proj.budget), spent_usd=str(proj.spent))

    # -- plumbing -----------------------------------------------------------------------------
    def _provider(self, name: str) -> Provider:
        client = self.providers.get(name)
        if client is None:
            raise GenerateError(f"unknown or disabled provider {name!r}; available: "
                                f"{', '.join(sorted(self.providers)) or 'none'} (see `alice providers`)")
        return client

    def _start(self, rid: int, coro: Any) -> None:
        loop = self._ensure_loop()
        self._submitted.setdefault(rid, threading.Event())
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        self._running[rid] = future
        # A daemon runs one Generator for months: forget requests once they end (wait() then reads the catalog).
        future.add_done_callback(lambda f: self._forget(rid, f))

    def _forget(self, rid: int, future: Future) -> None:
        if not future.cancelled() and future.exception() is not None:
            # Only the catalog staying away longer than CATALOG_PATIENCE_S gets here.
            log.error("generation.abandoned", request_id=rid,
                      error=f"{type(future.exception()).__name__}: {future.exception()}",
                      hint=f"`alice generations {rid} --finish` once the catalog is back")
        self._running.pop(rid, None)
        event = self._submitted.pop(rid, None)
        if event is not None:
            event.set()

    def _submitted_now(self, rid: int) -> None:
        event = self._submitted.get(rid)
        if event is not None:
            event.set()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = self.providers.loop
                self._background.append(asyncio.run_coroutine_threadsafe(self._renew_leases(), self._loop))
            return self._loop

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            mine = list(self._running)
            if not mine:
                continue
            try:
                await asyncio.to_thread(self._write, functools.partial(requests.renew, request_ids=mine, lease_s=LEASE_S))
            except CatalogUnavailable:
                log.warning("generation.lease_not_renewed", requests=mine)

    def start_orphan_sweeps(self, interval_s: float = 60.0) -> None:
        """Every interval_s, take over requests other processes left unfinished (for the daemon)."""
        async def sweep() -> None:
            while True:
                try:
                    await asyncio.to_thread(self.resume_orphans)
                except CatalogUnavailable:
                    pass    # next round
                await asyncio.sleep(interval_s)

        loop = self._ensure_loop()
        with self._lock:
            self._background.append(asyncio.run_coroutine_threadsafe(sweep(), loop))

def _claim(s: Session, request_id: int, hint: str = "") -> None:
    """Take the request's lease, or say which process holds it and until when."""
    held_until = requests.claim(s, request_id, LEASE_S)
    if held_until is not None:
        raise GenerateError(f"request {request_id} is being finished by another alice process (its lease "
                            f"runs until {held_until.isoformat(timespec='seconds')}){hint}")


def _synchronous(client: Provider) -> bool:
    """Providers whose one call returns the result (OpenAI images, A1111) say so."""
    return Capability.SYNCHRONOUS in client.CAPABILITIES


def _record(provider: str, model: str, prompt: str | None, params: dict[str, Any],
            references: list[str]) -> dict[str, Any]:
    return {"alice_generation": VERSION, "provider": provider, "model": model, "prompt": prompt,
            "params": params, "references": references}


__all__ = ["Generator", "GenerateError", "RequestNotFound", "BudgetExceeded"]


def _add_output(s: Session, *, request_id: int, item: Delivered) -> None:
    requests.add_output(s, request_id, item.content_id, str(item.path), item.file_hash, item.embedded)
