"""Thumbnails drawn once per content and kept in a bounded cache; assets.view's images, sheets and strips."""
from __future__ import annotations

import base64
import io
import os
import subprocess
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from alice.daemon.api import protocol as p
from alice.daemon.api.client import RpcCallError, RpcClient
from alice.daemon.api.methods import REGISTRY
from alice.daemon.catalog.engine import Catalog
from alice.daemon.thumbnails import ThumbnailCache
from alice.pipeline.ffmpeg import ffmpeg_exe
from alice.pipeline.thumbnail import MAX_SIDE, ThumbnailError, contact_sheet, image_thumbnail
from tests.rpc_env import RpcEnv, fill_sample, running_server


@pytest.fixture
def env(catalog: Catalog):
    with running_server(catalog) as e:
        e.assets = fill_sample(e)       # type: ignore[attr-defined]
        yield e


def call(env: RpcEnv, method: str, **params):
    with RpcClient(env.sock) as c:
        result = c.call(method, params)
    Draft202012Validator(REGISTRY.methods[method].result).validate(result)
    return result


def decoded(b64: str) -> Image.Image:
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def organize_big(env: RpcEnv) -> int:
    path = env.cfg.inboxes[0] / "wide" / "panorama.png"
    path.parent.mkdir(parents=True)
    Image.new("RGB", (3000, 1200), (200, 120, 40)).save(path)
    res = env.organize(path)
    with RpcClient(env.sock) as c:
        return c.call("assets.search", {"content_id": res["content_id"]})["items"][0]["id"]


def organize_video(env: RpcEnv) -> int:
    path = env.cfg.inboxes[0] / "clips" / "clip.mp4"
    path.parent.mkdir(parents=True)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=2:size=320x240:rate=10",
                    "-c:v", "mpeg4", str(path)], check=True)
    res = env.organize(path)
    assert res["status"] == "organized", res
    with RpcClient(env.sock) as c:
        return c.call("assets.search", {"content_id": res["content_id"]})["items"][0]["id"]


def test_a_thumbnail_is_drawn_once_per_content_and_reused(env: RpcEnv) -> None:
    fox = env.assets["fox"]
    first = call(env, "assets.thumbnail", asset=fox["id"])
    assert first["cached"] is False and Path(first["path"]).is_file()
    assert Path(first["path"]).is_relative_to(env.cfg.data_dir / "thumbnails")
    assert fox["content_id"].split(":")[1] in first["path"]
    again = call(env, "assets.thumbnail", asset=fox["content_id"], format="base64")
    assert again["cached"] is True and again["path"] == first["path"]
    img = decoded(again["data"])
    assert img.format == "JPEG" and img.size == (128, 128)          # never enlarged


def test_large_views_fit_the_vision_limit(env: RpcEnv) -> None:
    big = organize_big(env)
    view = call(env, "assets.view", asset=big)
    img = decoded(view["image"]["data"])
    assert view["kind"] == "asset" and max(img.size) == MAX_SIDE and img.size == (view["width"], view["height"])
    assert view["image"]["mime_type"] == "image/jpeg" and view["assets"][0]["id"] == big
    assert call(env, "assets.thumbnail", asset=big)["width"] == 384


def test_a_contact_sheet_shows_search_results_with_their_ids(env: RpcEnv) -> None:
    view = call(env, "assets.view", text="cyberpunk fox")
    assert view["kind"] == "sheet" and {a["id"] for a in view["assets"]} == {env.assets["fox"]["id"],
                                                                             env.assets["fox2"]["id"]}
    sheet = decoded(view["image"]["data"])
    assert max(sheet.size) <= MAX_SIDE
    everything = call(env, "assets.view", limit=16)
    assert len(everything["assets"]) == 4
    call(env, "boards.add", board="b", assets=[env.assets["castle"]["id"]])
    assert [a["id"] for a in call(env, "assets.view", board="b")["assets"]] == [env.assets["castle"]["id"]]
    with RpcClient(env.sock) as c, pytest.raises(RpcCallError) as err:
        c.call("assets.view", {"text": "nothing matches this"})
    assert err.value.code == p.NOT_FOUND


def test_a_missing_file_is_skipped_on_a_sheet_and_named_for_one_asset(env: RpcEnv) -> None:
    Path(env.assets["plain"]["dest"]).unlink()
    view = call(env, "assets.view")
    assert [s["id"] for s in view["skipped"]] == [env.assets["plain"]["id"]] and len(view["assets"]) == 3
    with RpcClient(env.sock) as c, pytest.raises(RpcCallError) as err:
        c.call("assets.view", {"asset": env.assets["plain"]["id"]})
    assert err.value.code == p.NOT_FOUND and "no file present" in err.value.message


def test_a_video_is_a_strip_of_four_frames(env: RpcEnv) -> None:
    clip = organize_video(env)
    view = call(env, "assets.view", asset=clip)
    strip = decoded(view["image"]["data"])
    assert view["kind"] == "strip" and strip.width > 3 * strip.height and strip.width <= MAX_SIDE
    # The four frames differ (testsrc moves), so the quarters are not copies of each other.
    q = strip.width // 4
    quarters = [strip.crop((i * q, 0, (i + 1) * q - 8, strip.height)).tobytes() for i in range(4)]
    assert len(set(quarters)) == 4


def test_the_cache_drops_the_least_recently_used(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path, max_files=16)
    paths = []
    for i in range(20):
        src = tmp_path / f"src{i}.png"
        Image.new("RGB", (40, 30), (i * 10, 0, 0)).save(src)
        thumb = cache.get(f"b3:{i:064x}", src, "image")
        os.utime(thumb.path, ns=(i * 10**9, i * 10**9))          # written in order, a second apart
        paths.append(thumb.path)
    os.utime(paths[0])                                            # used again just now
    assert cache.prune() == 4
    assert paths[0].exists() and not any(p.exists() for p in paths[1:5]) and all(p.exists() for p in paths[5:])


def test_what_cannot_be_drawn_says_so(tmp_path: Path) -> None:
    bad = tmp_path / "x.png"
    bad.write_bytes(b"not a picture")
    with pytest.raises(ThumbnailError, match="not an image"):
        image_thumbnail(bad, 100)
    with pytest.raises(ThumbnailError):
        contact_sheet([])
