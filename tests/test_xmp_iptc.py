"""XMP reading and the IPTC DigitalSourceType / credit-line detector."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from alice.pipeline.detect import iptc
from alice.pipeline.detect.source_type import is_generative, source_type_term
from alice.pipeline.extract.xmp import packet_of, read_xmp
from alice.pipeline.metadata import Metadata

EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def packet(description: str, *, attrs: str = "", ns: str = "") -> str:
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="{EXT}" '
            'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/" {ns} {attrs}>{description}</rdf:Description>'
            '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def meta_xmp(xmp: str | None, **kw) -> Metadata:
    return Metadata(path=None, format=kw.pop("format", "jpeg"), media="image", xmp=xmp, **kw)


# --- the XMP reader -----------------------------------------------------------

def test_attribute_element_resource_and_alt_forms():
    props = read_xmp(packet(
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{DST}trainedAlgorithmicMedia"/>'
        '<photoshop:Credit>Made with Google AI</photoshop:Credit>'
        '<dc:description><rdf:Alt><rdf:li xml:lang="fr">chat</rdf:li>'
        '<rdf:li xml:lang="x-default">a cat &amp; a dog</rdf:li></rdf:Alt></dc:description>',
        attrs='xmp:CreatorTool="Tool &quot;X&quot;"'))
    assert props["Iptc4xmpExt:DigitalSourceType"] == DST + "trainedAlgorithmicMedia"
    assert props["photoshop:Credit"] == "Made with Google AI"
    assert props["dc:description"] == "a cat & a dog"
    assert props["xmp:CreatorTool"] == 'Tool "X"'


def test_properties_are_keyed_by_namespace_not_prefix():
    xmp = packet("", ns=f'xmlns:iptcExt="{EXT}"', attrs='iptcExt:DigImageGUID="abc"')
    assert read_xmp(xmp)["Iptc4xmpExt:DigImageGUID"] == "abc"


def test_unknown_namespaces_are_ignored():
    xmp = packet("<foo:Bar>1</foo:Bar>", ns='xmlns:foo="http://example.com/foo/"')
    assert not any(k.startswith("foo") for k in read_xmp(xmp))


def test_damaged_packet_falls_back_to_regex():
    xmp = packet(f'<Iptc4xmpExt:DigitalSourceType>{DST}compositeWithTrainedAlgorithmicMedia'
                 '</Iptc4xmpExt:DigitalSourceType><photoshop:Credit>Made with Google AI')[:-60]
    props = read_xmp(xmp)
    assert props["Iptc4xmpExt:DigitalSourceType"].endswith("compositeWithTrainedAlgorithmicMedia")


def test_entity_expansion_is_refused_quickly():
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{i} "{"&lol%s;" % (i - 1 if i > 1 else "") * 10}">' for i in range(1, 10))
            + ']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>')
    start = time.monotonic()
    assert "lol" not in str(dict(read_xmp(bomb)))
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize("value", [None, "", "   ", "no xml here", b"\xff\xfe\x00<", "<" * 10, "<a><b></a>"])
def test_junk_gives_an_empty_mapping(value):
    assert dict(read_xmp(value)) == {}


def test_huge_packet_is_capped():
    huge = packet("<photoshop:Credit>x</photoshop:Credit>") + " " * (9 * 1024 * 1024)
    start = time.monotonic()
    assert read_xmp(huge)["photoshop:Credit"] == "x"
    assert time.monotonic() - start < 5


def test_packet_from_png_text_chunk():
    meta = Metadata(path=None, format="png", media="image", text={"XML:com.adobe.xmp": "<x/>"})
    assert packet_of(meta) == "<x/>"


# --- digital source type vocabulary ------------------------------------------

@pytest.mark.parametrize("value, generative", [
    (DST + "trainedAlgorithmicMedia", True),
    ("https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia", True),
    (DST + "compositeWithTrainedAlgorithmicMedia", True),
    ("trainedAlgorithmicMedia", True),
    (DST + "algorithmicMedia", False), (DST + "digitalCapture", False), (DST + "compositeSynthetic", False),
    ("http://example.com/trainedAlgorithmicMedia", False), (None, False), (42, False),
])
def test_generative_source_types(value, generative):
    assert is_generative(value) is generative


def test_source_type_term():
    assert source_type_term(DST + "digitalCapture/") == "digitalCapture"


# --- the detector ---------------------------------------------------------------

@pytest.mark.parametrize("term", ["trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"])
def test_generative_source_type_without_a_tool_is_ai_unknown(term):
    result = iptc.detect(meta_xmp(packet("", attrs=f'Iptc4xmpExt:DigitalSourceType="{DST}{term}"')))
    assert (result.tool, result.ai) == ("ai-unknown", True)
    assert result.evidence == [f"xmp:iptc:DigitalSourceType={term}"]


@pytest.mark.parametrize("term", ["algorithmicMedia", "digitalCapture", "negativeFilm", "minorHumanEdits"])
def test_other_source_types_are_not_ai(term):
    assert iptc.detect(meta_xmp(packet("", attrs=f'Iptc4xmpExt:DigitalSourceType="{DST}{term}"'))) is None


def test_google_credit_line_names_the_tool():
    xmp = packet("<photoshop:Credit>Made with Google AI</photoshop:Credit>",
                 attrs=f'Iptc4xmpExt:DigitalSourceType="{DST}trainedAlgorithmicMedia"')
    result = iptc.detect(meta_xmp(xmp))
    assert result.tool == "google" and "xmp:photoshop:Credit=Made with Google AI" in result.evidence


def test_google_credit_alone_is_enough():
    result = iptc.detect(meta_xmp(packet("<photoshop:Credit>Edited with Google AI</photoshop:Credit>")))
    assert (result.tool, result.ai) == ("google", True)


def test_a_photographer_credit_is_not_ai():
    assert iptc.detect(meta_xmp(packet("<photoshop:Credit>Photo by Google Street View</photoshop:Credit>"))) is None


def test_creator_tool_names_the_generator():
    xmp = packet("", attrs=f'Iptc4xmpExt:DigitalSourceType="{DST}trainedAlgorithmicMedia" '
                           'xmp:CreatorTool="Adobe Firefly" xmp:CreateDate="2024-05-06T07:08:09Z"')
    result = iptc.detect(meta_xmp(xmp))
    assert result.tool == "firefly" and result.generation.created_at == "2024-05-06T07:08:09+00:00"


def test_no_xmp_no_detection():
    assert iptc.detect(meta_xmp(None)) is None
    assert iptc.detect(meta_xmp(packet("", attrs='xmp:CreatorTool="Adobe Photoshop 25.0"'))) is None


# --- through the real extractor (XMP in each container) ------------------------

@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG"])
def test_xmp_in_each_container_end_to_end(tmp_path: Path, fmt):
    from alice.pipeline.detect import detect
    from alice.pipeline.extract import extract

    xmp = packet("", attrs='Iptc4xmpExt:DigitalSourceType="https://cv.iptc.org/newscodes/digitalsourcetype/'
                           'trainedAlgorithmicMedia"')
    path = tmp_path / f"x.{fmt.lower()}"
    if fmt == "PNG":
        info = PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp)
        Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    else:
        Image.new("RGB", (8, 8)).save(path, fmt, xmp=xmp.encode())
    result = detect(extract(path))
    assert (result.tool, result.ai) == ("ai-unknown", True)
