"""Loading and validating alice's YAML configuration.

Where the file is: `--config PATH` if given, else `$ALICE_CONFIG`, else
`$XDG_CONFIG_HOME/alice/config.yaml` (`~/.config/alice/config.yaml`).
Environment variables override single keys (see ENV_OVERRIDES), which is how
a systemd unit or a CI job points alice somewhere else without a new file.

Every key is documented in config.example.yaml at the top of the repository.
Unknown keys are an error: a typo that is silently ignored is a setting the
user believes in and does not have.
"""
from __future__ import annotations

import difflib
import os
import types
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from alice.daemon import errors
from alice.pipeline.plan import Layout, LayoutError
from alice.pipeline.quality.config import QualityConfig, QualityConfigError
from alice.pipeline.quality.stages import StageNameError, parse_stage
from alice.providers.config import ENV_KEYS, ProvidersConfig
from alice.providers.errors import ProviderConfigError


class ConfigError(errors.AliceError):
    """The configuration cannot be used; the message names the key and the fix."""
    exit_code = errors.EXIT_CONFIG
    rpc_code = errors.INVALID_PARAMS


def xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


def xdg_data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def default_config_path() -> Path:
    return xdg_config_home() / "alice" / "config.yaml"


# Where pam_systemd makes each user's runtime directory; XDG_RUNTIME_DIR normally points here.
RUN_USER = Path("/run/user")


def default_socket_path() -> Path:
    """The one rule for where the daemon listens and where clients look, when `socket` is not set.

    XDG_RUNTIME_DIR if set; else the user's /run/user/<uid> if it exists (a
    daemon under systemd has XDG_RUNTIME_DIR pointing there, while an assistant
    that starts `alice mcp` often passes no such variable: both must land on
    the same path); else /tmp/alice-<uid>.
    """
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        base = Path(runtime)
    else:
        mine = RUN_USER / str(os.getuid())
        try:
            owned = mine.is_dir() and mine.stat().st_uid == os.getuid()
        except OSError:
            owned = False
        base = mine if owned else Path("/tmp") / f"alice-{os.getuid()}"
    return base / "alice" / "alice.sock"


MODES = ("copy", "move")


class Section:
    """A plain `key: value` section of the file. Its dataclass fields are the one table of
    its keys and their types: parsing, unknown-key messages and defaults all read them."""

    @classmethod
    def kinds(cls) -> dict[str, Any]:
        hints = get_type_hints(cls)
        return {f.name: hints[f.name] for f in fields(cls)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class DatabaseConfig(Section):
    url: str = ""                     # empty: embedded PostgreSQL in data_dir


@dataclass(frozen=True)
class WatchConfig(Section):
    settle_seconds: float = 2.0       # size+mtime stable this long => ready (polling / network shares)
    rescan_minutes: float = 30.0      # safety-net full scan; 0 disables it
    poll: bool = False                # force polling (network file systems without inotify)


@dataclass(frozen=True)
class QueueConfig(Section):
    lease_seconds: float = 30.0       # renewed every third of it; a crash costs seconds
    max_attempts: int = 5


@dataclass(frozen=True)
class MetricsConfig(Section):
    enabled: bool = False
    port: int = 9464
    host: str = "127.0.0.1"


@dataclass(frozen=True)
class LogConfig(Section):
    level: str = "info"
    json: bool | None = None          # None: JSON when stderr is not a terminal


@dataclass(frozen=True)
class ThumbnailsConfig(Section):
    max_files: int = 20000            # the cache in <data_dir>/thumbnails drops least recently used beyond this


@dataclass(frozen=True)
class Config:
    """The validated configuration. Frozen: a command that needs another value (e.g.
    `alice run --workers`) makes a changed copy with dataclasses.replace."""
    inboxes: tuple[Path, ...]
    organized: Path
    data_dir: Path
    mode: str = "copy"
    layout: str = "{date}/{project}/{tool}"
    default_project: str = "inbox"
    workers: int = 0                  # 0: one per CPU core
    filing_processes: int = -1       # beside the daemon's own filing; -1 ("auto"): one per core beyond the first
    socket: Path = field(default_factory=default_socket_path)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    log: LogConfig = field(default_factory=LogConfig)
    thumbnails: ThumbnailsConfig = field(default_factory=ThumbnailsConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    # Every known service, API keys resolved from the file and the environment at load.
    providers: ProvidersConfig = field(default_factory=lambda: ProvidersConfig.from_mapping(None))
    source: Path | None = None        # the file this came from, for messages

    @property
    def quarantine(self) -> Path:
        return self.organized / ".quarantine"

    @property
    def quality_enabled(self) -> bool:
        return self.quality.enabled

    @property
    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1)

    def roots(self) -> list[Path]:
        """Every folder alice may read or write."""
        return [*self.inboxes, self.organized, self.data_dir]


# The one table of keys is Config's fields; the sections are those typed as a Section.
_HINTS = get_type_hints(Config)
_TOP_KEYS = tuple(f.name for f in fields(Config) if f.name != "source")
_SECTIONS: dict[str, type[Section]] = {
    name: kind for name, kind in _HINTS.items() if isinstance(kind, type) and issubclass(kind, Section)
}

ENV_OVERRIDES: dict[str, str] = {
    "ALICE_DATABASE_URL": "database.url",
    "ALICE_DATA_DIR": "data_dir",
    "ALICE_ORGANIZED": "organized",
    "ALICE_INBOXES": "inboxes",          # os.pathsep-separated
    "ALICE_MODE": "mode",
    "ALICE_LAYOUT": "layout",
    "ALICE_SOCKET": "socket",
    "ALICE_WORKERS": "workers",
    "ALICE_FILING_PROCESSES": "filing_processes",
    "ALICE_LOG_LEVEL": "log.level",
    "ALICE_METRICS_PORT": "metrics.port",
}


def _unknown(key: str, valid: tuple[str, ...] | list[str]) -> ConfigError:
    dotted = key.rsplit(".", 1)
    leaf = dotted[-1]
    close = difflib.get_close_matches(leaf, list(valid), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ConfigError(f"unknown key '{key}'.{hint} Valid keys here: {', '.join(sorted(valid))}.")


def _path(key: str, value: Any, base: Path | None) -> Path:
    if not isinstance(value, (str, os.PathLike)) or str(value).strip() == "":
        raise ConfigError(f"'{key}' must be a folder path, got {value!r}.")
    p = Path(os.path.expandvars(str(value))).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return Path(os.path.normpath(p))


def _typed(key: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"'{key}' must be true or false, got {value!r}.")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ConfigError(f"'{key}' must be a whole number, got {value!r}.")
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"'{key}' must be a whole number, got {value!r}.") from None
    if kind is float:
        if isinstance(value, bool):
            raise ConfigError(f"'{key}' must be a number, got {value!r}.")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"'{key}' must be a number, got {value!r}.") from None
    if kind is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)):
            raise ConfigError(f"'{key}' must be text, got {value!r}.")
        return str(value)
    return value


