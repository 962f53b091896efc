"""Property tests: mutated real files, random chunks and random records never crash and stay fast.

"Never crash" is checked strictly: inspect_file catches everything at its
boundary and reports "internal error ..." for bugs, so that phrase must not
appear either.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import struct
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alice.pipeline.detect import detect
from alice.pipeline.detect.comfy_graph import locate_base_pass, read_graph
from alice.pipeline.extract.exif import parse_exif
from alice.pipeline.extract.limits import TEXT_CAP
from alice.pipeline.generation import Detection
from alice.pipeline.inspect import inspect_file
from alice.pipeline.metadata import Metadata
from tests import fixturegen as fg
from tests.corpus_paths import CORPUS

FILES = sorted(p for p in CORPUS.glob("*") if p.is_file() and p.stat().st_size > 0)
SECONDS_PER_FILE = 5.0
# ALICE_FUZZ_EXAMPLES=3000 for a deeper run by hand; the default keeps CI under a minute.
FUZZ = settings(max_examples=int(os.environ.get("ALICE_FUZZ_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
WORKDIR = Path(tempfile.mkdtemp(prefix="alice-fuzz-"))     # not tmp_path: hypothesis reruns one test body
atexit.register(shutil.rmtree, WORKDIR, True)


def _assert_sane(path: Path) -> None:
    started = time.perf_counter()
    info = inspect_file(path)
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS_PER_FILE, f"{elapsed:.1f}s for {path.stat().st_size} bytes"
    data = info.to_json()
    json.dumps(data, ensure_ascii=False).encode("utf-8")      # what the catalog and sidecar will need
    json.dumps(info.raw, ensure_ascii=False).encode("utf-8")
    assert "internal error" not in (data["error"] or ""), data["error"]
    assert not [w for w in data["warnings"] if "internal error" in w or "failed:" in w], data["warnings"]
    for key in ("seed", "steps", "width", "height"):
        assert data["generation"][key] is None or isinstance(data["generation"][key], int)


_mutation = st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate", "zero"]),
                      st.floats(0, 1), st.binary(min_size=1, max_size=16))


def _mutate(data: bytes, mutations: list) -> bytes:
    buffer = bytearray(data)
    for op, where, blob in mutations:
        at = int(where * max(len(buffer) - 1, 0))
        if op == "flip" and buffer:
            buffer[at] ^= blob[0] or 1
        elif op == "insert":
            buffer[at:at] = blob
        elif op == "delete":
            del buffer[at:at + len(blob) * 64]
        elif op == "truncate":
            del buffer[at:]
        elif op == "zero":
            buffer[at:at + len(blob)] = bytes(len(buffer[at:at + len(blob)]))
    return bytes(buffer)


@FUZZ
@given(source=st.sampled_from(FILES), mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_corpus_files(source: Path, mutations: list) -> None:
    path = WORKDIR / f"m{source.suffix}"
    path.write_bytes(_mutate(source.read_bytes(), mutations))
    _assert_sane(path)


_CHUNK_KINDS = [b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"acTL", b"IHDR", b"caBX", b"IDAT", b"IEND", b"abcd"]
_KEYS = ["parameters", "prompt", "workflow", "Comment", "Software", "invokeai_metadata", "sd-metadata", "Dream",
         "generation_data", "parameters-json", "smproj", "fooocus_scheme", "XML:com.adobe.xmp", "Description"]


@st.composite
def _chunk(draw) -> tuple[bytes, bytes]:
    kind = draw(st.sampled_from(_CHUNK_KINDS))
    if kind in (b"tEXt", b"zTXt", b"iTXt") and draw(st.booleans()):
        key = draw(st.sampled_from(_KEYS)).encode()
        return kind, key + b"\x00" + draw(st.binary(max_size=200))
    return kind, draw(st.binary(max_size=200))


@FUZZ
@given(before=st.lists(_chunk(), max_size=6), after=st.lists(_chunk(), max_size=4))
def test_random_png_chunks(before: list, after: list) -> None:
    path = WORKDIR / "r.png"
    path.write_bytes(fg.make_png(before, after))
    _assert_sane(path)


def _assert_exif_sane(exif: dict, seconds: float) -> None:
    assert seconds < SECONDS_PER_FILE
    for key, value in exif.items():
        assert isinstance(key, str)
        if isinstance(value, str):
            assert len(value) <= TEXT_CAP
        else:
            assert isinstance(value, int) or (isinstance(value, list) and all(isinstance(v, int) for v in value))


def _timed_parse(block: bytes) -> tuple[dict, list[str], float]:
    warnings: list[str] = []
    started = time.perf_counter()
    exif = parse_exif(block, warnings)
    return exif, warnings, time.perf_counter() - started


@FUZZ
@given(body=st.binary(max_size=400), big=st.booleans())
def test_random_exif_never_raises(body: bytes, big: bool) -> None:
    header = (b"MM\x00*" if big else b"II*\x00") + (b"\x00\x00\x00\x08" if big else b"\x08\x00\x00\x00")
    exif, _, seconds = _timed_parse(b"Exif\x00\x00" + header + body)
    _assert_exif_sane(exif, seconds)


@FUZZ
@given(prefix=st.sampled_from([b"", b"Exif\x00\x00", b"Exif\x00", b"junk", b"II*\x00", b"MM\x00*", b"II*", b"MM\x00"]),
       body=st.binary(max_size=64))
def test_random_bytes_and_truncated_tiff_headers(prefix: bytes, body: bytes) -> None:
    exif, _, seconds = _timed_parse(prefix + body)
    _assert_exif_sane(exif, seconds)


# Tags alice reads, sub-IFD pointers (Exif, GPS, Interop, SubIFDs), MakerNote, and anything else.
_TAGS = [0x0100, 0x010E, 0x010F, 0x0110, 0x0131, 0x02BC, 0x9286, 0x9C9C, 0x8769, 0x8825, 0xA005, 0x014A,
         0x927C, 0x9003, 0xA002]
_u32 = st.integers(0, 8) | st.integers(0, 600) | st.integers(0, 2**32 - 1)
_entry = st.tuples(st.sampled_from(_TAGS) | st.integers(0, 0xFFFF), st.integers(0, 14), _u32, _u32)


@FUZZ
@given(ifd0=st.lists(_entry, max_size=12), sub=st.lists(_entry, max_size=8), claimed=st.none() | st.integers(0, 0xFFFF),
       tail=st.binary(max_size=300), big=st.booleans(), loop=st.booleans())
def test_random_ifds_loops_and_huge_counts(ifd0: list, sub: list, claimed: int | None, tail: bytes, big: bool,
                                           loop: bool) -> None:
    """Entries with any type and any count (up to 4G), pointers into themselves, entry counts that lie."""
    e = ">" if big else "<"
    sub_at = 8 + 2 + 12 * len(ifd0) + 4
    table = b"".join(struct.pack(e + "HHII", *entry) for entry in ifd0)
    sub_table = b"".join(struct.pack(e + "HHII", *entry) for entry in sub)
    block = ((b"MM\x00*" if big else b"II*\x00") + struct.pack(e + "I", 8)
             + struct.pack(e + "H", len(ifd0) if claimed is None else claimed) + table
             + struct.pack(e + "I", 8 if loop else 0)                    # next IFD: itself, or none
             + struct.pack(e + "H", len(sub)) + sub_table + struct.pack(e + "I", sub_at if loop else 0) + tail)
    exif, _, seconds = _timed_parse(block)
    _assert_exif_sane(exif, seconds)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["seed", "steps", "cfg", "prompt", "inputs", "class_type", "text", "model",
                                       "sui_image_params", "Comment", "nodes", "image", "loras"]) | st.text(max_size=6),
                      children, max_size=5),
    max_leaves=25,
)
_link = st.lists(st.sampled_from(["1", "2", "3", "4"]) | st.integers(0, 4), min_size=2, max_size=2)
_node = st.fixed_dictionaries({
    "class_type": st.sampled_from(["KSampler", "SamplerCustomAdvanced", "CLIPTextEncode", "LoraLoader",
                                   "CheckpointLoaderSimple", "EmptyLatentImage", "SaveImage", "X"]),
    "inputs": st.dictionaries(st.sampled_from(["seed", "steps", "cfg", "model", "positive", "negative", "text",
                                               "latent_image", "width", "height", "guider", "sigmas", "images",
                                               "noise", "lora_name", "ckpt_name", "conditioning"]),
                              _json | _link, max_size=8),
})


@FUZZ
@given(graph=st.dictionaries(st.sampled_from(["1", "2", "3", "4"]), _node | _json, max_size=4))
def test_random_comfy_graphs(graph: dict) -> None:
    generation, _ = read_graph(graph, "png")
    assert generation.seed is None or isinstance(generation.seed, (int, str, float))
    detection = detect(Metadata(path=None, format="png", media="image", text={"prompt": json.dumps(graph)}))
    assert isinstance(detection, Detection)


@FUZZ
@given(text=st.dictionaries(st.sampled_from(_KEYS), st.text(max_size=80) | _json.map(json.dumps), max_size=5),
       comment=st.none() | st.text(max_size=80) | _json.map(json.dumps))
def test_random_records_through_every_detector(text: dict, comment) -> None:
    meta = Metadata(path=None, format="png", media="image", text=text,
                    exif={"UserComment": comment} if comment else {})
    detection = detect(meta)
    json.dumps(detection.raw, ensure_ascii=False).encode("utf-8")
    assert not [w for w in meta.warnings if "failed:" in w], meta.warnings
    generation = detection.generation
    assert generation.steps is None or isinstance(generation.steps, int)
    assert generation.cfg is None or isinstance(generation.cfg, float)


# -- the paths added for third-party savers, nested JSON and switch nodes --------------------------
def _nested(value, depth: int):
    """`value` JSON-encoded `depth` times: savers double-encode graphs and NovelAI's Comment."""
    for _ in range(depth):
        value = json.dumps(value)
    return value


