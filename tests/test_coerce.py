from __future__ import annotations

import json
import math

import pytest

from alice.pipeline.detect.coerce import json_safe, to_float, to_int, to_iso, to_size, to_str


@pytest.mark.parametrize("value, expected", [
    ("20", 20), ("20.0", 20), (20.0, 20), (" 7 ", 7), ("None", None), ("null", None), ("", None), (None, None),
    (True, None), ("20.5", None), (20.5, None), ("abc", None), ([5], 5), ({"a": 1}, None), ("1e3", 1000),
    ("9" * 100, None), (2**70, None), ("-1", -1), (b"12", 12), (float("nan"), None), ("inf", None),
])
def test_to_int(value, expected) -> None:
    assert to_int(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("7.5", 7.5), ("7,5", 7.5), ("1,024", 1024.0), (7, 7.0), ("nan", None), (float("inf"), None),
    ("None", None), (False, None), ("x", None),
])
def test_to_float(value, expected) -> None:
    assert to_float(value) == expected


def test_to_str_trims_caps_and_rejects_non_text() -> None:
    assert to_str("  a\x00b  ") == "ab"
    assert to_str("") is None and to_str({"a": 1}) is None and to_str(3) == "3"
    assert len(to_str("x" * 100, cap=10)) == 10


@pytest.mark.parametrize("value, expected", [
    ("512x768", (512, 768)), ("512 x 768", (512, 768)), ([1, 2], (1, 2)), ({"width": "3", "height": 4}, (3, 4)),
    ("big", (None, None)), (None, (None, None)),
])
def test_to_size(value, expected) -> None:
    assert to_size(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("2024:01:02 03:04:05", "2024-01-02T03:04:05"), ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"),
    (1700000000, "2023-11-14T22:13:20+00:00"), (1700000000123, "2023-11-14T22:13:20.123000+00:00"),
    ("0000:00:00 00:00:00", None), ("yesterday", None), (None, None), ("1800-01-01", None),
])
def test_to_iso(value, expected) -> None:
    assert to_iso(value) == expected


def test_json_safe_caps_and_converts() -> None:
    deep: dict = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    value = json_safe({"nan": math.nan, "set": {1}, "bytes": b"\xff", "deep": deep, "long": "y" * 300_000})
    json.dumps(value)   # must not raise
    assert value["nan"] is None and value["set"] == [1]
    assert len(value["long"]) < 300_000


def test_nul_and_lone_surrogates_are_scrubbed() -> None:
    raw = json.loads('{"a\\u0000b": "x\\ud800y", "n": ["\\u0000"]}')
    clean = json_safe(raw)
    json.dumps(clean).encode("utf-8")
    assert set(clean) == {"ab", "n"} and clean["n"] == [""]
    for text in (clean["ab"], to_str("p\ud800q")):
        text.encode("utf-8")          # must not raise
