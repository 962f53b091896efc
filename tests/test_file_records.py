"""Every filed file findable by its own record: same pixels, different tools' metadata, one asset.

The corpus holds eight 1x1-pixel PNGs with identical pixels (one content id)
that carry the records of five tools (A1111, ComfyUI, Fooocus, InvokeAI,
NovelAI). Organizing them gives one asset with eight files; search must find
the asset by any file's tool, prompt, model or seed, and assets.get must say
which record came from which file.
"""
from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import make_url, text

from alice.daemon.api.client import RpcClient
from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.migrate import alembic_config
from alice.daemon.catalog.search import SearchQuery, search
from alice.daemon.ingest.filing import Organizer, Source
from alice.pipeline.generation import Generation
from alice.pipeline.identity import file_hash
from alice.pipeline.record import AssetRecord
from tests.corpus_paths import CORPUS
from tests.organize_env import AliceEnv, labels
from tests.rpc_env import make_config, running_server, short_dir

# Same pixels, metadata from different tools (tests/corpus/labels.yaml has each file's tool).
SAME_PIXELS = ("a1111-cropped.png", "comfyui-area-composition-cropped.png", "comfyui-img2img-cropped.png",
               "fooocus-cropped.png", "invokeai-dream.png", "invokeai-metadata-v3.png",
               "invokeai-sd-metadata-v2.png", "novelai-cropped.png")


# -- through the real CLI -----------------------------------------------------------------

@pytest.fixture(scope="module")
def filed(pg_admin_url: str) -> dict:
    """The eight files organized once by `alice organize` (slow: one run shared by the module's tests)."""
    name = f"alice_test_records_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    root = short_dir()
    try:
        env = AliceEnv(root, make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False))
        env.write_config()
        for n in SAME_PIXELS:
            (env.inbox / "pixels").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CORPUS / n, env.inbox / "pixels" / n)
        results = env.organize_json()
        yield {"env": env, "results": {Path(r["path"]).name: r for r in results}}
    finally:
        shutil.rmtree(root, ignore_errors=True)
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli_search(env: AliceEnv, *args: str) -> list[dict]:
    out = [json.loads(line) for line in env.run("search", "--json", *args).stdout.splitlines() if line.strip()]
    assert "summary" in out[-1] and out[-1]["summary"]["source"] == "catalog"
    return out[:-1]


def tool_of(name: str) -> str:
    return next(lab["tool"] for lab in labels() if lab["file"] == name)


def test_the_eight_files_are_filed_as_one_asset(filed: dict) -> None:
    results = filed["results"]
    assert set(results) == set(SAME_PIXELS)
    assert {r["status"] for r in results.values()} == {"organized"}        # other bytes: each is filed
    assert len({r["content_id"] for r in results.values()}) == 1
    assert {r["tool"] for r in results.values()} == {tool_of(n) for n in SAME_PIXELS}


@pytest.mark.parametrize("tool", ["invokeai", "novelai", "fooocus", "comfyui", "a1111"])
def test_search_by_any_files_tool_finds_the_asset(filed: dict, tool: str) -> None:
    env, results = filed["env"], filed["results"]
    rows = cli_search(env, "--tool", tool)
    assert [r["content_id"] for r in rows] == [results["invokeai-dream.png"]["content_id"]]
    # The row shows a file that carries the tool asked for: its path with its own record, never one
    # file's path beside another file's tool and prompt.
    assert rows[0]["tool"] == tool
    assert rows[0]["path"] in {r["dest"] for name, r in results.items() if tool_of(name) == tool}


def test_a_search_row_pairs_a_path_with_that_files_own_record(filed: dict) -> None:
    env, results = filed["env"], filed["results"]
    row = cli_search(env)[0]
    shown = next(name for name, r in results.items() if r["dest"] == row["path"])
    assert row["tool"] == tool_of(shown)


def primary_tool(env: AliceEnv) -> str:
    catalog = Catalog.open(env.db_url, env.root / "data")
    try:
        with catalog.session() as s:
            return s.execute(text("SELECT tool FROM assets")).scalar_one()
    finally:
        catalog.close()


def test_search_by_a_tool_no_file_carries_finds_nothing(filed: dict) -> None:
    assert cli_search(filed["env"], "--tool", "midjourney") == []


def test_prompt_seed_and_model_of_a_later_file_find_the_asset(filed: dict) -> None:
    env = filed["env"]
    cid = filed["results"]["novelai-cropped.png"]["content_id"]
    assert [r["content_id"] for r in cli_search(env, "smiling goldfish")] == [cid]             # Fooocus prompt
    assert [r["content_id"] for r in cli_search(env, "victorian woman wings")] == [cid]        # ComfyUI prompt
    assert [r["content_id"] for r in cli_search(env, "--seed", "2253955223")] == [cid]         # NovelAI seed
    assert [r["content_id"] for r in cli_search(env, "--model", "deliberateForInvoke_v08")] == [cid]
    assert [r["content_id"] for r in cli_search(env, "--tool", "novelai", "--seed", "2253955223")] == [cid]
    # Filters on records hold within one file's record: NovelAI's seed with Fooocus's model is no file.
    assert cli_search(env, "--seed", "2253955223", "--model", "juggernautXL_v8Rundiffusion") == []
    assert cli_search(env, "--tool", "invokeai", "--seed", "2253955223") == []


