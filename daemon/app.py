"""The one place alice is assembled: Config -> Catalog -> Providers (once) -> services.

Every command that needs more than the config builds an App and asks it for
what it needs; the App builds each part once, on first use, in dependency
order, and `close()` takes them down in the reverse order: the generator's
work, then the providers' clients and their loop, then the metrics endpoint,
then the catalog. So a daemon holds one set of providers (one circuit breaker
per service), one provider event loop, and one registry whose /metrics shows
provider series beside the daemon's own.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from alice.daemon.config import Config

if TYPE_CHECKING:
    from alice.daemon.catalog.engine import Catalog
    from alice.daemon.generation.generator import Generator
    from alice.daemon.ingest.runner import Daemon
    from alice.daemon.ops.metrics import DaemonMetrics
    from alice.daemon.provider_host import ProviderHost
    from alice.daemon.quality.assess import Rescorer
    from alice.pipeline.quality.config import QualityConfig


class App:
    """Lazily built services for one process. Construction opens nothing."""

    def __init__(self, cfg: Config, *, application_name: str = "alice", pool_size: int = 5,
                 serve_metrics: bool = False) -> None:
        self.cfg = cfg
        self._application_name = application_name
        self._pool_size = pool_size
        self._serve_metrics = serve_metrics
        self._catalog: Catalog | None = None
        self._metrics: DaemonMetrics | None = None
        self._providers: ProviderHost | None = None
        self._generator: Generator | None = None

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- parts, each built once ------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """The catalog (the configured server, else the embedded one). Raises CatalogError."""
        if self._catalog is None:
            from alice.daemon.catalog.engine import Catalog

            self._catalog = Catalog.open(self.cfg.database.url or None, self.cfg.data_dir,
                                         application_name=self._application_name, pool_size=self._pool_size)
        return self._catalog

    @property
    def metrics(self) -> DaemonMetrics | None:
        """The metrics endpoint when this process serves one (`alice run` with metrics.enabled).
        Raises MetricsServerError when its port cannot be bound."""
        if self._metrics is None and self._serve_metrics and self.cfg.metrics.enabled:
            from alice.daemon.ops.metrics import DaemonMetrics

            self._metrics = DaemonMetrics.serve(self.cfg.metrics.host, self.cfg.metrics.port)
        return self._metrics

    @property
    def providers(self) -> ProviderHost:
        """Every configured provider, recording into the served registry if there is one.
        Raises ProviderConfigError."""
        if self._providers is None:
            from alice.daemon.provider_host import ProviderHost

            metrics = self.metrics
            self._providers = ProviderHost.build(self.cfg.providers,
                                                 metrics=None if metrics is None else metrics.providers)
        return self._providers

    @property
    def quality(self) -> QualityConfig | None:
        """The quality cascade's settings (parsed once, at load), None when quality is off."""
        return self.cfg.quality if self.cfg.quality.enabled else None

    def rescorer(self) -> Rescorer | None:
        """The paid stages of quality.stages, run on each file before it is filed; None when
        quality is off or names only the local technical stage (filing then makes no network call)."""
        quality = self.quality
        if quality is None or len(quality.stages) == 1:
            return None
        from alice.daemon.quality.assess import record_rescorer

        return record_rescorer(quality, self.providers, self.catalog)

    @property
    def generator(self) -> Generator:
        """The process's generator over the one provider host. Raises ProviderConfigError."""
        if self._generator is None:
            from alice.daemon.generation.generator import Generator

            self._generator = Generator(self.cfg, self.catalog, self.providers)
        return self._generator

    def daemon(self, worker: str) -> Daemon:
        """`alice run`'s service, wired to this app's parts. A generator is lent only when
        providers are configured; misconfigured providers turn generation off, not the daemon."""
        from alice.daemon.ingest.runner import Daemon
        from alice.providers.errors import ProviderConfigError

        generator = None
        rescore = None
        provider_error = None
        try:
            rescore = self.rescorer()
            if self.cfg.providers:
                generator = self.generator
        except ProviderConfigError as exc:
            provider_error = str(exc)
        daemon = Daemon(self.cfg, self.catalog, quality=self.quality, metrics=self.metrics, worker=worker,
                        rescore=rescore, generator=generator)
        if provider_error is not None:
            daemon.note_provider_error(provider_error)
        return daemon

    # -- teardown ----------------------------------------------------------------------------------
    def close(self) -> None:
        generator, self._generator = self._generator, None
        providers, self._providers = self._providers, None
        metrics, self._metrics = self._metrics, None
        catalog, self._catalog = self._catalog, None
        if generator is not None:
            generator.close()
        if providers is not None:
            providers.close()
        if metrics is not None:
            metrics.close()
        if catalog is not None:
            catalog.close()
