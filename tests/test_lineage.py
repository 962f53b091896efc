"""Lineage: parents named by a file's own record (pipeline/lineage.py), the sidecar listing them, the
catalog's edges recorded when the file is filed, the tree up and down, and search by parent/child."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alice.daemon.catalog import lineage, store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.search import SearchError, SearchQuery, search
from alice.daemon.ingest.filing import Organizer, Source
from alice.pipeline import sidecar
from alice.pipeline.embed_record import embed_png
from alice.pipeline.lineage import parents_of
from tests.rpc_env import make_config, picture, short_dir

A = "b3:" + "a" * 64
B = "b3:" + "b" * 64


def test_parents_come_from_alices_record_only() -> None:
    record = {"alice_generation": 1, "provider": "comfyui", "model": "workflow",
              "parents": [{"content_id": A, "kind": "varied_from"}, {"content_id": A, "kind": "varied_from"},
                          {"content_id": "b3:short", "kind": "varied_from"}, {"content_id": B, "kind": "cousin"},
                          "junk"],
              "references": [A, B]}
    assert parents_of(record) == [{"content_id": A, "kind": "varied_from"}, {"content_id": B, "kind": "reference"}]
    img2img = {"alice_generation": 1, "provider": "a1111", "model": "img2img", "references": [B]}
    assert parents_of(img2img) == [{"content_id": B, "kind": "graph_input"}]
    assert parents_of({"prompt": {"3": {}}, "references": [A]}) == []          # not alice's record
    assert parents_of(None) == []


def _record(parent_ids: list[tuple[str, str]]) -> dict[str, Any]:
    return {"alice_generation": 1, "provider": "comfyui", "model": "workflow", "prompt": "child",
            "params": {"graph": {}}, "parents": [{"content_id": c, "kind": k} for c, k in parent_ids]}


def _file(cfg: Any, catalog: Catalog, path: Path) -> tuple[int, Path]:
    res = Organizer(cfg, catalog).organize(Source(path, cfg.inboxes[0]))
    assert res.status == "organized", res
    with catalog.session() as s:
        return store.asset_by_content_id(s, res.content_id).id, Path(res.dest)


def _child(cfg: Any, name: str, seed: int, parents: list[tuple[str, str]]) -> Path:
    plain = picture(cfg.inboxes[0] / "proj" / f"{name}-plain.png", seed)
    out = plain.with_name(f"{name}.png")
    out.write_bytes(embed_png(plain.read_bytes(), _record(parents)))
    plain.unlink()
    return out


def test_filing_records_edges_and_the_tree_walks_up_and_down(catalog: Catalog, db_url: str) -> None:
    cfg = make_config(short_dir())
    root_id, _ = _file(cfg, catalog, picture(cfg.inboxes[0] / "proj" / "root.png", 1, prompt="the original"))
    with catalog.session() as s:
        root_cid = store.asset_by_id(s, root_id).content_id
    missing = "b3:" + "c" * 64                                       # a parent alice never saw
    child_id, child_path = _file(cfg, catalog, _child(cfg, "child", 2, [(root_cid, "varied_from"),
                                                                        (missing, "reference")]))
    with catalog.session() as s:
        child_cid = store.asset_by_id(s, child_id).content_id
    grand_id, _ = _file(cfg, catalog, _child(cfg, "grand", 3, [(child_cid, "recreated_from"),
                                                               (root_cid, "reference")]))

    listed = sidecar.load(sidecar.sidecar_path(child_path).read_text()).parents
    assert listed == [{"content_id": root_cid, "kind": "varied_from"}, {"content_id": missing, "kind": "reference"}]

    with catalog.session() as s:
        assert lineage.parents(s, child_id) == [(root_id, "varied_from")]     # the unknown parent is not linked
        tree = lineage.tree(s, child_id)
        assert [(p["id"], p["kind"]) for p in tree["parents"]] == [(root_id, "varied_from")]
        assert [(c["id"], c["kind"]) for c in tree["children"]] == [(grand_id, "recreated_from")]
        assert tree["asset"]["id"] == child_id and tree["truncated"] is False

        down = lineage.tree(s, root_id)["children"]
        # grand is a grandchild (via child) and a child (reference): shown in full once, then marked seen.
        assert [(c["id"], c["kind"], c.get("seen", False)) for c in down] == [
            (child_id, "varied_from", False), (grand_id, "reference", True)]
        assert [(g["id"], g["kind"]) for g in down[0]["children"]] == [(grand_id, "recreated_from")]

        up = lineage.tree(s, grand_id, depth=1)["parents"]
        assert sorted(p["id"] for p in up) == [root_id, child_id] and all(p["parents"] == [] for p in up)

        ids = lambda q: sorted(item["id"] for item in search(s, q).items)      # noqa: E731
        assert ids(SearchQuery(child_of=root_id)) == [child_id, grand_id]
        assert ids(SearchQuery(child_of=child_id)) == [grand_id]
        assert ids(SearchQuery(parent_of=grand_id)) == [root_id, child_id]
        assert ids(SearchQuery(parent_of=root_id)) == []
        with pytest.raises(SearchError, match="child_of"):
            SearchQuery(child_of=0)
        with pytest.raises(lineage.LineageError, match="depth"):
            lineage.tree(s, root_id, depth=0)

    # Filing the child again (a second copy) adds no duplicate edge.
    with catalog.session() as s:
        assert lineage.record_parents(s, child_id, [{"content_id": root_cid, "kind": "varied_from"}]) == 0
        assert lineage.record_parents(s, child_id, [{"content_id": child_cid, "kind": "reference"}]) == 0   # no self

    # The CLI reads the catalog itself when no daemon runs.
    from alice.daemon.cli.main import main

    config = Path(cfg.data_dir).parent / "config.yaml"
    config.write_text(json.dumps({"inboxes": [str(p) for p in cfg.inboxes], "organized": str(cfg.organized),
                                  "data_dir": str(cfg.data_dir), "socket": str(cfg.socket),
                                  "database": {"url": db_url}}))
    shown = CliRunner().invoke(main, ["--config", str(config), "lineage", str(child_id), "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["parents"][0]["id"] == root_id
    text = CliRunner().invoke(main, ["--config", str(config), "lineage", str(child_id)]).output
    assert "made from:" in text and "varied from" in text and "recreated from" in text


def test_a_comfyui_files_input_images_in_the_input_folder_are_its_parents(catalog: Catalog) -> None:
    root = short_dir()
    input_dir = root / "ComfyUI" / "input"
    cfg = make_config(root, providers={"comfyui": {"input_dir": str(input_dir)}})
    source_id, source_path = _file(cfg, catalog, picture(cfg.inboxes[0] / "proj" / "photo.png", 4))
    input_dir.mkdir(parents=True)
    (input_dir / "photo.png").write_bytes(source_path.read_bytes())      # the user loaded it in ComfyUI
    picture(input_dir / "unfiled.png", 9)                                 # an input alice never filed
    graph = {"1": {"class_type": "LoadImage", "inputs": {"image": "photo.png"}},
             "2": {"class_type": "LoadImage", "inputs": {"image": "unfiled.png"}},
             "3": {"class_type": "LoadImage", "inputs": {"image": "../escape.png"}},
             "4": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "cfg": 7, "sampler_name": "euler",
                                                        "scheduler": "normal", "denoise": 0.6}},
             "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0]}}}
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    img2img = cfg.inboxes[0] / "proj" / "img2img.png"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(img2img, "PNG", pnginfo=info)
    child_id, child_path = _file(cfg, catalog, img2img)
    with catalog.session() as s:
        assert lineage.parents(s, child_id) == [(source_id, "graph_input")]
        source_cid = store.asset_by_id(s, source_id).content_id
    assert sidecar.load(sidecar.sidecar_path(child_path).read_text()).parents == [
        {"content_id": source_cid, "kind": "graph_input"}]

    # Without the input folder configured nothing is read and no edge is made.
    plain = make_config(short_dir())
    other = cfg.inboxes[0] / "proj" / "img2img-b.png"
    Image.new("RGB", (40, 30), (3, 2, 1)).save(other, "PNG", pnginfo=info)
    res = Organizer(plain, catalog).organize(Source(other, cfg.inboxes[0]))
    with catalog.session() as s:
        assert lineage.parents(s, store.asset_by_content_id(s, res.content_id).id) == []
