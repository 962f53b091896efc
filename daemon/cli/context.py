"""What every command is handed: the configuration and catalog it works on, and how it answers.

Commands print results on stdout (`emit` for --json, one object per line) and
everything meant for a person on stderr; `fail` is the one way out with an
exit code. The configuration and the services are built only when a command
asks, so `alice inspect` never starts a catalog.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

# The exit codes are defined with the exception tree (daemon/errors.py); commands import them from here.
from alice.daemon.errors import EXIT_CATALOG, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL

if TYPE_CHECKING:
    from alice.daemon.app import App
    from alice.daemon.catalog.engine import Catalog
    from alice.daemon.config import Config
    from alice.daemon.quality.assess import Rescorer

__all__ = ["EXIT_CATALOG", "EXIT_CONFIG", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_PARTIAL", "CliContext", "emit",
           "fail", "json_option", "open_app", "pass_ctx", "progress", "rescorer", "resolve_asset"]


class CliContext:
    """The `--config` the user gave, and the configuration and services built from it on demand."""

    def __init__(self, config_path: Path | None):
        self.config_path = config_path
        self._config: Config | None = None

    def config(self) -> Config:
        from alice.daemon import config as config_mod

        if self._config is None:
            try:
                self._config = config_mod.load(self.config_path)
            except config_mod.ConfigError as exc:
                fail(f"configuration error: {exc}", EXIT_CONFIG)
        return self._config

    def app(self, application_name: str = "alice", pool_size: int = 5, serve_metrics: bool = False) -> App:
        """The process's services (daemon/app.py), built lazily; close it when done."""
        from alice.daemon.app import App

        return App(self.config(), application_name=application_name, pool_size=pool_size,
                   serve_metrics=serve_metrics)

    def catalog(self, application_name: str = "alice", pool_size: int = 5) -> Catalog:
        from alice.daemon.catalog.engine import Catalog
        from alice.daemon.catalog.errors import CatalogError

        cfg = self.config()
        try:
            return Catalog.open(cfg.database.url or None, cfg.data_dir, application_name=application_name,
                                pool_size=pool_size)
        except CatalogError as exc:
            fail(f"catalog unavailable: {exc}", EXIT_CATALOG)


def fail(message: str, code: int) -> NoReturn:
    from alice.daemon.cli.wording import for_terminal

    click.echo(f"alice: {for_terminal(message)}", err=True)
    sys.exit(code)


def emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


pass_ctx = click.make_pass_decorator(CliContext)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of text.")


def open_app(app: App) -> App:
    """`app` with its catalog open, or exit 3 naming why it is not."""
    from alice.daemon.catalog.errors import CatalogError

    try:
        _ = app.catalog          # opening it is the point: fail here, with exit 3, not mid-command
    except CatalogError as exc:
        fail(f"catalog unavailable: {exc}", EXIT_CATALOG)
    return app


def rescorer(app: App) -> Rescorer | None:
    """The paid quality stages for filing (None unless quality is on and names one); provider
    log lines go to stderr, never into --json."""
    from alice.daemon.ops.logs import configure_logging
    from alice.providers.errors import ProviderConfigError

    quality = app.quality
    if quality is None or len(quality.stages) == 1:
        return None
    configure_logging(app.cfg.log.level, app.cfg.log.json)
    try:
        return app.rescorer()
    except ProviderConfigError as exc:
        fail(f"configuration error: {exc}", EXIT_CONFIG)


def resolve_asset(catalog: Catalog, ref: str) -> int:
    """An asset id from a content id, an asset id or a file's path (daemon/catalog/asset_ref.py);
    exits 2 if none matches."""
    from alice.daemon import errors
    from alice.daemon.catalog.asset_ref import find_asset

    try:
        with catalog.session() as s:
            return find_asset(s, ref)
    except (errors.NotFound, errors.InvalidRequest) as exc:
        fail(str(exc), exc.exit_code)


class _NoBar:
    def __init__(self, items: list[Any]):
        self.items = items

    def __enter__(self) -> Iterator[Any]:
        return iter(self.items)

    def __exit__(self, *exc: Any) -> None:
        return None


def progress(items: list[Any], quiet: bool, label: str) -> Any:
    """A progress bar on stderr when a person is watching, nothing otherwise."""
    if quiet or not sys.stderr.isatty() or not items:
        return _NoBar(items)
    return click.progressbar(items, label=label, file=sys.stderr, show_pos=True, show_eta=True,
                             item_show_func=lambda s: s.path.name[:40] if s else "")
