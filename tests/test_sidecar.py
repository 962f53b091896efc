"""load(dump(r)) == r for any record; malformed sidecars fail with a message naming the problem."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alice.pipeline import sidecar as sidecar_module
from alice.pipeline.generation import Generation
from alice.pipeline.record import AssetRecord
from alice.pipeline.sidecar import SidecarError, dump, load, sidecar_path

NASTY = st.sampled_from(["", " ", "---", "...", "null", "Null", "~", "yes", "no", "on", "off", "true", "1e3",
                         "0x1F", "0o17", "1_000", "2024-01-01", "2024-01-01 10:00:00", "- x", "a: b", "#c",
                         "'", '"', "\\", "\t", "\r\n", "\x00", "\x85", "\u2028", "\ufeff", "|", ">", "&a", "*a",
                         "!!python/object:os.system", "line\n  indented\n", "trailing  \n", "\n\nlead"])
TEXT = st.one_of(st.text(max_size=60), NASTY, st.lists(st.one_of(st.text(max_size=8), NASTY), max_size=6).map("".join))
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
AWARE = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).flatmap(
    lambda d: OFFSETS.map(lambda tz: d.replace(tzinfo=tz)))
INTS = st.one_of(st.integers(), st.integers(min_value=-(2 ** 200), max_value=2 ** 200))
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), INTS, st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=16)
OPT_TEXT = st.none() | TEXT
OPT_INT = st.none() | INTS

GENERATIONS = st.builds(
    Generation, prompt=OPT_TEXT, negative_prompt=OPT_TEXT, seed=OPT_INT, steps=OPT_INT,
    cfg=st.none() | st.floats(allow_nan=False), sampler=OPT_TEXT, scheduler=OPT_TEXT, model=OPT_TEXT,
    model_hash=OPT_TEXT, width=OPT_INT, height=OPT_INT, loras=st.lists(TEXT, max_size=3), created_at=OPT_TEXT,
    model_name=OPT_TEXT,
    passes=st.lists(st.dictionaries(TEXT, st.none() | INTS | st.floats(allow_nan=False) | TEXT, max_size=4),
                    max_size=3))

RECORDS = st.builds(
    AssetRecord, content_id=TEXT, file_hash=TEXT, size=st.integers(min_value=0, max_value=2 ** 80),
    format=TEXT, media=TEXT, tool=OPT_TEXT, ai=st.booleans(), project=TEXT, source_path=TEXT,
    created_at=AWARE, width=OPT_INT, height=OPT_INT, evidence=st.lists(TEXT, max_size=4),
    generation=GENERATIONS, raw=st.dictionaries(TEXT, JSON, max_size=4), organized_path=OPT_TEXT,
    organized_at=st.none() | AWARE, stars=st.none() | st.integers(min_value=1, max_value=5),
    quality=st.none() | st.dictionaries(TEXT, JSON, max_size=3), warnings=st.lists(TEXT, max_size=3))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_round_trip(record):
    text = dump(record)
    assert text.startswith("alice_sidecar: 1\n")
    assert load(text) == record


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS)
def test_libyaml_loads_what_the_python_loader_loads(record):
    # load() parses with libyaml where it can (the second stage loads a sidecar per image):
    # both parsers must read every sidecar dump() writes as the same data.
    if not sidecar_module._FAST_LOAD:
        pytest.skip("PyYAML without libyaml: load() uses the Python loader only")
    text = dump(record)
    try:
        fast = yaml.load(text, Loader=sidecar_module._FastLoader)  # noqa: S506 - a CSafeLoader
    except yaml.YAMLError:
        fast = None     # libyaml refuses it: load() falls back to the Python loader
    slow = yaml.load(text, Loader=sidecar_module._Loader)  # noqa: S506 - a SafeLoader
    if fast is not None:
        assert fast == slow
    assert load(text) == record


def test_an_alias_is_refused_by_either_parser_with_its_line():
    with pytest.raises(SidecarError, match=r"aliases are not allowed in a sidecar \(line 3\)"):
        load("alice_sidecar: 1\na: &a [x]\nb: *a\n")


def record(**kw) -> AssetRecord:
    base = dict(content_id="b3:" + "a" * 64, file_hash="b3:" + "b" * 64, size=10, format="png", media="image",
                tool="comfyui", ai=True, project="p", source_path="/inbox/p/x.png",
                created_at=datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2))))
    base.update(kw)
    return AssetRecord(**base)


def test_readable_layout():
    text = dump(record(generation=Generation(prompt="a cat\nin a hat", seed=42)))
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "-"))]
    assert keys[:4] == ["alice_sidecar", "content_id", "file_hash", "size"]
    assert keys[-1] == "raw"
    assert "created_at: '2024-05-01T12:30:00+02:00'" in text
    assert "  prompt: |-\n    a cat\n    in a hat\n" in text


def test_shared_lists_are_not_written_as_aliases():
    shared = ["x"]
    text = dump(record(evidence=shared, warnings=shared))
    assert "&" not in text and "*" not in text


def test_sidecar_path_appends_yaml():
    assert sidecar_path(Path("/a/b/image.png")) == Path("/a/b/image.png.yaml")
    assert sidecar_path(Path("clip.tar.gz")) == Path("clip.tar.gz.yaml")


def mutate(**changes) -> str:
    data = yaml.safe_load(dump(record()))
    for k, v in changes.items():
        if v is KeyError:
            del data[k]
        else:
            data[k] = v
    return yaml.safe_dump(data, sort_keys=False)


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb: [1, 2", "not valid YAML: .* at line 2, column 9"),
    ("- 1\n- 2\n", "mapping, this is a list"),
    ("", "mapping, this is a empty document"),
    (mutate(alice_sidecar=KeyError), "version key is missing"),
    (mutate(alice_sidecar=2), "version 2 is not supported"),
    (mutate(size=KeyError, media=KeyError), "lacks required field.*size, media"),
    (mutate(size="abc"), "'size' must be an integer, not string 'abc'"),
    (mutate(size=-1), "'size' must be a size in bytes"),
    (mutate(ai="yes please"), "'ai' must be true or false"),
    (mutate(created_at="last tuesday"), "'created_at' must be an ISO 8601"),
    (mutate(created_at="2024-05-01T12:30:00"), "with a UTC offset"),
    (mutate(stars=9), "'stars' must be 1 to 5"),
    (mutate(evidence="png:text"), "'evidence' must be a list of strings"),
    (mutate(generation={"seed": "None"}), "'generation.seed' must be an integer"),
    (mutate(raw=[1]), "'raw' must be a mapping"),
])
def test_malformed_sidecars_say_what_is_wrong(text, message):
    with pytest.raises(SidecarError, match=message):
        load(text)


def test_alias_bomb_is_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    with pytest.raises(SidecarError, match="aliases are not allowed"):
        load(bomb)


def test_deep_nesting_is_refused():
    with pytest.raises(SidecarError):
        load("raw: " + "[" * 100_000 + "]" * 100_000)


def test_non_text_is_refused():
    with pytest.raises(SidecarError, match="must be str"):
        load(b"alice_sidecar: 1")  # type: ignore[arg-type]


def test_hand_edits_that_stay_meaningful_are_accepted():
    text = dump(record()).replace("created_at: '2024-05-01T12:30:00+02:00'", "created_at: 2024-05-01 12:30:00+02:00")
    text += "a_field_from_a_newer_alice: 1\n"
    got = load(text)
    assert got.created_at == datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert got == record()


def test_non_utf8_file_names_survive_as_escapes():
    """os.fsdecode turns undecodable name bytes into lone surrogates; the sidecar must still be UTF-8."""
    r = record(source_path="/inbox/caf\udce9.png", organized_path="/tree/\udcff.png")
    text = dump(r)
    text.encode("utf-8")
    assert load(text) == r


def test_non_json_values_still_dump_as_their_plain_form():
    np = pytest.importorskip("numpy")
    r = record(quality={"score": np.float64(0.5), "n": np.int64(3), "pair": (1, 2), "tags": {"a"}, "p": Path("/x")})
    got = load(dump(r)).quality
    assert got == {"score": 0.5, "n": 3, "pair": [1, 2], "tags": ["a"], "p": "/x"}
    assert type(got["score"]) is float and type(got["n"]) is int


def test_naive_datetimes_are_refused_when_writing():
    with pytest.raises(SidecarError, match="'organized_at' .* without a UTC offset"):
        dump(record(organized_at=datetime(2024, 5, 1, 12, 0)))


def test_passes_that_are_not_mappings_are_refused():
    text = dump(record(generation=Generation(passes=[{"node": "3", "seed": 7}])))
    assert load(text).generation.passes == [{"node": "3", "seed": 7}]
    with pytest.raises(SidecarError, match="generation.passes"):
        load(text.replace("  - node: '3'\n    seed: 7\n", "  - just text\n"))


# -- the fast node builder writes what PyYAML's own representer writes ----------------------------
class _Reference(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The dumper sidecars were written with before nodes were built directly."""

    def ignore_aliases(self, data):
        return True


