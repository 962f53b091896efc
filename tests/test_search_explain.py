"""The search queries use the indexes chosen for them (EXPLAIN on 20,000 synthetic assets)."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import make_url, text

from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.search import Explain, SearchQuery, conditions, page_statement, search
from alice.daemon.catalog.similar import similar_statement
from tests.conftest import libpq_url
from tests.synthetic_catalog import load_synthetic


@pytest.fixture(scope="module")
def big(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    """One catalog of 20,000 assets for the whole module: loading it is the slow part."""
    name = f"alice_test_explain_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    cat = Catalog.open(url, tmp_path_factory.mktemp("explain"))
    try:
        load_synthetic(libpq_url(url), 20_000)
        yield cat
    finally:
        cat.close()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def plan_of(catalog: Catalog, stmt: Any) -> dict:
    with catalog.session() as s:
        s.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))   # as search() runs
        plan = s.execute(Explain(stmt)).scalar_one()
    return (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]


def nodes(plan: dict) -> list[dict]:
    out = [plan]
    for child in plan.get("Plans", []):
        out += nodes(child)
    return out


def page_plan(catalog: Catalog, q: SearchQuery) -> dict:
    with catalog.session() as s:
        stmt = page_statement(q, conditions(s, q))
    return plan_of(catalog, stmt)


def index_names(plan: dict) -> set[str]:
    return {n["Index Name"] for n in nodes(plan) if "Index Name" in n}


def seq_scans(plan: dict) -> set[str]:
    return {n["Relation Name"] for n in nodes(plan) if n["Node Type"] == "Seq Scan"}


CASES = [
    (SearchQuery(), "ix_assets_created_at_id"),
    # A tool matches any file's record: probed per asset met in date order, or looked up for a small tool.
    (SearchQuery(tool="comfyui"), "ix_file_records_tool_asset_id"),
    (SearchQuery(tool="midjourney", since="2025-01-01", stars_min=4), "ix_file_records_tool_asset_id"),
    (SearchQuery(tool="fooocus"), "ix_file_records_tool_asset_id"),
    (SearchQuery(model="juggernautXL_v9"), "ix_file_records_model_asset_id"),
    (SearchQuery(project="project-05"), "ix_assets_project_id_created_at_id"),
    (SearchQuery(stars_min=5, sort="stars"), "ix_assets_rating_created_at_id"),
    (SearchQuery(text="lighthouse samurai"), "ix_assets_search"),
    (SearchQuery(text="lighthouse", tool="a1111"), None),          # either index; never a scan of assets
    (SearchQuery(content_id="b3:0123"), "uq_assets_content_id"),
    (SearchQuery(seed=123456), "ix_file_records_seed_asset_id"),
    (SearchQuery(since="2025-06-01", until="2025-06-02"), "ix_assets_created_at_id"),
]


@pytest.mark.parametrize("query,index", CASES, ids=[repr({k: v for k, v in vars(q).items() if v not in
                                                          (None, (), "date", "desc", 50, True)}) for q, _ in CASES])
def test_selective_queries_use_their_index(big: Catalog, query: SearchQuery, index: str | None) -> None:
    plan = page_plan(big, query)
    assert "assets" not in seq_scans(plan), json.dumps(plan, indent=1)[:3000]
    if index:
        assert index in index_names(plan), json.dumps(plan, indent=1)[:3000]


def test_deep_pages_start_at_the_cursor_in_the_index(big: Catalog) -> None:
    q = SearchQuery(tool="midjourney", limit=20)
    with big.session() as s:
        for _ in range(5):
            q = SearchQuery(tool="midjourney", limit=20, cursor=search(s, q).next_cursor)
    plan = page_plan(big, q)
    scans = [n for n in nodes(plan) if n.get("Index Name") == "ix_assets_created_at_id"]
    assert scans and "created_at" in scans[0]["Index Cond"]      # seeks, does not skip rows
    assert not any(n["Node Type"] == "Sort" for n in nodes(plan))


def test_similar_probes_the_band_index(big: Catalog) -> None:
    with big.session() as s:
        h = s.execute(text("SELECT phash FROM assets LIMIT 1 OFFSET 100")).scalar_one()
    with big.session() as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))     # as similar_to_hash runs
        plan = s.execute(Explain(similar_statement(h, 8))).scalar_one()
    plan = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    assert "ix_assets_phash_bands" in index_names(plan) and "assets" not in seq_scans(plan)


def test_text_page_at_scale_returns_newest_first_with_estimated_total(big: Catalog) -> None:
    with big.session() as s:
        page = search(s, SearchQuery(text="portrait", limit=10))
    dates = [i["created_at"] for i in page.items]
    assert dates == sorted(dates, reverse=True) and len(dates) == 10
    assert page.total is not None and page.total > 10
