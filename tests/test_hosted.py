"""Hosted generators without C2PA: Midjourney, Grok, Ideogram, the Chinese AIGC label.

No corpus samples exist for these, so the tests build Metadata the way the
extractor fills it, plus a few real files through extract() to tie the two.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from alice.pipeline.detect import aigc_cn, grok, ideogram, midjourney
from alice.pipeline.metadata import Metadata

JOB = "8d5b7f4e-1c2d-4e5f-9a8b-0123456789ab"
MJ_XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
          '<rdf:Description rdf:about="" xmlns:iptcExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
          f'iptcExt:DigImageGUID="{JOB}" iptcExt:DigitalSourceType='
          '"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>')
TC260 = "http://www.tc260.org.cn/ns/AIGC/1.0/"


def png_meta(text: dict[str, str] | None = None, **kw) -> Metadata:
    return Metadata(path=kw.pop("path", None), format="png", media="image", text=text or {}, **kw)


def tc260_xmp(label: dict | str) -> str:
    value = json.dumps(label) if isinstance(label, dict) else label
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:TC260="{TC260}" TC260:AIGC="{value}"/></rdf:RDF></x:xmpmeta>')


# --- Midjourney ---------------------------------------------------------------

def test_midjourney_png_chunks():
    meta = png_meta({"Author": "someone", "Creation Time": "2024-04-05T12:34:56.789Z",
                     "Description": f"a red fox in snow, cinematic --ar 16:9 --v 6.1 --seed 1234 --no people "
                                    f"--stylize 250 Job ID: {JOB}",
                     "XML:com.adobe.xmp": MJ_XMP}, width=1456, height=816)
    result = midjourney.detect(meta)
    assert (result.tool, result.ai) == ("midjourney", True)
    g = result.generation
    assert g.prompt == "a red fox in snow, cinematic"
    assert (g.seed, g.model, g.negative_prompt) == (1234, "midjourney v6.1", "people")
    assert (g.width, g.height, g.created_at) == (1456, 816, "2024-04-05T12:34:56.789000+00:00")
    assert result.raw["job_id"] == JOB and result.raw["aspect_ratio"] == "16:9"
    assert result.raw["params"]["stylize"] == "250"
    assert {"png:text:Description=Job ID", "png:text:Author", "xmp:iptc:DigImageGUID"} <= set(result.evidence)


def test_midjourney_niji_and_rfc2822_date():
    meta = png_meta({"Author": "u", "Creation Time": "Fri, 29 Mar 2024 17:35:43 GMT",
                     "Description": "anime girl --niji 6 --style raw"})
    result = midjourney.detect(meta)
    assert result.generation.model == "niji 6" and result.generation.created_at.startswith("2024-03-29T17:35:43")


def test_midjourney_jpeg_description_in_exif():
    meta = Metadata(path=None, format="jpeg", media="image",
                    exif={"ImageDescription": f"castle --v 7 Job ID: {JOB}"})
    result = midjourney.detect(meta)
    assert result.tool == "midjourney" and result.generation.prompt == "castle"
    assert result.evidence[0] == "exif:Description=Job ID"


def test_midjourney_discord_filename_with_ai_xmp():
    meta = png_meta({"XML:com.adobe.xmp": MJ_XMP}, path=Path(f"bob_a_red_fox_in_snow_{JOB}.png"))
    assert midjourney.detect(meta).tool == "midjourney"


@pytest.mark.parametrize("meta", [
    png_meta({"Description": "my holiday photo"}),
    png_meta({"Description": "flags --verbose --ar is not a midjourney prompt"}),   # no author, no job
    png_meta({"Author": "Jane", "Description": "a landscape"}),
    png_meta({"XML:com.adobe.xmp": MJ_XMP}, path=Path("photo.png")),     # AI, but nothing says Midjourney
    png_meta({}, path=Path(f"bob_a_red_fox_{JOB}.png")),                  # a name alone is not evidence
])
def test_not_midjourney(meta):
    assert midjourney.detect(meta) is None


def test_midjourney_wrong_types_do_not_raise():
    meta = png_meta({"Author": "u", "Description": f"x --seed banana --v  Job ID: {JOB}"},
                    exif={"ImageDescription": 12})
    result = midjourney.detect(meta)
    assert result.generation.seed is None and result.generation.prompt == "x"


# --- Grok -------------------------------------------------------------------------

def test_grok_signature_and_artist_uuid():
    meta = Metadata(path=None, format="jpeg", media="image",
                    exif={"ImageDescription": "Signature: dGhpcyBpcyBhIHNpZ25hdHVyZSBvZiBncm9r==",
                          "Artist": "0f8fad5b-d9cb-469f-a165-70867728950e"})
    result = grok.detect(meta)
    assert (result.tool, result.ai) == ("grok", True)
    assert result.evidence == ["exif:ImageDescription=Signature:", "exif:Artist=uuid"]
    assert result.raw["artist"] == "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.parametrize("exif", [
    {"ImageDescription": "Signature: short"}, {"ImageDescription": "A Signature: dGhpcyBpcyBhIHNpZ25h"},
    {"Artist": "0f8fad5b-d9cb-469f-a165-70867728950e"}, {"ImageDescription": b"\x00\x01"}, {},
])
def test_not_grok(exif):
    assert grok.detect(Metadata(path=None, format="jpeg", media="image", exif=exif)) is None


# --- Ideogram -----------------------------------------------------------------------

def test_ideogram_make():
    meta = Metadata(path=None, format="jpeg", media="image", width=1024, height=1024,
                    exif={"Make": "Ideogram AI", "Model": "Ideogram 3.0", "DateTime": "2025:02:03 04:05:06"})
    result = ideogram.detect(meta)
    assert (result.tool, result.generation.model) == ("ideogram", "Ideogram 3.0")
    assert result.evidence == ["exif:Make=Ideogram AI"] and result.generation.created_at == "2025-02-03T04:05:06"


@pytest.mark.parametrize("make", ["Canon", "Ideogram", None, 5, "Ideogram AI fan club"])
def test_not_ideogram(make):
    assert ideogram.detect(Metadata(path=None, format="jpeg", media="image", exif={"Make": make})) is None


# --- TC260 AIGC label -------------------------------------------------------------

def test_aigc_xmp_label_with_unknown_producer_code():
    label = {"Label": "1", "ContentProducer": "001191110108MA01KP2T5U00000", "ProduceID": "abc123",
             "ReservedCode1": "x", "ContentPropagator": "", "PropagateID": ""}
    result = aigc_cn.detect(Metadata(path=None, format="jpeg", media="image", xmp=tc260_xmp(label)))
    assert (result.tool, result.ai) == ("aigc-cn", True)
    assert result.evidence[0] == "xmp:TC260:AIGC:Label=1" and result.raw["ProduceID"] == "abc123"


@pytest.mark.parametrize("producer, tool", [("Kling AI", "kling"), ("快手可灵", "kling"), ("MiniMax Hailuo", "hailuo")])
def test_aigc_producer_names_the_tool(producer, tool):
    meta = Metadata(path=None, format="png", media="image", xmp=tc260_xmp({"Label": 1, "ContentProducer": producer}))
    assert aigc_cn.detect(meta).tool == tool


def test_aigc_label_values_outside_the_standard_are_not_ai():
    assert aigc_cn.detect(Metadata(path=None, format="png", media="image", xmp=tc260_xmp({"Label": "0"}))) is None


def test_aigc_malformed_json_is_a_warning():
    meta = Metadata(path=None, format="png", media="image", xmp=tc260_xmp("{not json"))
    assert aigc_cn.detect(meta) is None and "not a JSON object" in meta.warnings[0]


def test_aigc_in_png_text_chunk():
    meta = png_meta({"AIGC": json.dumps({"Label": "2", "ContentProducer": "Doubao"})})
    result = aigc_cn.detect(meta)
    assert result.tool == "aigc-cn" and result.evidence[0] == "png:text:AIGC:Label=2"


def test_aigc_label_in_a_real_mp4(tmp_path):
    from alice.pipeline.detect import detect
    from alice.pipeline.extract import extract

    path = tmp_path / "kling.mp4"
    label = json.dumps({"Label": "1", "ContentProducer": "Kling", "ProduceID": "p1"})
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "color=c=red:s=64x48:d=0.1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-movflags", "use_metadata_tags", "-metadata", f"AIGC={label}", str(path)],
                   check=True, timeout=60)
    result = detect(extract(path))
    assert (result.tool, result.ai) == ("kling", True)
    assert "mp4:AIGC:Label=1" in result.evidence


# --- end to end through extract(): a Midjourney-style PNG ----------------------------

def test_midjourney_png_end_to_end(tmp_path):
    from alice.pipeline.detect import detect
    from alice.pipeline.extract import extract

    info = PngInfo()
    info.add_text("Author", "someone")
    info.add_text("Description", f"lighthouse at dusk --ar 3:2 --v 6 Job ID: {JOB}")
    info.add_text("XML:com.adobe.xmp", MJ_XMP)
    path = tmp_path / "mj.png"
    Image.new("RGB", (30, 20)).save(path, pnginfo=info)
    result = detect(extract(path))
    assert (result.tool, result.generation.prompt, result.generation.width) == ("midjourney", "lighthouse at dusk", 30)
