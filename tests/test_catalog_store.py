"""Catalog writes and reads: assets, generations, projects, tags, locations, counts."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.store import (
    add_location,
    add_tags,
    asset_by_content_id,
    asset_by_id,
    counts,
    filed_copy,
    location_of,
    mark_location_gone,
    organized_paths,
    present_paths,
    record_asset,
    record_quarantined,
)
from alice.pipeline.generation import Generation
from alice.pipeline.record import AssetRecord

WHEN = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def rec(cid: str = "b3:aa", **kw) -> AssetRecord:
    base = AssetRecord(content_id=cid, file_hash="b3:f-" + cid, size=1234, format="png", media="image",
                       tool="comfyui", ai=True, project="moon", source_path=f"/in/{cid}.png", created_at=WHEN,
                       width=512, height=768)
    return replace(base, **kw)


def search(cat: Catalog, query: str) -> list[int]:
    with cat.session() as s:
        return s.execute(text("SELECT id FROM assets WHERE search @@ plainto_tsquery('english', :q) ORDER BY id"),
                         {"q": query}).scalars().all()


def test_record_asset_creates_once_then_finds_the_same_row(catalog: Catalog) -> None:
    with catalog.session() as s:
        first = record_asset(s, rec())
    with catalog.session() as s:
        again = record_asset(s, rec(file_hash="b3:other-copy"))
        row = asset_by_content_id(s, "b3:aa")
    assert first[1] is True and again == (first[0], False)
    assert row is not None and row.id == first[0]
    assert (row.project_name, row.tool, row.media, row.width, row.created_at) == ("moon", "comfyui", "image", 512, WHEN)
    assert row.file_hash == "b3:f-b3:aa"          # the first copy defines the asset


def test_second_copy_fills_generation_gaps_but_overwrites_nothing(catalog: Catalog) -> None:
    with catalog.session() as s:
        aid, _ = record_asset(s, rec(generation=Generation(seed=7)))
        record_asset(s, rec(generation=Generation(prompt="a red fox", seed=8, loras=["x"]), raw={"k": 1}))
        record_asset(s, rec(generation=Generation(prompt="something else"), raw={"k": 2}))
        g = s.execute(text("SELECT prompt, seed, loras, raw FROM generations WHERE asset_id = :a"),
                      {"a": aid}).one()
    assert (g.prompt, int(g.seed), g.loras, g.raw) == ("a red fox", 7, ["x"], {"k": 1})


def test_concurrent_recording_of_the_same_content_creates_one_asset(catalog: Catalog) -> None:
    n = 6
    barrier = threading.Barrier(n)
    results: list[tuple[int, bool]] = []
    errors: list[Exception] = []

    def worker(i: int) -> None:
        try:
            with catalog.session() as s:
                barrier.wait()
                results.append(record_asset(s, rec(project=f"p{i % 2}", file_hash=f"b3:copy{i}")))
        except Exception as e:          # collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len({aid for aid, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with catalog.session() as s:
        assert s.execute(text("SELECT count(*) FROM assets")).scalar_one() == 1


def test_projects_are_upserted_by_name(catalog: Catalog) -> None:
    with catalog.session() as s:
        record_asset(s, rec("b3:1"))
        record_asset(s, rec("b3:2"))
        record_asset(s, rec("b3:3", project="sun"))
        assert s.execute(text("SELECT name FROM projects ORDER BY name")).scalars().all() == ["moon", "sun"]


def test_hostile_values_are_stored_not_raised(catalog: Catalog) -> None:
    huge_seed = 2**64 - 1
    gen = Generation(prompt="nul\x00byte", seed=huge_seed, steps=10**12, cfg=float("nan"), loras=["a\x00"])
    with catalog.session() as s:
        aid, _ = record_asset(s, rec(generation=gen, raw={"b": b"bytes", "nested": {"x": float("inf")}},
                                     stars=9, quality={"score": "n/a"}, warnings=["w\x00"]))
        g = s.execute(text("SELECT prompt, seed, steps, cfg, loras, raw FROM generations WHERE asset_id = :a"),
                      {"a": aid}).one()
        a = s.execute(text("SELECT stars, quality_score, warnings FROM assets WHERE id = :a"), {"a": aid}).one()
    assert g.prompt == "nulbyte" and int(g.seed) == huge_seed
    assert g.steps is None and g.cfg is None and g.loras == ["a"]
    assert g.raw == {"b": "b'bytes'", "nested": {"x": None}}
    assert (a.stars, a.quality_score, a.warnings) == (None, None, ["w"])


def test_seed_round_trips_as_int_through_the_model(catalog: Catalog) -> None:
    from alice.daemon.catalog.models import Generation as GenerationRow

    with catalog.session() as s:
        aid, _ = record_asset(s, rec(generation=Generation(seed=18446744073709551615)))
        assert s.get(GenerationRow, aid).seed == 18446744073709551615


def test_locations_are_idempotent_on_path_and_keep_history(catalog: Catalog) -> None:
    with catalog.session() as s:
        aid, _ = record_asset(s, rec())
        first = add_location(s, aid, "/org/moon/a.png", "b3:f", "organized")
        assert add_location(s, aid, "/org/moon/a.png", "b3:f", "organized") == first
        add_location(s, aid, "/in/a.png", "b3:f", "source")
        assert organized_paths(s) == {"/org/moon/a.png"}
        assert mark_location_gone(s, "/org/moon/a.png") is True
        assert mark_location_gone(s, "/org/moon/a.png") is False
        assert mark_location_gone(s, "/never/there") is False
        gone = location_of(s, "/org/moon/a.png")
        assert gone is not None and gone.present is False and gone.gone_at is not None
        assert organized_paths(s) == set()
        add_location(s, aid, "/org/moon/a.png", "b3:f", "organized")   # the file came back
        back = location_of(s, "/org/moon/a.png")
        assert back is not None and back.present and back.gone_at is None and back.id == first
        assert location_of(s, "/nowhere") is None


def test_unknown_location_role_is_rejected(catalog: Catalog) -> None:
    with catalog.session() as s:
        aid, _ = record_asset(s, rec())
        with pytest.raises(ValueError, match="organized, source, quarantine, quarantine-source"):
            add_location(s, aid, "/x.png", "b3:f", "trash")


def test_session_rolls_back_on_error(catalog: Catalog) -> None:
    with pytest.raises(RuntimeError):
        with catalog.session() as s:
            record_asset(s, rec())
            raise RuntimeError("organizer crashed")
    with catalog.session() as s:
        assert asset_by_content_id(s, "b3:aa") is None


def test_search_vector_covers_prompts_tags_and_file_names(catalog: Catalog) -> None:
    with catalog.session() as s:
        fox, _ = record_asset(s, rec("b3:fox", generation=Generation(prompt="A red fox jumping",
                                                                      negative_prompt="blurry")))
        cat, _ = record_asset(s, rec("b3:cat", generation=Generation(prompt="a sleeping cat")))
        add_location(s, cat, "/org/moon/IMG_0042_sunset.png", "b3:f", "organized")
        add_tags(s, cat, ["Favourite", " ", "favourite"])
    assert search(catalog, "foxes jumped") == [fox]          # stemmed
    assert search(catalog, "blurry") == [fox]
    assert search(catalog, "sunset") == [cat]
    assert search(catalog, "favourite") == [cat]
    assert search(catalog, "giraffe") == []


def test_counts_summarise_the_catalog(catalog: Catalog) -> None:
    with catalog.session() as s:
        a, _ = record_asset(s, rec("b3:1"))
        b, _ = record_asset(s, rec("b3:2", tool=None, ai=False, project="sun", media="video", format="mp4"))
        add_location(s, a, "/org/a.png", "b3:f", "organized")
        add_location(s, b, "/q/b.mp4", "b3:f", "quarantine")
        add_location(s, b, "/q/gone.mp4", "b3:f", "quarantine")
        mark_location_gone(s, "/q/gone.mp4")
        c = counts(s)
    assert c == {"assets": 2, "by_tool": {"comfyui": 1, "unknown": 1}, "by_project": {"moon": 1, "sun": 1},
                 "by_media": {"image": 1, "video": 1}, "locations": 2, "quarantined": 1}


def test_source_locations_remember_size_and_mtime(catalog: Catalog) -> None:
    with catalog.session() as s:
        aid, _ = record_asset(s, rec())
        add_location(s, aid, "/in/a.png", "b3:f", "source", size=1234, mtime_ns=1_700_000_000_123_456_789)
        loc = location_of(s, "/in/a.png")
        assert loc is not None and (loc.size, loc.mtime_ns) == (1234, 1_700_000_000_123_456_789)
        add_location(s, aid, "/in/a.png", "b3:f", "source", size=99, mtime_ns=5)     # rewritten in place
        assert (location_of(s, "/in/a.png").size, location_of(s, "/in/a.png").mtime_ns) == (99, 5)


def test_filed_copy_prefers_the_present_organized_copy(catalog: Catalog) -> None:
    with catalog.session() as s:
        aid, _ = record_asset(s, rec())
        assert filed_copy(s, aid) is None
        add_location(s, aid, "/in/a.png", "b3:f", "source")
        assert filed_copy(s, aid) is None                       # a source is not a filed copy
        add_location(s, aid, "/q/a.png", "b3:f", "quarantine")
        add_location(s, aid, "/org/a.png", "b3:f", "organized")
        assert filed_copy(s, aid).path == "/org/a.png"
        mark_location_gone(s, "/org/a.png")
        assert filed_copy(s, aid).path == "/q/a.png"


def test_quarantined_files_are_one_asset_per_file_hash(catalog: Catalog) -> None:
    with catalog.session() as s:
        first = record_quarantined(s, "b3:broken", 10, None, None, "moon", "truncated PNG")
        assert record_quarantined(s, "b3:broken", 10, "png", "image", "moon", "again") == first
        add_location(s, first, "/q/broken.png", "b3:broken", "quarantine")
        add_location(s, first, "/in/broken.png", "b3:broken", "quarantine-source", size=10, mtime_ns=1)
        row = asset_by_id(s, first)
        assert row is not None and (row.tool, row.ai, row.format, row.project_name) == (None, False, "unknown", "moon")
        assert asset_by_id(s, first + 1000) is None
        assert present_paths(s) == ["/q/broken.png", "/in/broken.png"]
        mark_location_gone(s, "/in/broken.png")
        assert present_paths(s) == ["/q/broken.png"]
        assert counts(s)["quarantined"] == 1