def _optional(kind: Any) -> tuple[Any, bool]:
    """(X, True) for `X | None`, else (kind, False)."""
    if get_origin(kind) in (Union, types.UnionType):
        args = [a for a in get_args(kind) if a is not type(None)]
        if len(args) == 1 and len(get_args(kind)) == 2:
            return args[0], True
    return kind, False


def _section(name: str, raw: Any) -> Any:
    cls = _SECTIONS[name]
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(f"'{name}' must be a mapping of keys, got {raw!r}.")
    kinds = cls.kinds()
    values = {}
    for key, value in raw.items():
        if key not in kinds:
            raise _unknown(f"{name}.{key}", tuple(kinds))
        kind, nullable = _optional(kinds[key])
        values[key] = None if value is None and nullable else _typed(f"{name}.{key}", value, kind)
    return cls(**values)


def parse(raw: dict[str, Any], *, source: Path | None = None,
          environ: dict[str, str] | None = None) -> Config:
    """Validate a parsed YAML mapping (plus environment overrides) into a Config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the configuration file must be a mapping of keys (key: value), "
                          f"got {type(raw).__name__}.")
    raw = _apply_env(dict(raw), os.environ if environ is None else environ)
    for key in raw:
        if key not in _TOP_KEYS:
            raise _unknown(str(key), _TOP_KEYS)
    base = source.parent if source else None

    data_dir = _path("data_dir", raw.get("data_dir") or xdg_data_home() / "alice", base)
    if "organized" not in raw or raw["organized"] in (None, ""):
        raise ConfigError("'organized' is missing: set it to the folder where alice files organized media, "
                          "e.g. organized: ~/AI-Organized")
    organized = _path("organized", raw["organized"], base)

    inboxes_raw = raw.get("inboxes")
    if isinstance(inboxes_raw, str):
        inboxes_raw = [inboxes_raw]
    if not inboxes_raw or not isinstance(inboxes_raw, list):
        raise ConfigError("'inboxes' must list at least one folder, e.g.\ninboxes:\n  - ~/AI-Inbox")
    inboxes = [_path(f"inboxes[{i}]", v, base) for i, v in enumerate(inboxes_raw)]
    for i, inbox in enumerate(inboxes):
        if inbox == organized or _inside(organized, inbox) or _inside(inbox, organized):
            raise ConfigError(f"'inboxes[{i}]' ({inbox}) and 'organized' ({organized}) overlap: alice would "
                              "re-import what it files. Use separate folders.")
    if len(set(inboxes)) != len(inboxes):
        raise ConfigError("'inboxes' lists the same folder twice.")

    mode = _typed("mode", raw.get("mode", "copy"), str)
    if mode not in MODES:
        raise ConfigError(f"'mode' must be 'copy' or 'move', got {mode!r}.")
    layout = _typed("layout", raw.get("layout", Config.layout), str)
    _check_layout(layout)
    default_project = _typed("default_project", raw.get("default_project", "inbox"), str).strip()
    if not default_project:
        raise ConfigError("'default_project' must not be empty.")
    workers = _typed("workers", raw.get("workers", 0), int)
    if workers < 0:
        raise ConfigError(f"'workers' must be 0 (one per core) or more, got {workers}.")
    filing = raw.get("filing_processes", "auto")
    filing_processes = -1 if filing in (None, "auto") else _typed("filing_processes", filing, int)
    if filing_processes < -1:
        raise ConfigError(f"'filing_processes' must be auto, 0 (file in the daemon's process only) or more, "
                          f"got {filing_processes}.")
    socket = _path("socket", raw["socket"], base) if raw.get("socket") else default_socket_path()

    quality = _quality(raw.get("quality"))
    providers = raw.get("providers") or {}
    if not isinstance(providers, dict):
        raise ConfigError(f"'providers' must be a mapping of provider names, got {providers!r}.")
    for name in providers:
        if name not in ENV_KEYS:
            raise _unknown(f"providers.{name}", tuple(ENV_KEYS))
    try:
        provider_settings = ProvidersConfig.from_mapping(providers, os.environ if environ is None else environ)
    except ProviderConfigError as exc:
        raise ConfigError(str(exc)) from None

    cfg = Config(
        inboxes=tuple(inboxes), organized=organized, data_dir=data_dir, mode=mode, layout=layout,
        default_project=default_project, workers=workers, filing_processes=filing_processes, socket=socket,
        quality=quality, providers=provider_settings, source=source,
        **{name: _section(name, raw.get(name)) for name in _SECTIONS},
    )
    if cfg.log.level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"'log.level' must be debug, info, warning or error, got {cfg.log.level!r}.")
    if not 0 <= cfg.metrics.port <= 65535:
        raise ConfigError(f"'metrics.port' must be 0..65535, got {cfg.metrics.port}.")
    if cfg.thumbnails.max_files < 16:
        raise ConfigError(f"'thumbnails.max_files' must be at least 16 (one contact sheet), "
                          f"got {cfg.thumbnails.max_files}.")
    if cfg.queue.max_attempts < 1:
        raise ConfigError("'queue.max_attempts' must be at least 1.")
    return cfg


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.relative_to(parent)
        return child != parent
    except ValueError:
        return False


def _check_layout(layout: str) -> None:
    try:
        Layout(layout)
    except LayoutError as exc:
        raise ConfigError(f"'layout': {exc}") from None


def _quality(raw: Any) -> QualityConfig:
    """The `quality:` section, parsed once; every consumer gets this object."""
    if raw is None:
        return QualityConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"'quality' must be a mapping, got {raw!r}.")
    data = dict(raw)
    data["enabled"] = _typed("quality.enabled", data.get("enabled", False), bool)
    try:
        quality = QualityConfig.from_mapping(data)
        if len(quality.stages) > 1:
            # Imported only when paid stages are configured: it imports every provider.
            from alice.providers.registry import quality_stage_offers

            offers = quality_stage_offers()
            for name in quality.stages[1:]:
                parse_stage(name, offers)
    except (QualityConfigError, StageNameError) as exc:
        raise ConfigError(f"'quality': {exc}") from None
    return quality


def _apply_env(raw: dict[str, Any], environ: dict[str, str] | Any) -> dict[str, Any]:
    for var, dotted in ENV_OVERRIDES.items():
        if var not in environ:
            continue
        value: Any = environ[var]
        if dotted == "inboxes":
            value = [v for v in value.split(os.pathsep) if v]
        if "." in dotted:
            section, key = dotted.split(".")
            sub = raw.get(section) or {}
            if not isinstance(sub, dict):
                sub = {}
            raw[section] = {**sub, key: value}
        else:
            raw[dotted] = value
    return raw


def config_path(explicit: Path | None = None, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("ALICE_CONFIG"):
        return Path(env["ALICE_CONFIG"]).expanduser()
    return default_config_path()


def load(explicit: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Find, read and validate the configuration."""
    path = config_path(explicit, environ)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"no configuration at {path}. Run `alice init` to create one, "
                          "or point --config / ALICE_CONFIG at your file.") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}.") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}.") from None
    try:
        return parse(raw, source=path, environ=environ)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def render_initial(inbox: Path, organized: Path, data_dir: Path) -> str:
    """The config `alice init` writes: the minimum, with pointers to the rest."""
    return (
        "# alice configuration. Every key is documented in config.example.yaml,\n"
        "# which ships in alice's source tree beside the README.\n"
        "inboxes:\n"
        f"  - {inbox}\n"
        f"organized: {organized}\n"
        f"data_dir: {data_dir}\n"
        "mode: copy              # copy (default) leaves your files in the inbox; move removes them once filed\n"
        'layout: "{date}/{project}/{tool}"\n'
        "database:\n"
        '  url: ""               # empty: alice runs its own PostgreSQL in data_dir\n'
        "quality:\n"
        "  enabled: false        # true: sort each project into 1-star .. 5-star folders (add {stars} to layout)\n"
    )

