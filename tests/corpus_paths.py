"""Where the tests find the real files they read: `tests/corpus/` in this repository.

One definition for every test, so nothing reads outside the checkout. A missing
or incomplete corpus is an error at import (the run fails), not a skip: a test
that silently skips when its data is gone cannot fail.
"""
from __future__ import annotations

from pathlib import Path

import yaml

CORPUS_ROOT = Path(__file__).resolve().parent / "corpus"
CORPUS = CORPUS_ROOT / "files"
LABELS_FILE = CORPUS_ROOT / "labels.yaml"


class CorpusMissing(RuntimeError):
    """The in-repo test corpus is absent or lacks a labelled file."""


def _load_labels() -> list[dict]:
    if not LABELS_FILE.is_file():
        raise CorpusMissing(f"{LABELS_FILE} is missing; the test corpus ships in the repository "
                            f"(tests/corpus/, see tests/corpus/SOURCES.md); restore it with git checkout -- tests/corpus")
    labels = yaml.safe_load(LABELS_FILE.read_text()) or []
    missing = [label["file"] for label in labels if not (CORPUS / label["file"]).is_file()]
    if not labels or missing:
        raise CorpusMissing(f"tests/corpus/files lacks {missing or 'every file'}; "
                            f"restore it with git checkout -- tests/corpus")
    return labels


LABELS: list[dict] = _load_labels()
