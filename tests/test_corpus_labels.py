"""Every labelled real file in tests/corpus is read as its label says.

One parametrized test over labels.yaml: the `ai` flag, the tool (within the
label's `family`, or none), `media` when given, and every `expect` value.
"""
from __future__ import annotations

import pytest

from alice.pipeline.inspect import inspect_file
from tests.corpus_paths import CORPUS, LABELS

# Labels whose reading depends on another helper's pending module: "file" -> reason naming the module.
PENDING: dict[str, str] = {}


def _check_expect(key: str, expected: object, generation: dict) -> None:
    if key == "prompt_startswith":
        assert (generation["prompt"] or "").startswith(expected), generation["prompt"]
    elif key.endswith("_contains"):
        field = key[: -len("_contains")]
        assert str(expected) in (generation[field] or ""), generation[field]
    else:
        assert key in generation, f"label expects unknown field {key!r}"
        actual = generation[key]
        if isinstance(expected, float) or isinstance(actual, float):
            assert actual == pytest.approx(expected)
        else:
            assert actual == expected


def _params():
    for label in LABELS:
        marks = [pytest.mark.xfail(reason=PENDING[label["file"]], strict=False)] if label["file"] in PENDING else []
        yield pytest.param(label, id=label["file"], marks=marks)


@pytest.mark.parametrize("label", list(_params()))
def test_file_reads_as_labelled(label: dict) -> None:
    info = inspect_file(CORPUS / label["file"])
    data = info.to_json()
    assert data["ai"] is label["ai"], data["evidence"]
    if label.get("family"):
        assert data["tool"] in label["family"], data["evidence"]
    elif label.get("tool") is None:
        assert data["tool"] is None, data["evidence"]
    else:
        assert data["tool"] == label["tool"]
    if "media" in label:
        assert data["media"] == label["media"]
    for key, expected in (label.get("expect") or {}).items():
        _check_expect(key, expected, data["generation"])
    if label.get("bad") and info.format == "unknown":
        assert data["error"], "a broken file must say what is wrong"
    if data["ai"]:
        assert data["evidence"], "an AI verdict must name its evidence"