class _PyReference(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _reference_str(dumper, value):
    if not frozenset("\x85\u2028\u2029\ufeff").isdisjoint(value):
        style = '"'
    elif "\n" in value.strip("\n"):
        style = "|"
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


for _cls in (_Reference, _PyReference):
    _cls.add_representer(str, _reference_str)
    _cls.add_multi_representer(object, sidecar_module._other)
    _cls.add_representer(set, sidecar_module._other)


def _reference(data):
    try:
        return yaml.dump(data, Dumper=_Reference, **sidecar_module.OPTIONS)
    except UnicodeEncodeError:
        return yaml.dump(data, Dumper=_PyReference, **sidecar_module.OPTIONS)


class _Kind(StrEnum):
    A = "a-kind"


_tricky_text = st.sampled_from(["", "yes", "no", "null", "~", "1.0", "0x1F", "---", "- x", "a: b", "#c",
                                "line1\nline2", "\n\nlead", "trail\n", "tab\there", "\x85nel", "\u2028",
                                "\ufeffbom", "🦊 fox", "\x00\x07", "surrogate \udcff", "  spaced  ", "'q'",
                                '"dq"', "@at", "`tick", "%pct", "!bang", "&amp", "*star", "|pipe", ">gt"])
_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
            | _tricky_text | st.just(_Kind.A) | st.just(3.0e20) | st.just(float("-inf")))
