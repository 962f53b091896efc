"""The YAML file beside each organized file: its AssetRecord in a form people read.

`dump` and `load` are exact inverses (load(dump(r)) == r), so the sidecar
alone can rebuild the catalog. Layout: a version key first, then identity,
then what the file is, then where it lives, then the generation record, and
the bulky tool-specific `raw` last. Prompts with line breaks are written as
literal blocks so they read as they were typed; anything YAML cannot show
plainly (control characters, "null", "yes", "---") is quoted or escaped by
the emitter. Datetimes are ISO 8601 strings with their UTC offset.

Loading is strict: no YAML aliases (an alias bomb expands exponentially when
walked), a size cap, and each field type-checked, so a hand-edited sidecar
fails with a message that names the field.
"""
from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from alice.pipeline.generation import Generation
from alice.pipeline.record import AssetRecord

VERSION = 1
VERSION_KEY = "alice_sidecar"
SUFFIX = ".yaml"
MAX_TEXT = 64 << 20

ORDER = ("content_id", "file_hash", "size", "format", "media", "tool", "ai", "project", "created_at",
         "width", "height", "stars", "user_stars", "tags", "source_path", "organized_path", "organized_at",
         "generation", "parents", "evidence", "warnings", "quality", "perceptual_hash", "raw")
REQUIRED = ("content_id", "file_hash", "size", "format", "media", "tool", "ai", "project", "source_path",
            "created_at")
# Catalog bookkeeping, not a fact about the file: never written to a sidecar.
NOT_IN_SIDECAR = frozenset({"pixels_pending"})
assert set(ORDER) == {f.name for f in fields(AssetRecord)} - NOT_IN_SIDECAR, \
    "sidecar ORDER must list every AssetRecord field"


class SidecarError(ValueError):
    """A sidecar that is not valid YAML or does not describe an AssetRecord."""


def sidecar_path(p: Path) -> Path:
    """Where the sidecar of `p` lives: beside it, named `<file name>.yaml`."""
    return p.with_name(p.name + SUFFIX)


# -- dump -------------------------------------------------------------------------------
_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))
_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Nodes:
    """The representer's nodes for plain dicts, lists, strings, ints, bools and None built
    directly: the same nodes SafeRepresenter builds with dump()'s options (block style,
    keys in order, no aliases), without its per-value alias, type-MRO and table lookups,
    which took most of a sidecar's dump time (a sidecar has ~170 values and one is written
    for every file filed). Anything else goes the representer's way."""

    default_flow_style: Any
    default_style: Any
    sort_keys: bool

    def ignore_aliases(self, data: Any) -> bool:
        return True     # a shared list would otherwise come out as &id001 / *id001

    def represent_data(self, data: Any) -> yaml.Node:
        if self.default_flow_style is not False or self.default_style is not None or self.sort_keys:
            return super().represent_data(data)     # type: ignore[misc]
        kind = type(data)
        if kind is str:
            return yaml.ScalarNode(_STR, data, style=_style(data))
        if kind is dict:
            return yaml.MappingNode(_MAP, [(self.represent_data(k), self.represent_data(v))
                                           for k, v in data.items()], flow_style=False)
        if kind is list:
            return yaml.SequenceNode(_SEQ, [self.represent_data(v) for v in data], flow_style=False)
        if kind is int:
            return yaml.ScalarNode(_INT, str(data))
        if kind is bool:
            return yaml.ScalarNode(_BOOL, "true" if data else "false")
        if data is None:
            return yaml.ScalarNode(_NULL, "null")
        return super().represent_data(data)     # type: ignore[misc]


class _Dumper(_Nodes, yaml.SafeDumper):
    pass


