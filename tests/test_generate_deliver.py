"""Delivering generated files into the inbox (stamped, content id kept, never overwriting)
and turning references into each provider's request fields."""
from __future__ import annotations

import base64
import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from alice.daemon.fs.atomic_rename import rename_no_replace
from alice.daemon.generation.deliver import deliver
from alice.daemon.generation.references import Reference, ReferenceError, from_path, resolve
from alice.pipeline.extract import extract
from alice.pipeline.ffmpeg import ffmpeg_exe
from alice.pipeline.identity import identify
from alice.pipeline.inspect import inspect_file
from alice.providers.inputs import ProviderInputError as InputError
from alice.providers.registry import build_providers
from tests.fakes.server import png_bytes

RECORD = {"alice_generation": 1, "provider": "fal", "model": "fal-ai/flux/dev", "request_id": "r-1",
          "prompt": "a heron", "params": {"seed": 9, "num_inference_steps": 20}, "references": []}


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 200, 30)).save(buf, fmt)
    return buf.getvalue()


def staged(tmp_path: Path, name: str, data: bytes) -> Path:
    stage = tmp_path / "stage"
    stage.mkdir(exist_ok=True)
    path = stage / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("fmt,name", [("PNG", "out.png"), ("JPEG", "out.jpg"), ("WEBP", "out.webp")])
def test_images_are_stamped_and_keep_their_content_id(tmp_path: Path, fmt: str, name: str) -> None:
    data = image_bytes(fmt)
    src = staged(tmp_path, name, data)
    before = identify(src, {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}[fmt], "image")
    got = deliver(src, RECORD, tmp_path / "inbox" / "birds")
    assert got.embedded and got.warnings == []
    assert got.path == tmp_path / "inbox" / "birds" / name and got.content_id == before.content_id
    assert got.file_hash != before.file_hash                     # the bytes did change: the record is in them
    info = inspect_file(got.path)
    assert info.tool == "fal" and info.generation.prompt == "a heron" and info.generation.seed == 9
    assert not src.exists() and list(src.parent.iterdir()) == []


def test_an_existing_name_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "inbox" / "p"
    dest.mkdir(parents=True)
    (dest / "out.png").write_bytes(b"someone else's file")
    got = deliver(staged(tmp_path, "out.png", png_bytes()), RECORD, dest)
    assert got.path.name == "out-2.png"
    assert (dest / "out.png").read_bytes() == b"someone else's file"


def test_rename_no_replace_refuses_an_existing_target(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"new")
    (tmp_path / "b").write_bytes(b"old")
    with pytest.raises(FileExistsError):
        rename_no_replace(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"old" and (tmp_path / "a").exists()
    rename_no_replace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == b"new" and not (tmp_path / "a").exists()


def test_a_format_that_cannot_carry_the_record_is_still_delivered(tmp_path: Path) -> None:
    data = b"\x00\x00\x00\x18ftypmp42fake-video"                  # what the fake services send as "video"
    got = deliver(staged(tmp_path, "clip.mp4", data), RECORD, tmp_path / "inbox")
    assert not got.embedded and got.path.read_bytes() == data
    assert got.warnings and "without the record" in got.warnings[0]


def test_a_damaged_png_is_delivered_unstamped(tmp_path: Path) -> None:
    data = png_bytes()[:40]
    got = deliver(staged(tmp_path, "cut.png", data), RECORD, tmp_path / "inbox")
    assert not got.embedded and got.path.read_bytes() == data
    assert "cannot stamp" in got.warnings[0]


def test_mp4_gets_the_record_as_a_metadata_tag_with_the_same_streams(tmp_path: Path) -> None:
    src = tmp_path / "stage" / "clip.mp4"
    src.parent.mkdir()
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=5:duration=0.4",
                    "-c:v", "mpeg4", str(src)], check=True, timeout=60)
    before = identify(src, "mp4", "video").content_id
    got = deliver(src, RECORD, tmp_path / "inbox")
    assert got.embedded, got.warnings
    assert got.content_id == before == identify(got.path, "mp4", "video").content_id
    assert '"prompt":"a heron"' in extract(got.path).video_tags["alice:generation"]
    assert inspect_file(got.path).tool == "fal"


def ref(tmp_path: Path, name: str, data: bytes, media: str, fmt: str) -> Reference:
    path = tmp_path / name
    path.write_bytes(data)
    return Reference("b3:" + "0" * 64, path, fmt, media)


def build(provider: str, prompt: str | None, params: dict, refs: list) -> tuple[dict, dict]:
    """What `provider` sends for alice's (prompt, params, references): its own inputs_for."""
    return build_providers({}, env={})[provider].inputs_for(prompt, params, refs)


def test_fal_gets_data_uris_and_the_prompt(tmp_path: Path) -> None:
    one = ref(tmp_path, "a.png", png_bytes(), "image", "png")
    send, inputs = build("fal", "blue", {"seed": 1}, [one])
    assert inputs == {} and send["prompt"] == "blue" and send["seed"] == 1
    assert base64.b64decode(send["image_url"].split(",", 1)[1]) == png_bytes()
    send, _ = build("fal", None, {"image_url": "https://mine"}, [one])
    assert send == {"image_url": "https://mine"}                   # the user's own value wins
    send, _ = build("fal", "x", {}, [one, one])
    assert len(send["image_urls"]) == 2 and "image_url" not in send


def test_each_provider_takes_references_its_own_way(tmp_path: Path) -> None:
    image = ref(tmp_path, "face.png", png_bytes(), "image", "png")
    audio = ref(tmp_path, "voice.mp3", b"ID3fake", "audio", "mp3")
    send, _ = build("bfl", "x", {}, [image])
    assert base64.b64decode(send["input_image"]) == png_bytes()
    send, inputs = build("hedra", "talk", {}, [image, audio])
    assert send == {"text_prompt": "talk"} and inputs == {"image": image.path, "audio": audio.path}
    with pytest.raises(InputError, match="one image and one audio"):
        build("hedra", "talk", {}, [image])
    with pytest.raises(InputError, match="takes no reference"):
        build("openai", "x", {}, [image])
    with pytest.raises(InputError, match="image references only"):
        build("bfl", "x", {}, [audio])
    send, inputs = build("a1111", "a fox", {"steps": 20}, [image])
    assert send == {"prompt": "a fox", "steps": 20} and inputs == {"init_images": [image.path]}
    send, inputs = build("comfyui", None, {"graph": {"1": {}}}, [image])
    assert send == {"graph": {"1": {}}} and inputs == {"images": {"face.png": image.path}}
    with pytest.raises(InputError, match="runs a graph, not a prompt"):
        build("comfyui", "a fox", {}, [])


def test_references_resolve_from_files_and_refuse_what_is_not_there(tmp_path: Path) -> None:
    path = tmp_path / "r.png"
    path.write_bytes(png_bytes())
    got = from_path(path)
    assert got.content_id == identify(path, "png", "image").content_id and got.media == "image"
    with pytest.raises(ReferenceError, match="not a file"):
        resolve(tmp_path / "missing.png", None)
    with pytest.raises(ReferenceError, match="needs the catalog"):
        resolve("b3:" + "a" * 64, None)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ReferenceError, match="empty"):
        from_path(tmp_path / "empty.png")
    (tmp_path / "cut.png").write_bytes(png_bytes()[:30])
    with pytest.raises(ReferenceError, match="cannot be read as media"):
        from_path(tmp_path / "cut.png")