_values = st.recursive(
    _scalars,
    lambda inner: (st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10) | _tricky_text, inner,
                                                                   max_size=5)
                   | st.tuples(inner, inner) | st.frozensets(st.integers(), max_size=3)),
    max_leaves=30)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(min_size=1, max_size=12), _values, max_size=8))
def test_sidecar_text_is_what_pyyamls_representer_writes(data):
    assert sidecar_module._emit(data) == _reference(data)


def test_a_whole_record_is_written_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = AssetRecord(content_id="px:1", file_hash="b3:2", size=3, format="png", media="image",
                      tool="comfyui", ai=True, project="p", source_path="/in/a.png",
                      created_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
                      generation=Generation(prompt="a\nb", seed=7, steps=20, cfg=6.5, loras=["x"]),
                      raw={"prompt": {"3": {"class_type": "KSampler", "inputs": {"seed": 7, "denoise": 1.0,
                                                                                 "model": ["4", 0]}}},
                           "flags": [True, False, None], "note": "yes"},
                      tags=["final", "no"], warnings=["w\x85"], evidence=["png:prompt"])
    emitted: list[dict] = []
    real = sidecar_module._emit
    monkeypatch.setattr(sidecar_module, "_emit", lambda data: emitted.append(data) or real(data))
    text = dump(rec)
    assert text == _reference(emitted[0]) and load(text) == rec