def test_assets_get_says_which_record_came_from_which_file(filed: dict) -> None:
    env, results = filed["env"], filed["results"]
    catalog = Catalog.open(env.db_url, env.root / "data")
    try:
        # The server's own folder (removed after) holds its socket; its roots are this tree's.
        roots = {"inboxes": [str(env.inbox)], "organized": str(env.organized)}
        with running_server(catalog, cfg_extra=roots) as rpc, RpcClient(rpc.sock) as client:
            got = client.call("assets.get", {"asset": results["novelai-cropped.png"]["content_id"]})
            generation = client.call("assets.generation", {"asset": got["id"]})
    finally:
        catalog.close()
    by_dest = {r["dest"]: name for name, r in results.items()}
    records = got["records"]
    assert len(records) == len(SAME_PIXELS)
    seen = set()
    for record in records:
        filed_paths = [p["path"] for p in record["paths"] if p["role"] == "organized"]
        assert len(filed_paths) == 1, record
        name = by_dest[filed_paths[0]]
        seen.add(name)
        assert record["file_hash"] == file_hash(Path(filed_paths[0]))
        assert record["tool"] == tool_of(name), (name, record["tool"])
        assert "raw" not in record["generation"]
        source = [p["path"] for p in record["paths"] if p["role"] == "source"]
        assert source == [str(env.inbox / "pixels" / name)]
    assert seen == set(SAME_PIXELS)
    novelai = next(r for r in records if by_dest[r["paths"][0]["path"]] == "novelai-cropped.png")
    assert novelai["generation"]["seed"] == 2253955223 and novelai["generation"]["steps"] == 50
    assert novelai["generation"]["prompt"].startswith("masterpiece, best quality")
    # The asset's own tool is one of its files' (the first filed); its record is among them.
    assert got["tool"] in {r["tool"] for r in records}
    assert len(generation["records"]) == len(SAME_PIXELS)
    assert all("raw" in r["generation"] for r in generation["records"])


# -- the catalog functions ----------------------------------------------------------------

def rec(file_hash_: str, tool: str | None, **gen: object) -> AssetRecord:
    return AssetRecord(content_id="b3:same-pixels", file_hash=file_hash_, size=10, format="png", media="image",
                       tool=tool, ai=tool is not None, project="p", source_path=f"/in/{file_hash_}.png",
                       created_at=datetime(2025, 1, 1, tzinfo=UTC), generation=Generation(**gen))


def ids(catalog: Catalog, **params: object) -> list[int]:
    with catalog.session() as s:
        return [i["id"] for i in search(s, SearchQuery.from_params(params)).items]


def test_each_files_reading_is_kept_and_read_again_replaces_it(catalog: Catalog) -> None:
    with catalog.session() as s:
        aid, created = store.record_asset(s, rec("b3:one", "a1111", prompt="a red fox", seed=1, model="m1"))
        again, created_again = store.record_asset(s, rec("b3:two", "novelai", prompt="a blue whale", seed=2))
        store.record_asset(s, rec("b3:two", "novelai", prompt="a blue whale, read better", seed=2, model="nai"))
    assert created and not created_again and aid == again
    with catalog.session() as s:
        rows = s.execute(text("SELECT file_hash, tool, prompt, model FROM file_records ORDER BY file_hash")).all()
        asset_tool = s.execute(text("SELECT tool FROM assets")).scalar_one()
    assert [tuple(r) for r in rows] == [("b3:one", "a1111", "a red fox", "m1"),
                                       ("b3:two", "novelai", "a blue whale, read better", "nai")]
    assert asset_tool == "a1111"                                     # the first file still defines the asset
    assert ids(catalog, tool="novelai") == [aid] and ids(catalog, tool=["dalle", "a1111"]) == [aid]
    assert ids(catalog, text="whale") == [aid] and ids(catalog, text="fox") == [aid]
    assert ids(catalog, model="nai", seed=2) == [aid] and ids(catalog, model="nai", seed=1) == []
    assert ids(catalog, tool="dalle") == []


def test_migration_gives_existing_assets_their_first_files_record(catalog: Catalog) -> None:
    with catalog.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0005")
        conn.commit()
        conn.execute(text("INSERT INTO projects (name) VALUES ('p')"))
        aid = conn.execute(text("""INSERT INTO assets (content_id, file_hash, size, format, media, tool, ai,
                                       project_id, created_at)
                                   SELECT 'b3:c', 'b3:f', 1, 'png', 'image', 'invokeai', true, id, now()
                                   FROM projects RETURNING id""")).scalar_one()
        conn.execute(text("INSERT INTO generations (asset_id, prompt, seed, model) VALUES (:a, 'old cat', 5, 'm')"),
                     {"a": aid})
        conn.commit()
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
        row = conn.execute(text("SELECT asset_id, file_hash, tool, ai, prompt, seed, model FROM file_records")).one()
    assert tuple(row) == (aid, "b3:f", "invokeai", True, "old cat", 5, "m")
    assert ids(catalog, tool="invokeai", seed=5) == [aid]


def test_a_duplicate_fills_in_a_record_the_catalog_lacks(catalog: Catalog, tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    inbox = cfg.inboxes[0]
    organizer = Organizer(cfg, catalog)
    for name in ("a1111-cropped.png", "novelai-cropped.png"):
        shutil.copyfile(CORPUS / name, inbox / name)
        assert organizer.organize(Source(inbox / name, inbox)).status == "organized"
    with catalog.session() as s:     # as in a catalog filed before file records: only the first file's
        s.execute(text("DELETE FROM file_records WHERE tool = 'novelai'"))
        store.refresh_search(s, s.execute(text("SELECT id FROM assets")).scalar_one())
    assert ids(catalog, tool="novelai") == []
    # Dropped again into the same project (another project's folder would file a copy there).
    shutil.copyfile(CORPUS / "novelai-cropped.png", inbox / "novelai-again.png")
    result = organizer.organize(Source(inbox / "novelai-again.png", inbox))
    assert result.status == "duplicate"
    assert len(ids(catalog, tool="novelai")) == 1 and ids(catalog, text="space cat") == ids(catalog, tool="novelai")
