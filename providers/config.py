"""Provider settings from the `providers.<name>` config mapping plus the environment.

The API key comes from `providers.<name>.api_key`, else from the service's usual
environment variable (FAL_KEY, BFL_API_KEY, ...), else the provider is listed as
"no key" and every paid call raises ProviderAuthError before anything is sent.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from .errors import ProviderConfigError
from .redaction import Secret

# The variable each service's own SDK and docs use.
ENV_KEYS: dict[str, tuple[str, ...]] = {
    "fal": ("FAL_KEY",),
    "bfl": ("BFL_API_KEY",),
    "hedra": ("HEDRA_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    # The user's own generators need no key.
    "comfyui": (),
    "a1111": (),
}

DEFAULT_BASE_URLS: dict[str, str] = {
    "fal": "https://queue.fal.run",
    # BFL's newest docs use the global api.bfl.ai endpoint (older ones api.bfl.ml / api.us1.bfl.ai).
    "bfl": "https://api.bfl.ai",
    "hedra": "https://api.hedra.com/web-app/public",
    "openai": "https://api.openai.com",
    "anthropic": "https://api.anthropic.com",
    "comfyui": "http://127.0.0.1:8188",
    "a1111": "http://127.0.0.1:7860",      # also Forge and SD.Next, which serve the same API
}

# Defaults that differ per service. A1111 answers txt2img only once the images
# exist, so one HTTP request lasts as long as the whole generation.
PROVIDER_DEFAULTS: dict[str, dict[str, float]] = {
    "a1111": {"timeout_s": 600.0},
}

_OTHER = {"base_url", "api_key", "api_key_env", "prices", "enabled", "extra_models", "input_dir"}
# Services whose server reads input files from a folder alice may also see (for lineage).
_HAS_INPUT_DIR = {"comfyui"}
MODEL_KINDS = ("image", "video", "audio", "avatar_video", "vision")


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str
    api_key: Secret | None = field(default=None, repr=False)
    # The numeric settings: each is `providers.<name>.<field>` in the config, checked as its type.
    timeout_s: float = 60.0            # read/write timeout of one HTTP request
    connect_timeout_s: float = 10.0
    backoff_base_s: float = 0.5        # first retry waits up to this (full jitter), doubling
    backoff_max_s: float = 30.0
    retry_after_cap_s: float = 60.0    # never wait longer than this for a 429's Retry-After
    cooldown_s: float = 30.0           # circuit breaker: open this long before a probe
    poll_interval_s: float = 2.0       # job status polling
    poll_timeout_s: float = 900.0      # give up on a job after this long
    max_retries: int = 3               # retries after the first attempt, transient errors only
    failure_threshold: int = 5         # consecutive failures that open the circuit
    max_response_bytes: int = 64 * 1024 * 1024      # JSON answers (OpenAI b64 images are big)
    max_download_bytes: int = 2 * 1024 * 1024 * 1024
    prices: Mapping[str, Any] = field(default_factory=dict)
    # Model ids the code does not know yet (services ship new ones monthly): id -> kind.
    extra_models: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    # ComfyUI's input folder as this machine sees it, when it does: lets lineage match a
    # graph's LoadImage names to catalogued files without asking the server.
    input_dir: str | None = None

    @property
    def has_key(self) -> bool:
        return self.api_key is not None

    @classmethod
    def from_mapping(
        cls,
        name: str,
        data: Mapping[str, Any] | None,
        env: Mapping[str, str] | None = None,
    ) -> ProviderSettings:
        env = os.environ if env is None else env
        data = {} if data is None else data
        where = f"providers.{name}"
        if not isinstance(data, Mapping):
            raise ProviderConfigError(name, f"{where} must be a mapping, got {type(data).__name__}")
        unknown = set(data) - set(NUMBERS) - _OTHER
        if unknown:
            raise ProviderConfigError(name, f"{where} has unknown keys {sorted(unknown)}")

        base_url = data.get("base_url", DEFAULT_BASE_URLS.get(name))
        if not isinstance(base_url, str):
            raise ProviderConfigError(name, f"{where}.base_url is required (an http(s) URL)")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderConfigError(name, f"{where}.base_url must be an http(s) URL, got {base_url!r}")

        values: dict[str, Any] = {}
        own = PROVIDER_DEFAULTS.get(name, {})
        for key, (kind, default) in NUMBERS.items():
            values[key] = _number(name, where, key, data.get(key, own.get(key, default)), kind)
        if values["failure_threshold"] < 1:
            raise ProviderConfigError(name, f"{where}.failure_threshold must be at least 1")

        prices = data.get("prices", {})
        if not isinstance(prices, Mapping):
            raise ProviderConfigError(name, f"{where}.prices must be a mapping of model -> price")
        extra = data.get("extra_models", {})
        if not isinstance(extra, Mapping) or not all(
                isinstance(k, str) and k and v in MODEL_KINDS for k, v in extra.items()):
            raise ProviderConfigError(
                name, f"{where}.extra_models must map model ids to one of {list(MODEL_KINDS)}")
        missing = sorted(set(extra) - set(prices))
        if missing:
            raise ProviderConfigError(
                name, f"{where}.extra_models {missing} need a price: add {where}.prices.<model> "
                "like {unit: image, usd: 0.04}")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ProviderConfigError(name, f"{where}.enabled must be true or false")
        input_dir = data.get("input_dir")
        if input_dir is not None:
            if name not in _HAS_INPUT_DIR:
                raise ProviderConfigError(name, f"{where}.input_dir: only {sorted(_HAS_INPUT_DIR)} read input folders")
            if not isinstance(input_dir, str) or not input_dir.strip():
                raise ProviderConfigError(name, f"{where}.input_dir must be a folder path")

        return cls(
            name=name, base_url=base_url.rstrip("/"), api_key=_api_key(name, where, data, env),
            prices=dict(prices), extra_models=dict(extra), enabled=enabled,
            input_dir=None if input_dir is None else input_dir.strip(), **values,
        )


# The numeric fields above with their type and default, read off the class: one table.
NUMBERS: Mapping[str, tuple[type, Any]] = MappingProxyType({
    f.name: ({"float": float, "int": int}[str(f.type)], f.default)
    for f in fields(ProviderSettings) if f.type in ("float", "int")})


def _number(name: str, where: str, key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProviderConfigError(name, f"{where}.{key} must be a number, got {value!r}")
    if kind is int and value != int(value):
        raise ProviderConfigError(name, f"{where}.{key} must be a whole number, got {value!r}")
    if value < 0 or value != value or value == float("inf"):
        raise ProviderConfigError(name, f"{where}.{key} must be a finite number >= 0, got {value!r}")
    return kind(value)


def _api_key(name: str, where: str, data: Mapping[str, Any], env: Mapping[str, str]) -> Secret | None:
    raw = data.get("api_key")
    if raw is not None:
        if not isinstance(raw, str) or not raw.strip():
            # Deliberately not echoing the value: it may be a key with a typo.
            raise ProviderConfigError(name, f"{where}.api_key must be a non-empty string")
        return Secret(raw)
    names: tuple[str, ...] = ENV_KEYS.get(name, ())
    custom = data.get("api_key_env")
    if custom is not None:
        if not isinstance(custom, str) or not custom:
            raise ProviderConfigError(name, f"{where}.api_key_env must be an environment variable name")
        names = (custom,)
    for var in names:
        value = env.get(var, "")
        if value.strip():
            return Secret(value)
    return None


@dataclass(frozen=True)
class ProvidersConfig:
    """The `providers:` section, parsed once: settings for every known service.

    Services the file does not name are here too (their key may be in the
    environment); `enabled: false` ones are left out. Falsy when the file has
    no providers section at all, which is how the daemon knows generation is
    not set up.
    """
    settings: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    configured: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.configured)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None,
                     env: Mapping[str, str] | None = None) -> ProvidersConfig:
        data = {} if data is None else data
        if not isinstance(data, Mapping):
            raise ProviderConfigError(
                "providers", f"the providers section must be a mapping, got {type(data).__name__}")
        unknown = set(data) - set(ENV_KEYS)
        if unknown:
            raise ProviderConfigError("providers", f"unknown providers {sorted(unknown)}; known: {sorted(ENV_KEYS)}")
        built = {name: ProviderSettings.from_mapping(name, data.get(name), env) for name in ENV_KEYS}
        return cls(MappingProxyType({n: s for n, s in built.items() if s.enabled}), tuple(data))