@FUZZ
@given(record=_json, depth=st.integers(0, 3), tag=st.sampled_from(["ifd0", "exif", "both"]),
       container=st.sampled_from(["jpeg", "webp"]), raw_bytes=st.booleans(),
       key=st.sampled_from(["prompt", "workflow", "Comment", "extraMetadata", "Software"]))
def test_random_ifd0_usercomment_bundles(record, depth: int, tag: str, container: str, raw_bytes: bool,
                                         key: str) -> None:
    text = json.dumps({key: _nested(record, depth), "Software": "NovelAI" if key == "Comment" else "x"})
    value = text.encode("utf-8") if raw_bytes else text
    ifd0 = {fg.USER_COMMENT: value} if tag in ("ifd0", "both") else {}
    sub = {fg.USER_COMMENT: fg.user_comment(text, "ascii")} if tag in ("exif", "both") else None
    exif = fg.make_exif(ifd0, sub)
    path = WORKDIR / f"u.{container}"
    path.write_bytes(fg.make_jpeg(exif) if container == "jpeg" else fg.make_webp(exif))
    _assert_sane(path)


@FUZZ
@given(graph=_json, depth=st.integers(1, 3), extra=_json,
       where=st.sampled_from(["UserComment", "IFD0UserComment", "Make"]))