# libyaml's emitter, when PyYAML has it, is 4-5x faster, and a sidecar is written
# for every file filed. It cannot encode lone surrogates (non-UTF-8 file names
# decoded with surrogateescape), which the Python emitter escapes; dump() falls
# back to _Dumper for those.
class _FastDumper(_Nodes, getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


# PyYAML writes these raw in plain, single-quoted and block scalars, and its
# reader then takes them for line breaks (NEL, LS, PS) or a byte-order mark.
# Only the double-quoted style escapes them.
_MISREAD = frozenset("\x85\u2028\u2029\ufeff")


def _style(value: str) -> str | None:
    if not _MISREAD.isdisjoint(value):
        return '"'
    if "\n" in value.strip("\n"):
        return "|"      # the emitter falls back to quoting when a literal block cannot hold the text exactly
    return None


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(_STR, value, style=_style(value))


def _other(dumper: yaml.SafeDumper, value: Any) -> yaml.Node:
    # `raw` and `quality` promise JSON-safe values, but a numpy score or a
    # tuple slipping through must not cost the file its sidecar.
    if hasattr(value, "item") and callable(value.item):     # numpy scalars
        return dumper.represent_data(value.item())
    if isinstance(value, (tuple, set, frozenset)):
        return dumper.represent_list(list(value))
    return _str(dumper, str(value))    # str subclasses (StrEnum), Path, anything else: its text


for _cls in (_Dumper, _FastDumper):
    _cls.add_representer(str, _str)
    _cls.add_multi_representer(object, _other)
    _cls.add_representer(set, _other)    # a list, not YAML's !!set, so the catalog's JSON can hold it


def dump(record: AssetRecord) -> str:
    """The sidecar text for `record`; SidecarError if a datetime lacks its UTC offset (load would refuse it)."""
    data: dict[str, Any] = {VERSION_KEY: VERSION}
    for name in ORDER:
        value = getattr(record, name)
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                raise SidecarError(f"'{name}' is {value.isoformat()} without a UTC offset: make it timezone-aware")
            value = value.isoformat()
        elif isinstance(value, Generation):
            value = value.to_dict()
        data[name] = value
    return _emit(data)


OPTIONS: dict[str, Any] = {"allow_unicode": True, "sort_keys": False, "default_flow_style": False, "width": 120}


def _emit(data: dict[str, Any]) -> str:
    try:
        return yaml.dump(data, Dumper=_FastDumper, **OPTIONS)
    except UnicodeEncodeError:
        return yaml.dump(data, Dumper=_Dumper, **OPTIONS)


# -- load -------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise SidecarError(f"YAML aliases are not allowed in a sidecar (line {mark.line + 1})")
        return super().compose_node(parent, index)


def _libyaml_nests_safely() -> bool:
    # libyaml caps nesting at 1000 levels from 0.2.5 on; an older one would recurse in C
    # on a hostile sidecar's 100,000 brackets instead of raising.
    try:
        from yaml import _yaml
        return tuple(_yaml.get_version()) >= (0, 2, 5)
    except (ImportError, AttributeError):
        return False


_FAST_LOAD = getattr(yaml, "__with_libyaml__", False) and _libyaml_nests_safely()


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser and composer (the second stage loads a sidecar for every image,
    and the Python parser took ~6 ms of a 1-2 KB one). The composer runs in C, so an
    alias shows up here as a node constructed a second time: the Python loader then
    says where the alias is."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.YAMLError("an alias")
        return super().construct_object(node, deep)


def _parse(text: str) -> Any:
    if _FAST_LOAD:
        try:
            return yaml.load(text, Loader=_FastLoader)  # noqa: S506 - a CSafeLoader
        except yaml.YAMLError:
            pass    # the Python loader's verdict stands: it reads escaped lone surrogates, and its messages say where
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def load(text: str) -> AssetRecord:
    """The AssetRecord a sidecar describes; SidecarError if it does not describe one."""
    if not isinstance(text, str):
        raise SidecarError(f"sidecar text must be str, not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise SidecarError(f"sidecar is {len(text):,} characters, more than the {MAX_TEXT:,} allowed")
    try:
        data = _parse(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SidecarError(f"not valid YAML: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise SidecarError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise SidecarError("sidecar is nested too deeply to be an alice sidecar") from None
    if not isinstance(data, dict):
        raise SidecarError(f"a sidecar is a YAML mapping, this is a {_kind(data)}")
    if VERSION_KEY not in data:
        raise SidecarError(f"not an alice sidecar: the '{VERSION_KEY}' version key is missing")
    version = data[VERSION_KEY]
    if version != VERSION:
        raise SidecarError(f"sidecar version {version!r} is not supported (this alice reads version {VERSION})")
    missing = [name for name in REQUIRED if name not in data]
    if missing:
        raise SidecarError(f"sidecar lacks required field(s): {', '.join(missing)}")
    values: dict[str, Any] = {name: _FIELDS[name](name, data[name]) for name in ORDER if name in data}
    return AssetRecord(**values)


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", type(None): "empty document"}.get(
        type(value), type(value).__name__)


def _fail(name: str, want: str, value: Any) -> SidecarError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return SidecarError(f"field '{name}' must be {want}, not {_kind(value)} {shown}")


def _str_(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(name, "a string", value)
    return value


def _opt_str(name: str, value: Any) -> str | None:
    return None if value is None else _str_(name, value)


def _int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(name, "an integer", value)
    return value


def _opt_int(name: str, value: Any) -> int | None:
    return None if value is None else _int(name, value)


def _size(name: str, value: Any) -> int:
    if _int(name, value) < 0:
        raise _fail(name, "a size in bytes (0 or more)", value)
    return value


def _stars(name: str, value: Any) -> int | None:
    if value is not None and not 1 <= _int(name, value) <= 5:
        raise _fail(name, "1 to 5 stars or null", value)
    return value


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, "true or false", value)
    return value


def _float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "a number", value)
    return value


def _datetime(name: str, value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _fail(name, "an ISO 8601 date-time like 2024-05-01T12:30:00+02:00", value) from None
    if not isinstance(value, datetime):
        raise _fail(name, "an ISO 8601 date-time", value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise _fail(name, "a date-time with a UTC offset (e.g. +02:00)", value.isoformat())
    return value


def _opt_datetime(name: str, value: Any) -> datetime | None:
    return None if value is None else _datetime(name, value)


def _str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(name, "a list of strings", value)
    return value


def _mapping(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(name, "a mapping", value)
    return value


def _opt_mapping(name: str, value: Any) -> dict[str, Any] | None:
    return None if value is None else _mapping(name, value)


def _iso_text(name: str, value: Any) -> str | None:
    # An unquoted date in a hand-edited file arrives as datetime; the field holds text.
    return value.isoformat() if isinstance(value, datetime) else _opt_str(name, value)


def _pass_list(name: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _fail(name, "a list of mappings (one per sampling pass)", value)
    return value


_GENERATION = {"prompt": _opt_str, "negative_prompt": _opt_str, "seed": _opt_int, "steps": _opt_int,
               "cfg": _float, "sampler": _opt_str, "scheduler": _opt_str, "model": _opt_str,
               "model_name": _opt_str, "model_hash": _opt_str, "width": _opt_int, "height": _opt_int,
               "loras": _str_list, "created_at": _iso_text, "passes": _pass_list}
assert set(_GENERATION) == {f.name for f in fields(Generation)}, "every Generation field needs a checker"


def _generation(name: str, value: Any) -> Generation:
    data = _opt_mapping(name, value) or {}
    checked: dict[str, Any] = {k: check(f"{name}.{k}", data[k]) for k, check in _GENERATION.items() if k in data}
    return Generation(**checked)


def _parents(name: str, value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise _fail(name, "a list", value)
    for item in value:
        if not (isinstance(item, dict) and set(item) == {"content_id", "kind"}
                and all(isinstance(v, str) for v in item.values())):
            raise _fail(name, "a list of {content_id, kind} mappings", item)
    return [dict(item) for item in value]


_FIELDS = {"parents": _parents, "content_id": _str_, "file_hash": _str_, "size": _size, "format": _str_, "media": _str_,
           "tool": _opt_str, "ai": _bool, "project": _str_, "source_path": _str_, "created_at": _datetime,
           "width": _opt_int, "height": _opt_int, "evidence": _str_list, "generation": _generation,
           "raw": _mapping, "organized_path": _opt_str, "organized_at": _opt_datetime, "stars": _stars,
           "user_stars": _stars, "tags": _str_list,
           "perceptual_hash": _opt_int,
           "quality": _opt_mapping, "warnings": _str_list}
