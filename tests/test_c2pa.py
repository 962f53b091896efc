"""C2PA: real manifests from the corpus, and hand-made manifests for the
generators we have no signed sample of (shaped like c2pa-python's Reader JSON)."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alice.pipeline.detect import c2pa as c2pa_detector
from alice.pipeline.extract.c2pa import read_c2pa
from alice.pipeline.metadata import Metadata
from tests.corpus_paths import CORPUS

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def corpus(name: str) -> Path:
    return CORPUS / name


def meta_with(manifest: dict | None, **kw) -> Metadata:
    return Metadata(path=None, format=kw.pop("format", "png"), media=kw.pop("media", "image"),
                    c2pa=manifest, c2pa_present=manifest is not None, **kw)


def manifest(generator: str | None = None, agent=None, source_type: str | None = None,
             issuer: str = "Some CA", action: str = "c2pa.created", description: str | None = None,
             **extra) -> dict:
    act: dict = {"action": action}
    if description is not None:
        act["description"] = description
    if agent is not None:
        act["softwareAgent"] = agent
    if source_type is not None:
        act["digitalSourceType"] = source_type
    m = {
        "claim_generator_info": [{"name": generator}] if generator else [],
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [act]}}],
        "signature_info": {"issuer": issuer, "time": "2025-01-02T03:04:05+00:00"},
    }
    m.update(extra)
    return m


# --- reading real files -------------------------------------------------------

@pytest.mark.parametrize("name, fmt, tool, source_type", [
    ("c2pa-amazon-titan.png", "png", "amazon", "trainedAlgorithmicMedia"),
    ("c2pa-firefly-generative-fill.jpg", "jpeg", "firefly", "compositeWithTrainedAlgorithmicMedia"),
    ("c2pa-sora.mp4", "mp4", "openai", "trainedAlgorithmicMedia"),
])
@pytest.mark.parametrize("verify", [True, False])
def test_corpus_ai_manifests_are_read_and_detected(name, fmt, tool, source_type, verify):
    present, manifest_json, warnings = read_c2pa(corpus(name), fmt, verify=verify)
    assert present and manifest_json is not None
    assert manifest_json["validation_state"] in ({"Valid", "Invalid", "Trusted"} if verify else {"unverified"})
    result = c2pa_detector.detect(meta_with(manifest_json, format=fmt))
    assert result is not None and result.ai and result.tool == tool
    assert f"c2pa:digital_source_type={source_type}" in result.evidence
    assert result.generation.created_at and result.generation.created_at[:2] == "20"


def test_untrusted_or_expired_certificate_does_not_hide_the_manifest():
    # The Sora sample's certificate has expired and is not on any trust list we load.
    present, manifest_json, warnings = read_c2pa(corpus("c2pa-sora.mp4"), "mp4")
    assert manifest_json is not None
    codes = {s["code"] for s in manifest_json["validation_status"]}
    assert "signingCredential.untrusted" in codes
    assert not any("signingCredential" in w for w in warnings)


def test_camera_manifest_is_provenance_not_ai():
    present, manifest_json, warnings = read_c2pa(corpus("c2pa-camera-capture.jpg"), "jpeg")
    assert present and manifest_json["claim_generator"].startswith("Truepic")
    assert any("dataHash.mismatch" in w for w in warnings)
    assert c2pa_detector.detect(meta_with(manifest_json, format="jpeg")) is None


@pytest.mark.parametrize("name, fmt", [
    ("photo-no-manifest.jpg", "jpeg"), ("camera-canon-40d.jpg", "jpeg"),
    ("camera-iphone.heic", "heic"), ("tiny-no-metadata.png", "png"), ("bad-empty-file.png", "png"),
])
def test_files_without_a_store_are_not_present(name, fmt):
    assert read_c2pa(corpus(name), fmt) == (False, None, [])


def test_firefly_ingredient_manifests_travel_with_the_active_one():
    _, manifest_json, _ = read_c2pa(corpus("c2pa-firefly-generative-fill.jpg"), "jpeg")
    assert len(manifest_json["ingredient_manifests"]) == 1


# --- damaged and hostile input ------------------------------------------------

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_garbage_store_is_reported_present_but_unreadable(tmp_path):
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"caBX", b"\x00\x00\x00\x10jumbgarbage!")
            + png_chunk(b"IDAT", zlib.compress(b"\x00\x00")) + png_chunk(b"IEND", b""))
    path = tmp_path / "fake.png"
    path.write_bytes(data)
    present, manifest_json, warnings = read_c2pa(path, "png")
    assert present is True and manifest_json is None
    assert warnings and "unreadable" in warnings[0]


def test_oversized_store_is_not_handed_to_the_reader(tmp_path):
    # A caBX chunk header claiming 1 GB: we must refuse by the header, without reading it.
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 1 << 30) + b"caBX" + b"\x00" * 64
    path = tmp_path / "huge.png"
    path.write_bytes(data)
    present, manifest_json, warnings = read_c2pa(path, "png")
    assert present and manifest_json is None and "limit" in warnings[0]


@pytest.mark.parametrize("cut", [10, 1000, 50_000])
def test_truncated_c2pa_files_never_raise(tmp_path, cut):
    for name, fmt in (("c2pa-amazon-titan.png", "png"), ("c2pa-sora.mp4", "mp4"),
                      ("c2pa-firefly-generative-fill.jpg", "jpeg")):
        path = tmp_path / name
        path.write_bytes(corpus(name).read_bytes()[:cut])
        present, manifest_json, warnings = read_c2pa(path, fmt)
        assert isinstance(present, bool) and isinstance(warnings, list)


def test_missing_file_is_a_warning_not_an_exception(tmp_path):
    present, manifest_json, warnings = read_c2pa(tmp_path / "gone.png", "png")
    assert (present, manifest_json) == (False, None) and warnings


# --- generators we have no signed sample of -----------------------------------

@pytest.mark.parametrize("m, tool", [
    (manifest("ChatGPT", agent={"name": "GPT-4o"}, source_type=IPTC + "trainedAlgorithmicMedia",
              issuer="OpenAI"), "openai"),
    # 2024 DALL-E manifests: no digitalSourceType, the product name is enough
    (manifest(None, agent="DALL·E", claim_generator="DALL·E openai-c2pa/1.0"), "openai"),
    (manifest("Google C2PA Core Generator Library", source_type="https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
              description="Created by Google Generative AI"), "google"),
    (manifest("Black Forest Labs API", source_type=IPTC + "trainedAlgorithmicMedia"), "flux"),
    (manifest("Microsoft Responsible AI Image Provenance"), "microsoft"),
    (manifest("Samsung Galaxy S25 Ultra", agent="Galaxy AI", action="c2pa.edited",
              source_type=IPTC + "compositeWithTrainedAlgorithmicMedia"), "samsung"),
    (manifest("Adobe_Firefly"), "firefly"),
    (manifest("SomeNewStartup Generator", source_type=IPTC + "trainedAlgorithmicMedia"), "ai-unknown"),
])
def test_generators_from_hand_made_manifests(m, tool):
    result = c2pa_detector.detect(meta_with(m))
    assert result is not None and result.ai is True and result.tool == tool
    assert any(e.startswith("c2pa:") for e in result.evidence)


@pytest.mark.parametrize("m", [
    manifest("Google C2PA Core Generator Library", source_type=IPTC + "digitalCapture"),  # a Pixel photo
    manifest("Samsung Galaxy S25 Ultra"),
    manifest("Leica M11-P", source_type=IPTC + "digitalCapture"),
    manifest("Some fractal renderer", source_type=IPTC + "algorithmicMedia"),
    # an explicit capture source type wins over a generator's name
    manifest("Adobe_Firefly", source_type=IPTC + "digitalCapture"),
    manifest("Camera app", issuer="OpenAI"),   # a signer name alone does not make content AI
    manifest("X", source_type="https://example.com/digitalsourcetype/trainedAlgorithmicMedia"),
])
def test_non_generative_manifests_are_not_ai(m):
    assert c2pa_detector.detect(meta_with(m)) is None


def test_edit_of_an_ai_ingredient_is_ai():
    edit = manifest("Adobe_Photoshop/26.0", action="c2pa.cropped")
    edit["ingredient_manifests"] = [manifest("ChatGPT", source_type=IPTC + "trainedAlgorithmicMedia")]
    result = c2pa_detector.detect(meta_with(edit))
    assert result.tool == "openai" and "c2pa:ingredient:digital_source_type=trainedAlgorithmicMedia" in result.evidence


def test_veo_video_named_by_its_encoder_tag():
    m = manifest("c2pa-rs", source_type=IPTC + "trainedAlgorithmicMedia")
    result = c2pa_detector.detect(meta_with(m, format="mp4", media="video", video_tags={"encoder": "Google"}))
    assert result.tool == "google" and "mp4:encoder=Google" in result.evidence


@pytest.mark.parametrize("bad", [
    {}, {"assertions": "nope"}, {"assertions": [None, 3, {"label": "c2pa.actions", "data": []}]},
    {"assertions": [{"label": "c2pa.actions", "data": {"actions": [{"digitalSourceType": 5, "softwareAgent": [1]}]}}]},
    {"claim_generator_info": "x", "signature_info": [], "ingredient_manifests": [None, "x"]},
])
def test_malformed_manifests_do_not_raise(bad):
    assert c2pa_detector.detect(meta_with(bad)) is None


def test_present_but_unreadable_is_not_ai_by_itself():
    assert c2pa_detector.detect(Metadata(path=None, format="png", media="image", c2pa_present=True)) is None


# --- validation failures that make the reader refuse the store ------------------

def test_store_refused_by_validation_is_read_without_it(monkeypatch):
    from alice.pipeline.extract import c2pa as extract_c2pa

    real = extract_c2pa._read_store

    def refuse_when_verifying(f, mime, verify):
        if verify:
            raise RuntimeError("Signature: COSE error parsing certificate")
        return real(f, mime, verify)

    monkeypatch.setattr(extract_c2pa, "_read_store", refuse_when_verifying)
    present, manifest_json, warnings = read_c2pa(corpus("c2pa-amazon-titan.png"), "png")
    assert present and manifest_json["claim_generator"].startswith("Amazon_Bedrock")
    assert any("read without validation" in w and "COSE" in w for w in warnings)


# --- mutated real files: the native reader must never take the process down ----

C2PA_FILES = [("c2pa-amazon-titan.png", "png"), ("c2pa-firefly-generative-fill.jpg", "jpeg"),
              ("c2pa-sora.mp4", "mp4"), ("c2pa-camera-capture.jpg", "jpeg")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(C2PA_FILES),
       flips=st.lists(st.tuples(st.integers(0, 300_000), st.integers(0, 255)), min_size=1, max_size=30),
       cut=st.one_of(st.none(), st.integers(0, 2_000_000)))
def test_mutated_c2pa_files_never_raise(tmp_path, which, flips, cut):
    name, fmt = which
    data = bytearray(corpus(name).read_bytes())
    for pos, value in flips:
        data[pos % len(data)] = value
    path = tmp_path / f"mutated.{fmt}"
    path.write_bytes(bytes(data[:cut] if cut is not None else data))
    present, manifest_json, warnings = read_c2pa(path, fmt)
    assert isinstance(present, bool) and all(isinstance(w, str) for w in warnings)
    assert manifest_json is None or present
    if manifest_json is not None:
        c2pa_detector.detect(meta_with(manifest_json, format=fmt))


# --- presence checks for containers we have no signed sample of -----------------

def webp_with_c2pa() -> bytes:
    vp8l = b"\x2f" + (0).to_bytes(4, "little") + b"\x00" * 4
    chunks = b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l + b"\x00" + b"C2PA" + struct.pack("<I", 8) + b"jumbjunk"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def jpeg_with_app11() -> bytes:
    jumbf = b"JP\x00\x01\x00\x00\x00\x01" + struct.pack(">I", 24) + b"jumb" + b"\x00" * 4 + b"jumdc2pa"
    return b"\xff\xd8" + b"\xff\xeb" + struct.pack(">H", 2 + len(jumbf)) + jumbf + b"\xff\xd9"


def bmff_with_uuid() -> bytes:
    uuid = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
    return (struct.pack(">I", 16) + b"ftypisom\x00\x00\x02\x00"
            + struct.pack(">I", 8 + 16 + 8) + b"uuid" + uuid + b"notjumbf")


@pytest.mark.parametrize("data, fmt", [(webp_with_c2pa(), "webp"), (jpeg_with_app11(), "jpeg"),
                                       (bmff_with_uuid(), "mp4"), (bmff_with_uuid(), "heic")])
def test_presence_is_seen_in_every_container(tmp_path, data, fmt):
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(data)
    present, manifest_json, warnings = read_c2pa(path, fmt)
    assert present is True and manifest_json is None and warnings


@pytest.mark.parametrize("fmt", ["gif", "tiff", "unknown"])
def test_formats_without_c2pa_support_are_not_read(tmp_path, fmt):
    path = tmp_path / "x.bin"
    path.write_bytes(jpeg_with_app11())
    assert read_c2pa(path, fmt) == (False, None, [])


def test_a_worker_forked_after_its_parent_read_c2pa_validates_the_same():
    # c2pa refuses a Context built before a fork ("Context is not valid"); a forked reader (the
    # `alice inspect` workers, the ingest pool) must validate as its parent does, not fall back.
    import os

    path = corpus("c2pa-firefly-generative-fill.jpg")
    in_parent = read_c2pa(path, "jpeg")
    assert in_parent[1] is not None and in_parent[1]["validation_state"] == "Valid"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_end, json.dumps(read_c2pa(path, "jpeg")).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        in_child = json.loads(answer.read())
    os.waitpid(pid, 0)
    assert in_child == json.loads(json.dumps(in_parent))


def test_c2pa_loaded_without_its_version_lookup_reads_the_same():
    # load_c2pa skips importlib.metadata only in a fresh single-threaded process (pytest has
    # imported it long ago), so both ways run in fresh interpreters and must agree.
    import subprocess
    import sys

    path = corpus("c2pa-firefly-generative-fill.jpg")
    code = ("import json, sys\nfrom pathlib import Path\n"
            "from alice.pipeline.extract.c2pa import load_c2pa, read_c2pa\n"
            "{first}\nskipped = 'importlib.metadata' not in sys.modules\n"
            f"read = read_c2pa(Path({str(path)!r}), 'jpeg')\n"
            "import importlib.metadata\n"        # still importable afterwards: nothing left marked missing
            "print(json.dumps([skipped, read]))")
    lean, plain = (json.loads(subprocess.run([sys.executable, "-c", code.format(first=first)], capture_output=True,
                                             text=True, check=True).stdout)
                   for first in ("load_c2pa()", "import importlib.metadata"))
    assert lean[0] is True and plain[0] is False
    assert lean[1] == plain[1] and lean[1][1]["validation_state"] == "Valid"