def test_nested_json_strings_through_every_detector(graph, depth: int, extra, where: str) -> None:
    bundle = {"prompt": _nested(graph, depth), "extraMetadata": _nested(extra, depth),
              "Comment": _nested(extra, depth), "Software": "NovelAI"}
    value = ("prompt:" if where == "Make" else "") + _nested(bundle, depth)
    meta = Metadata(path=None, format="jpeg", media="image", exif={where: value, "Software": "NovelAI"})
    detection = detect(meta)
    json.dumps(detection.raw, ensure_ascii=False).encode("utf-8")
    assert not [w for w in meta.warnings if "failed:" in w], meta.warnings


_SWITCH_CLASSES = ["ImpactSwitch", "CR Model Input Switch", "Switch any [Crystools]", "Any Switch (rgthree)",
                   "easy anythingIndexSwitch", "CR LoRA Stack", "ShowText|pysssss", "KSamplerAdvanced",
                   "SamplerCustomAdvanced", "RandomNoise", "BasicScheduler", "EmptyLatentImage", "VAEDecode",
                   "CheckpointLoaderSimple", "CLIPTextEncode", "SaveImage", "LatentUpscaleBy", "VAEEncode"]
_IDS = ["1", "2", "3", "4", "5", "6"]
_switch_link = st.tuples(st.sampled_from(_IDS), st.integers(0, 2)).map(list)
_switch_node = st.fixed_dictionaries({
    "class_type": st.sampled_from(_SWITCH_CLASSES),
    "inputs": st.dictionaries(
        st.sampled_from(["select", "Input", "index", "boolean", "on_true", "on_false", "input1", "input2", "model1",
                         "model2", "any_01", "any_02", "value0", "text", "seed", "noise_seed", "add_noise", "steps",
                         "model", "positive", "negative", "latent_image", "samples", "pixels", "images", "noise",
                         "sigmas", "guider", "denoise", "width", "height", "switch_1", "lora_name_1", "lora_stack",
                         "ckpt_name", "start_at_step"]),
        _switch_link | st.integers(-2, 3) | st.sampled_from(["On", "Off", "enable", "disable", "a", True, False]),
        max_size=10),
})


