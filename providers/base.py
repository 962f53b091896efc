"""The one base class every provider speaks HTTP through.

`_request()` is the only place a provider touches the network. It applies, in
this order: the circuit breaker (refuse fast while the service is down), the
API key (only to the service's own host), timeouts, a bounded read of the
answer, and retries with exponential backoff and full jitter on transient
failures only. Everything that leaves it, log line or exception, is redacted.
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urlsplit

import httpx
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
)

from .capabilities import Capability
from .circuit import CircuitBreaker, CircuitState
from .config import ProviderSettings
from .download import fetch
from .errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderJobFailed,
    ProviderMalformedResponse,
    ProviderRequestError,
    ProviderTimeout,
    ProviderTransientError,
    ProviderUnavailable,
)
from .inputs import InputFile, ProviderInputError, by_media
from .metrics import ProviderMetrics
from .pricing import CostEstimate, Price, PriceTable, PricingError
from .redaction import Redactor
from .results import GenerationResult, Job, JobState, JobStatus, OutputFile, StageAnswer
from .retry import (
    Backoff,
    TransientStatus,
    is_retryable,
    is_transient_status,
    parse_retry_after,
)

BudgetCheck = Callable[[CostEstimate], None]
Context = Callable[[], str | None]
Sleep = Callable[[float], Awaitable[None]]

_DOWNLOAD_TIMEOUT_S = 300.0
# Error bodies are only read for their message.
_MAX_ERROR_BODY = 64 * 1024
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class ModelInfo:
    id: str
    kind: str                 # image | video | audio | avatar_video | vision
    description: str = ""


class Provider:
    """Subclasses set `name`, `MODELS`, `DEFAULT_PRICES`, `CAPABILITIES`, `_auth_headers()`
    and either the job trio `_submit/status/result` or their own entry points (vision)."""

    name: ClassVar[str] = ""
    MODELS: ClassVar[tuple[ModelInfo, ...]] = ()
    DEFAULT_PRICES: ClassVar[dict[str, Price]] = {}
    # What callers may ask of this provider (see capabilities.py); declared, never inferred.
    CAPABILITIES: ClassVar[frozenset[Capability]] = frozenset()
    # False for generators on the user's own machine (ComfyUI, A1111): nothing to authenticate.
    REQUIRES_KEY: ClassVar[bool] = True
    # The paid quality stages it runs (the kind in `quality.stages`: "vision", "aesthetic"), each
    # with the model a stage name without "@model" gets; `stage_estimate`/`run_stage` serve them.
    QUALITY_STAGES: ClassVar[Mapping[str, str]] = {}
    # The stage kinds a bare name ("vision", no ":provider") means this provider for.
    DEFAULT_FOR_STAGES: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        budget_check: BudgetCheck | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        metrics: ProviderMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else ProviderMetrics()
        self._redactor = Redactor([settings.api_key])
        try:
            self.prices = PriceTable(self.name, dict(self.DEFAULT_PRICES)).with_overrides(settings.prices)
        except PricingError as exc:
            raise ProviderConfigError(self.name, str(exc)) from None
        known = {m.id for m in self.MODELS}
        self._models = self.MODELS + tuple(
            ModelInfo(model_id, kind, "from config") for model_id, kind in settings.extra_models.items()
            if model_id not in known
        )
        self.breaker = CircuitBreaker(settings.failure_threshold, settings.cooldown_s, clock)
        self._budget_check = budget_check
        self._clock = clock
        self._sleep = sleep
        self._base = urlsplit(settings.base_url)
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            follow_redirects=False,
            headers={"user-agent": "alice-multiverse/0.1"},
        )
        self._downloads: httpx.AsyncClient | None = None
        self.metrics.set_circuit(self.name, self.breaker.state)

    def __repr__(self) -> str:
        key = "not needed" if not self.REQUIRES_KEY else "set" if self.settings.has_key else "missing"
        return f"<{type(self).__name__} {self.settings.base_url} key={key}>"

    @property
    def can_send(self) -> bool:
        """Whether a request could go out now as far as credentials go (a key, or none needed)."""
        return self.settings.has_key or not self.REQUIRES_KEY

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._downloads is not None:
            await self._downloads.aclose()

    async def fetch_output(self, output: OutputFile, out: BinaryIO) -> int:
        """download.fetch() into `out` through one client kept for this provider's outputs:
        building an httpx client per file costs about 80 ms, more than a local generator's
        whole round trip. It is a separate client from the API's, and never sends the key.
        Where the bytes land on disk is the daemon's business (deliver.stage_output)."""
        if self._downloads is None:
            self._downloads = httpx.AsyncClient(timeout=httpx.Timeout(_DOWNLOAD_TIMEOUT_S, connect=10.0),
                                                headers={"user-agent": "alice-multiverse/0.1"})
        return await fetch(output, out, client=self._downloads, max_bytes=self.settings.max_download_bytes)

    async def __aenter__(self) -> Provider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- description -----------------------------------------------------

    @property
    def models(self) -> tuple[ModelInfo, ...]:
        """Built-in models plus `providers.<name>.extra_models` from the config."""
        return self._models

    def model(self, model_id: str) -> ModelInfo:
        for m in self._models:
            if m.id == model_id:
                return m
        known = ", ".join(m.id for m in self._models)
        raise ProviderRequestError(
            self.name, f"unknown model {model_id!r}; known models: {known} "
            f"(a newer one can be added under providers.{self.name}.extra_models)",
        )

    def health(self) -> dict[str, Any]:
        state = self.breaker.state
        self.metrics.set_circuit(self.name, state)
        return {
            "key_configured": self.settings.has_key,
            "key_required": self.REQUIRES_KEY,
            "enabled": self.settings.enabled,
            "capabilities": sorted(c.value for c in self.CAPABILITIES),
            "circuit": self.breaker.snapshot().to_dict(),
            "healthy": self.can_send and state is not CircuitState.OPEN,
        }

    # -- cost --------------------------------------------------------------

    def _billing_params(self, model: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Translate a request's own fields into pricing quantities (see PriceTable.estimate)."""
        return dict(params)

    def estimate(self, model: str, params: Mapping[str, Any]) -> CostEstimate:
        self.model(model)
        if not isinstance(params, Mapping):
            raise ProviderRequestError(self.name, f"params must be a mapping, got {type(params).__name__}")
        try:
            return self.prices.estimate(model, self._billing_params(model, params))
        except PricingError as exc:
            raise ProviderRequestError(self.name, str(exc)) from None

    def stage_estimate(self, kind: str, model: str) -> CostEstimate:
        """The most one `kind` quality stage (one of QUALITY_STAGES) can cost for one image,
        known before the image is read, so the budget admits it before anything is sent."""
        raise self._no_stage(kind)

    async def run_stage(self, kind: str, image: bytes | Path, *, model: str,
                        context: Context = lambda: None) -> StageAnswer:
        """Run the quality stage `kind` (one of QUALITY_STAGES) on one image. `context()` gives
        the prompt that made it, for stages that judge fidelity; others never call it (it may
        read the file)."""
        raise self._no_stage(kind)

    def _no_stage(self, kind: str) -> ProviderRequestError:
        offered = ", ".join(self.QUALITY_STAGES) or "none"
        return ProviderRequestError(self.name, f"{self.name} runs no {kind!r} quality stage (it runs: {offered})")

    def check_budget(self, estimate: CostEstimate) -> None:
        """Runs the budget hook; it raises BudgetExceeded to refuse. Nothing is sent before this."""
        if self._budget_check is not None:
            self._budget_check(estimate)
        self.metrics.estimated_cost.labels(self.name, estimate.model).inc(float(estimate.usd))
        self._emit("info", "provider.cost_admitted", model=estimate.model, usd=str(estimate.usd),
                   basis=estimate.basis)

    # -- inputs --------------------------------------------------------------

    PROMPT_PARAM: ClassVar[str] = "prompt"      # the API's name for the text prompt

    def inputs_for(self, prompt: str | None, params: Mapping[str, Any],
                   refs: Sequence[InputFile]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(params to send, keyword inputs for submit/generate) for alice's (prompt, params,
        reference files). Each provider that takes references overrides this; by default the
        prompt goes under PROMPT_PARAM and reference files are refused. Raises ProviderInputError."""
        by_media(self.name, refs)
        if refs:
            raise ProviderInputError(self.name, f"{self.name} takes no reference files here")
        return self._with_prompt(prompt, params), {}

    def _with_prompt(self, prompt: str | None, params: Mapping[str, Any]) -> dict[str, Any]:
        send = dict(params)
        if prompt is not None:
            send.setdefault(self.PROMPT_PARAM, prompt)
        return send

    # -- jobs ----------------------------------------------------------------

    def admit(self, model: str, params: Mapping[str, Any], admitted: CostEstimate | None) -> CostEstimate:
        """The request's price, checked against the budget hook before anything is sent.
        `admitted`: the estimate a caller already priced and admitted (the daemon does so
        under the project's row lock, recording the request in the same transaction), so
        the price is computed once."""
        estimate = admitted if admitted is not None else self.estimate(model, params)
        self.check_budget(estimate)
        return estimate

    async def submit(self, model: str, params: Mapping[str, Any], *, admitted: CostEstimate | None = None,
                     **inputs: Any) -> Job:
        """Prices the request, asks the budget hook, then sends it. Returns without waiting."""
        estimate = self.admit(model, params, admitted)
        job = await self._submit(model, params, **inputs)
        self._emit("info", "provider.submitted", model=model, request_id=job.request_id)
        return Job(job.provider, job.model, job.request_id, job.urls, estimate.usd)

    async def _submit(self, model: str, params: Mapping[str, Any], **inputs: Any) -> Job:
        raise NotImplementedError(f"{self.name} does not run generation jobs")

    async def status(self, job: Job) -> JobStatus:
        raise NotImplementedError(f"{self.name} does not run generation jobs")

    async def result(self, job: Job) -> GenerationResult:
        raise NotImplementedError(f"{self.name} does not run generation jobs")

    async def wait(self, job: Job) -> GenerationResult:
        """Polls until the job completes (returns its result) or fails (raises ProviderJobFailed)."""
        deadline = self._clock() + self.settings.poll_timeout_s
        while True:
            current = await self.status(job)
            if current.state is JobState.COMPLETED:
                return await self.result(job)
            if current.state is JobState.FAILED:
                raise ProviderJobFailed(
                    self.name, f"job {job.request_id} failed: {self._redact(current.detail or 'no reason given')}",
                    request_id=job.request_id, raw=self._redactor.redact_value(current.raw),
                )
            if self._clock() >= deadline:
                raise ProviderTimeout(
                    self.name,
                    f"job {job.request_id} still {current.state.value} after "
                    f"{self.settings.poll_timeout_s:g}s; it may still finish, poll it again by request id "
                    f"or raise providers.{self.name}.poll_timeout_s",
                )
            await self._sleep(self.settings.poll_interval_s)

    async def generate(self, model: str, params: Mapping[str, Any], *, admitted: CostEstimate | None = None,
                       **inputs: Any) -> GenerationResult:
        job = await self.submit(model, params, admitted=admitted, **inputs)
        return await self.wait(job)

    # -- HTTP ----------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def _key(self) -> str:
        if self.settings.api_key is None:
            raise ProviderAuthError(
                self.name,
                f"no API key: set providers.{self.name}.api_key in the config or the environment variable "
                f"the service documents",
            )
        return self.settings.api_key.reveal()

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.settings.base_url + "/" + path_or_url.lstrip("/")

    def _trusted(self, url: str) -> bool:
        """Whether the key may go to this URL: the configured host, or a sibling under
        the same domain (BFL answers with regional polling hosts like api.us1.bfl.ai)."""
        parts = urlsplit(url)
        host, base_host = (parts.hostname or "").lower(), (self._base.hostname or "").lower()
        if parts.scheme != self._base.scheme:
            return False
        if host == base_host:
            return parts.port == self._base.port
        try:
            ip_address(base_host)
            return False
        except ValueError:
            pass
        domain = ".".join(base_host.split(".")[-2:])
        return "." in domain and host.endswith("." + domain)

    async def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        files: Any = None,
        form: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        what: str = "request",
    ) -> Any:
        """One logical call with retries; returns the decoded JSON answer.
        `form` holds plain multipart fields sent beside `files`."""
        url = self._url(path_or_url)
        if not self._trusted(url):
            raise ProviderMalformedResponse(
                self.name,
                f"the service pointed to {urlsplit(url).hostname!r}, which is not {self._base.hostname!r}; "
                "refusing to send the API key there",
            )
        if self.REQUIRES_KEY:
            self._key()                  # no key: fail here, before anything is sent
        # The key is added by an httpx.Auth hook at send time, so no frame of ours
        # holds it in a local (tracebacks rendered with locals would print it).
        auth = _HeaderAuth(self._auth_headers)
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD", "PUT", "DELETE")

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=Backoff(self.settings.backoff_base_s, self.settings.backoff_max_s,
                         self.settings.retry_after_cap_s),
            retry=retry_if_exception(lambda e: is_retryable(e, idempotent=idempotent)),
            sleep=self._sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._attempt(method, url, auth, json_body, files, form, what)
        except TransientStatus as exc:
            raise ProviderTransientError(
                self.name, f"{what} failed after {self.settings.max_retries + 1} attempts: "
                f"HTTP {exc.status} {self._redact(exc.message)}", status=exc.status,
            ) from None
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(
                self.name, f"{what} timed out ({type(exc).__name__}) after "
                f"{self.settings.max_retries + 1} attempt(s); the timeout is "
                f"providers.{self.name}.timeout_s={self.settings.timeout_s:g}",
            ) from None
        except httpx.HTTPError as exc:
            raise ProviderTransientError(
                self.name, f"{what} could not reach {self._base.hostname}: {self._redact(f'{type(exc).__name__}: {exc}')}",
            ) from None
        raise AssertionError("unreachable: tenacity either returns or raises")

    async def _attempt(self, method: str, url: str, auth: httpx.Auth, json_body: Any,
                       files: Any, form: Mapping[str, str] | None, what: str) -> Any:
        if not self.breaker.allow():
            self.metrics.requests.labels(self.name, "refused_open_circuit").inc()
            self.metrics.set_circuit(self.name, self.breaker.state)
            retry_in = self.breaker.retry_in_s()
            why = (f"not calling the service for another {retry_in:.1f}s" if retry_in > 0
                   else "a probe request is testing whether it is back")
            raise ProviderUnavailable(
                self.name,
                f"circuit open after {self.breaker.failure_threshold} consecutive failures; {why}",
                retry_in_s=retry_in,
            )
        started = time.monotonic()
        outcome = "transient"
        try:
            async with self._client.stream(method, url, auth=auth, json=json_body, files=files,
                                          data=dict(form) if form else None) as resp:
                status = resp.status_code
                if 200 <= status < 300:
                    body, truncated = await self._read(resp, self.settings.max_response_bytes)
                else:
                    body, truncated = await self._read(resp, _MAX_ERROR_BODY)
                resp_headers = resp.headers
            # Services echo keys back in error bodies; mask before the body lives anywhere.
            body = self._redactor.redact_bytes(body)
        except httpx.DecodingError:
            self.breaker.record_failure()
            raise ProviderMalformedResponse(self.name, f"{what} answer has a broken content encoding") from None
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            self.breaker.record_failure()
            self._emit("warning", "provider.transport_error", what=what, error=type(exc).__name__,
                       url=url, elapsed_ms=_ms(started))
            raise
        except BaseException:
            self.breaker.release()
            raise
        finally:
            self.metrics.latency.labels(self.name).observe(time.monotonic() - started)
            self.metrics.set_circuit(self.name, self.breaker.state)

        self._emit("info", "provider.http", what=what, method=method, url=url, status=status,
                   elapsed_ms=_ms(started))
        try:
            if status == 429:
                self.breaker.release()     # throttled, not broken: the circuit learns nothing
                raise TransientStatus(status, self._message(body), parse_retry_after(resp_headers))
            if is_transient_status(status):
                self.breaker.record_failure()
                raise TransientStatus(status, self._message(body), None)
            if not 200 <= status < 300:
                self.breaker.record_success()   # the service is up; it just said no
            if status in (401, 403):
                outcome = "auth"
                raise ProviderAuthError(
                    self.name, f"the service rejected the API key (HTTP {status}: {self._message(body)}); "
                    f"check providers.{self.name}.api_key",
                )
            if not 200 <= status < 300:
                outcome = "rejected"
                raise ProviderRequestError(
                    self.name, f"{what} rejected with HTTP {status}: {self._message(body)}", status=status,
                )
            if truncated:
                self.breaker.record_failure()
                raise ProviderMalformedResponse(
                    self.name, f"{what} answer is larger than providers.{self.name}.max_response_bytes="
                    f"{self.settings.max_response_bytes}",
                )
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                self.breaker.record_failure()
                outcome = "malformed"
                raise ProviderMalformedResponse(
                    self.name, f"{what} answer is not JSON: {self._snippet(body)!r}",
                ) from None
            self.breaker.record_success()
            outcome = "ok"
            return data
        finally:
            self.metrics.requests.labels(self.name, outcome).inc()
            self.metrics.set_circuit(self.name, self.breaker.state)

    @staticmethod
    async def _read(resp: httpx.Response, limit: int) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        total = 0
        async for chunk in resp.aiter_bytes():
            total += len(chunk)
            if total > limit:
                chunks.append(chunk[: len(chunk) - (total - limit)])
                return b"".join(chunks), True
            chunks.append(chunk)
        return b"".join(chunks), False

    def _message(self, body: bytes) -> str:
        """The service's own words for an error, from the shapes these services use."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return self._snippet(body) or "(empty body)"
        found: Any = None
        if isinstance(data, dict):
            err = data.get("error")
            if isinstance(err, dict):
                found = err.get("message") or err.get("type")
            elif isinstance(err, str):
                found = err
            found = found or data.get("detail") or data.get("message")
            if isinstance(found, list):     # fal / FastAPI validation: [{"loc":..., "msg":...}]
                found = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in found)
        return self._detail(self._redact(str(found if found is not None else data))[:_MAX_MESSAGE], data)

    def _detail(self, message: str, data: Any) -> str:
        """`message` plus what this service adds to its JSON error answers (`data`, parsed);
        a subclass overrides this, not the parsing."""
        return message

    def _snippet(self, body: bytes) -> str:
        return self._redact(body[:_MAX_MESSAGE].decode("utf-8", "replace"))

    def _redact(self, text: str) -> str:
        return self._redactor.redact(text)

    def _emit(self, level: str, event: str, **fields: Any) -> None:
        # Looked up per call, not bound once, so a logging config made after the
        # provider was built (the daemon's, a test's capture) still applies.
        log = structlog.get_logger(__name__)
        getattr(log, level)(event, provider=self.name, **self._redactor.redact_value(fields))

    def _before_retry(self, state: RetryCallState) -> None:
        self.metrics.retries.labels(self.name).inc()
        exc = state.outcome.exception() if state.outcome else None
        detail = f"HTTP {exc.status}" if isinstance(exc, TransientStatus) else type(exc).__name__
        wait = state.next_action.sleep if state.next_action else None
        self._emit("warning", "provider.retry", attempt=state.attempt_number, reason=detail,
                   wait_s=None if wait is None else round(wait, 3))

    def _malformed(self, what: str, detail: str) -> ProviderMalformedResponse:
        return ProviderMalformedResponse(self.name, f"{what}: {self._redact(detail)}")


class _HeaderAuth(httpx.Auth):
    def __init__(self, headers: Callable[[], dict[str, str]]) -> None:
        self._headers = headers

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers.update(self._headers())
        yield request


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

