from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alice.pipeline.inspect import inspect_file, iter_paths
from tests import fixturegen as fg

KEYS = {"path", "format", "media", "ai", "tool", "evidence", "generation", "error", "warnings"}
GENERATION_KEYS = {"prompt", "negative_prompt", "seed", "steps", "cfg", "sampler", "scheduler", "model",
                   "model_name", "model_hash", "width", "height", "loras", "created_at", "passes"}


def test_json_shape(tmp_path) -> None:
    data = inspect_file(fg.write(tmp_path, "a.png", fg.make_png([fg.text_chunk("parameters", "x\nSteps: 2")]))).to_json()
    assert set(data) == KEYS
    assert set(data["generation"]) == GENERATION_KEYS
    assert (data["format"], data["media"], data["ai"], data["tool"], data["error"]) == ("png", "image", True,
                                                                                       "a1111", None)


def test_empty_file(tmp_path) -> None:
    info = inspect_file(fg.write(tmp_path, "empty.png", b""))
    assert info.error == "file is empty (0 bytes)" and info.ai is False


def test_missing_file_and_directory_do_not_raise(tmp_path) -> None:
    missing = inspect_file(tmp_path / "nope.png")
    assert missing.error and "No such file" in missing.error and missing.format == "unknown"
    directory = inspect_file(tmp_path)
    assert directory.error and "directory" in directory.error.lower()


def test_unknown_bytes(tmp_path) -> None:
    info = inspect_file(fg.write(tmp_path, "notes.png", b"just some text pretending to be a png"))
    assert info.format == "unknown" and info.error.startswith("not a recognised image")


def test_truncated_png_keeps_partial_reading(tmp_path) -> None:
    data = fg.make_png([fg.text_chunk("parameters", "a fox\nSteps: 9, Seed: 1")], size=(32, 32))
    info = inspect_file(fg.write(tmp_path, "cut.png", data[: data.index(b"IDAT") + 8]))
    assert info.error == "truncated PNG: chunk IDAT runs past end of file"
    assert info.tool == "a1111" and info.generation.steps == 9


def test_created_at_from_exif_with_offset(tmp_path) -> None:
    exif = fg.make_exif({fg.MAKE: "Apple"}, {fg.DATETIME_ORIGINAL: "2023:07:08 09:10:11", 0x9011: "+02:00"})
    info = inspect_file(fg.write(tmp_path, "p.jpg", fg.make_jpeg(exif)))
    assert info.created_at == datetime(2023, 7, 8, 9, 10, 11, tzinfo=timezone(timedelta(hours=2)))
    assert info.generation.created_at is None     # a camera date is not a generation record


def test_iter_paths_walks_sorted_and_skips_hidden(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("b/2.png", "b/1.png", ".hidden/x.png", ".dot.png", "a.png"):
        (tmp_path / name).write_bytes(b"x")
    single = tmp_path / ".dot.png"
    found = [p.relative_to(tmp_path).as_posix() for p in iter_paths([tmp_path, single])]
    assert found == ["a.png", "b/1.png", "b/2.png", ".dot.png"]


def test_fifo_is_refused_without_blocking(tmp_path) -> None:
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    info = inspect_file(fifo)
    assert info.error and "not a regular file" in info.error


def _imported_after_preload(names: list[str], then_read: bool) -> list[str]:
    """In a fresh interpreter (earlier tests' imports do not count): preload(names), then (then_read)
    inspect every corpus file; the modules the second step imported, else those preload imported."""
    import json
    import subprocess
    import sys

    from tests.corpus_paths import CORPUS

    code = ("import json, sys\nfrom pathlib import Path\nfrom alice.pipeline.inspect import inspect_file, preload\n"
            f"corpus = sorted(Path({str(CORPUS)!r}).iterdir())\nbefore = set(sys.modules)\n"
            f"preload([corpus[0].with_name(n) for n in {names!r}])\n"
            + ("before = set(sys.modules)\nfor path in corpus:\n    inspect_file(path)\n" if then_read else "")
            + "print(json.dumps(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_preload_imports_everything_reading_the_corpus_needs() -> None:
    # What `alice inspect` imports before forking its workers: anything a file imports later is
    # imported again in every worker. The corpus has every kind of file.
    from tests.corpus_paths import CORPUS

    assert _imported_after_preload([p.name for p in CORPUS.iterdir()], then_read=True) == []


def test_preload_for_pngs_leaves_the_jpeg_video_and_c2pa_readers_alone() -> None:
    imported = _imported_after_preload(["a.png", "b.PNG"], then_read=False)
    assert "alice.pipeline.detect.comfyui" in imported
    assert not [m for m in imported if m.split(".")[0] in ("exifread", "PIL", "c2pa")
                or m == "alice.pipeline.extract.video"]
    assert [m for m in _imported_after_preload(["a.jpg"], then_read=False) if m.split(".")[0] in ("exifread", "c2pa")]