@FUZZ
@given(graph=st.dictionaries(st.sampled_from(_IDS), _switch_node, min_size=1, max_size=6))
def test_graph_cycles_through_switch_nodes(graph: dict) -> None:
    started = time.perf_counter()
    generation, _ = read_graph(graph, "png")
    located = locate_base_pass(graph)
    assert time.perf_counter() - started < SECONDS_PER_FILE
    for name, (node, key) in located.items():
        value = graph[node]["inputs"][key]
        assert not isinstance(value, (list, dict)), (name, node, key, value)    # a literal, never a link
    assert generation.seed is None or isinstance(generation.seed, (int, str, float))


_CHARSETS = ["none", "ascii", "undefined", "utf-16-be", "utf-16-le", "utf-16-bom", "utf-8-unicode"]


def _comment_bytes(text: str, charset: str) -> bytes:
    if charset == "none":
        return text.encode("utf-8")
    if charset == "ascii":
        return b"ASCII\x00\x00\x00" + text.encode("utf-8")
    if charset == "undefined":
        return b"\x00" * 8 + text.encode("utf-8")
    if charset == "utf-16-bom":
        return b"UNICODE\x00" + text.encode("utf-16")
    return b"UNICODE\x00" + text.encode("utf-8" if charset == "utf-8-unicode" else charset)


@FUZZ
@given(record=_json, depth=st.integers(0, 3), where=st.sampled_from(["ifd0", "exif", "both"]),
       charset=st.sampled_from(_CHARSETS), big=st.booleans(), as_ascii_type=st.booleans())
def test_user_comment_round_trip(record, depth: int, where: str, charset: str, big: bool, as_ascii_type: bool) -> None:
    """JSON (nested as strings `depth` times) comes back whole from IFD0 and the Exif IFD, any charset, any order."""
    text = json.dumps({"prompt": _nested(record, depth), "workflow": _nested(record, depth)})
    ifd0_value = text if as_ascii_type else fg.ascii_comment(text)      # save nodes: no charset header
    ifd0 = {fg.USER_COMMENT: ifd0_value} if where in ("ifd0", "both") else {fg.MAKE: "x"}
    sub = {fg.USER_COMMENT: _comment_bytes(text, charset)} if where in ("exif", "both") else None
    exif, warnings, seconds = _timed_parse(fg.make_exif(ifd0, sub, big_endian=big))
    _assert_exif_sane(exif, seconds)
    assert exif["UserComment"] == text
    assert exif.get("IFD0UserComment") == (text if where == "both" else None)
    assert warnings == []
