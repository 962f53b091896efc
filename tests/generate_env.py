"""A Generator wired to the fake services and a fresh catalog, for the generation tests."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from alice.daemon.catalog.engine import Catalog
from alice.daemon.config import Config
from alice.daemon.generation.generator import Generator
from alice.daemon.provider_host import ProviderHost
from alice.providers.config import ProvidersConfig
from tests.fakes.server import FakeService

FAST = {"timeout_s": 5.0, "connect_timeout_s": 2.0, "backoff_base_s": 0.001, "backoff_max_s": 0.01,
        "poll_interval_s": 0.01, "poll_timeout_s": 10.0, "max_retries": 1}


def provider_config(**fakes: FakeService) -> dict[str, Any]:
    """The `providers:` config section pointing each named provider at its fake; others disabled."""
    section: dict[str, Any] = {name: {"enabled": False} for name in ("fal", "bfl", "hedra", "openai", "anthropic")}
    for name, fake in fakes.items():
        section[name] = {"base_url": fake.url, "api_key": fake.api_key, **FAST}
    return section


def make_config(root: Path, providers: dict[str, Any]) -> Config:
    for name in ("inbox", "organized", "data"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return Config(inboxes=(root / "inbox",), organized=root / "organized", data_dir=root / "data",
                  providers=ProvidersConfig.from_mapping(providers, env={}))


class OwnedGenerator(Generator):
    """A test's generator that owns its provider host (in alice, the app owns it)."""

    def close(self) -> None:
        super().close()
        self.providers.close()


def make_generator(root: Path, catalog: Catalog, **fakes: FakeService) -> Generator:
    cfg = make_config(root, provider_config(**fakes))
    return OwnedGenerator(cfg, catalog, ProviderHost.build(cfg.providers, env={}))
