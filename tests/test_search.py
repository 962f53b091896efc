"""SearchQuery validation, cursors, the search vector's upkeep, totals, and the `alice search` flag parsing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alice.daemon.catalog import curation, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.search import SearchError, SearchQuery, decode_cursor, encode_cursor, search
from alice.daemon.cli.assistant import parse_range, search_params
from alice.pipeline.generation import Generation
from alice.pipeline.record import AssetRecord


def record(n: int, prompt: str | None, *, tool: str | None = "midjourney", project: str = "p",
           days_ago: int = 0, stars: int | None = None) -> AssetRecord:
    return AssetRecord(content_id=f"b3:{n:064x}", file_hash=f"b3:{n:064x}", size=100, format="png", media="image",
                       tool=tool, ai=tool is not None, project=project, source_path=f"/in/{n}.png",
                       created_at=datetime(2025, 3, 1, tzinfo=UTC) - timedelta(days=days_ago),
                       width=1024, height=768, stars=stars, generation=Generation(prompt=prompt, seed=n))


def add(catalog: Catalog, rec: AssetRecord, path: str | None = None) -> int:
    with catalog.session() as s:
        asset_id, _ = store.record_asset(s, rec)
        if path:
            store.add_location(s, asset_id, path, rec.file_hash, "organized")
        return asset_id


@pytest.mark.parametrize("params,field", [
    ({"sort": "relevance"}, "relevance"), ({"stars_min": 6}, "stars_min"), ({"limit": 0}, "limit"),
    ({"limit": True}, "limit"), ({"media": "hologram"}, "media"), ({"tool": 3}, "tool"),
    ({"tool": ["a"] * 51}, "tool"), ({"since": "last week"}, "since"), ({"aspect_min": -1}, "aspect_min"),
    ({"aspect_min": float("nan")}, "aspect_min"), ({"width_min": 10, "width_max": 5}, "width_min"),
    ({"since": "2025-02-01", "until": "2025-01-01"}, "since"), ({"text": "x" * 1001}, "text"),
    ({"colour": "red"}, "colour"), ({"seed": -1}, "seed"), ({"order": "up"}, "order"),
])
def test_bad_queries_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(SearchError, match=field):
        SearchQuery.from_params(params)


def test_query_normalizes() -> None:
    q = SearchQuery.from_params({"text": "  fox  ", "tool": "midjourney", "tags_all": ["Keeper "],
                                 "since": "2025-01-01", "until": "2025-01-31"})
    assert q.text == "fox" and q.tool == ("midjourney",) and q.tags_all == ("keeper",)
    assert q.until - q.since == timedelta(days=31)          # a bare until date includes that whole day
    assert SearchQuery(text="   ").text is None


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)), st.integers(1, 2**62), st.integers(0, 5),
       st.floats(0, 10, allow_nan=False))
@settings(max_examples=50, deadline=None)
def test_cursors_round_trip(when: datetime, ident: int, stars: int, rank: float) -> None:
    for q, key in ((SearchQuery(), [when, ident]), (SearchQuery(sort="stars"), [stars, when, ident]),
                   (SearchQuery(text="x", sort="relevance"), [rank, ident])):
        assert decode_cursor(q, encode_cursor(q, key)) == key


@given(st.text(max_size=200))
@settings(max_examples=100, deadline=None)
def test_any_cursor_text_is_a_clear_error_or_a_key(cursor: str) -> None:
    try:
        decode_cursor(SearchQuery(), cursor)
    except SearchError as exc:
        assert "cursor" in str(exc)


def test_search_vector_follows_prompts_tags_and_file_names(catalog: Catalog) -> None:
    a = add(catalog, record(1, "a red fox in the snow"), "/org/2025/Fluffy_Creature-01.png")
    add(catalog, record(2, "a blue whale", tool="dalle", days_ago=3))
    ids = lambda **kw: [i["id"] for i in search_items(catalog, **kw)]   # noqa: E731
    assert ids(text="foxes") == [a]                           # english stemming
    assert ids(text="fluffy creature") == [a]                 # file name parts
    assert ids(text='"red fox"') == [a] and ids(text='"fox red"') == []
    assert ids(text="fox -snow") == [] and ids(text="whale or fox") != []
    with catalog.session() as s:
        curation.tag(s, a, ["Portfolio"])
    assert ids(text="portfolio") == [a]
    with catalog.session() as s:
        curation.untag(s, a, ["portfolio"])
    assert ids(text="portfolio") == []


def search_items(catalog: Catalog, **params) -> list[dict]:
    with catalog.session() as s:
        return search(s, SearchQuery(**params)).items


def test_totals_pages_and_orders(catalog: Catalog) -> None:
    for n in range(12):
        add(catalog, record(n, f"castle number {n}", days_ago=n, stars=(n % 5) + 1,
                            tool="midjourney" if n % 2 else "flux"))
    with catalog.session() as s:
        page = search(s, SearchQuery(text="castle", limit=5))
        assert page.total == 12 and page.total_exact and len(page.items) == 5 and page.next_cursor
        dates = [i["created_at"] for i in page.items]
        assert dates == sorted(dates, reverse=True)
        asc = search(s, SearchQuery(order="asc", limit=3)).items
        assert [i["created_at"] for i in asc] == sorted(i["created_at"] for i in asc)
        by_stars = search(s, SearchQuery(sort="stars", limit=12)).items
        assert [i["stars"] for i in by_stars] == sorted((i["stars"] for i in by_stars), reverse=True)
        assert search(s, SearchQuery(stars_min=4, stars_max=4)).total == 2
        assert search(s, SearchQuery(tool=["flux"], stars_min=5)).total == 1
        assert search(s, SearchQuery(count=False)).total is None


def test_user_stars_win_over_computed(catalog: Catalog) -> None:
    a = add(catalog, record(1, "x", stars=2))
    with catalog.session() as s:
        curation.set_user_stars(s, a, 5)
        item = search(s, SearchQuery(stars_min=5)).items[0]
    assert item["id"] == a and item["stars"] == 5 and item["user_stars"] == 5


def test_cli_ranges_and_params() -> None:
    assert parse_range("4..") == (4, None) and parse_range("..2") == (None, 2)
    assert parse_range("3") == (3, 3) and parse_range("1.2..1.8", float) == (1.2, 1.8)
    with pytest.raises(click.BadParameter, match="4.."):
        parse_range("four")
    params = search_params(("cyberpunk", "portrait"), tool=("midjourney",), project=(), tag=("a",), any_tag=(),
                           not_tag=("b",), ai=None, media=None, model=None, seed=None, since="2025-01-01",
                           until=None, content_id=None, sort=None, cursor=None, stars="4..", width=None,
                           height=None, aspect="1.5..", asc=False, limit=20)
    assert params == {"text": "cyberpunk portrait", "tool": ["midjourney"], "tags_all": ["a"], "tags_none": ["b"],
                      "since": "2025-01-01", "stars_min": 4, "aspect_min": 1.5, "limit": 20}
    SearchQuery.from_params(params)      # the CLI builds what the API accepts
